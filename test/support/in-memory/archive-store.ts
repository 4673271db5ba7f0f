import { createHash, randomUUID } from "node:crypto";
import type { ArchiveStore, ObjectOptions, UploadedPart } from "../../../functions/shared/ports.js";

/** S3's smallest part, for every part of a multipart upload but the last (EntityTooSmall). */
export const IN_MEMORY_MIN_PART_BYTES = 5 * 1024 * 1024;
/** Chunk size of {@link InMemoryArchiveStore.read}'s stream. */
const READ_CHUNK_BYTES = 64 * 1024;

interface StoredObject {
  body: Buffer;
  contentType: string;
  retainUntil: Date;
}

interface Upload {
  key: string;
  options: ObjectOptions;
  parts: Map<number, { body: Buffer; etag: string; checksumSha256: string }>;
}

/** What S3 answers a request for an upload it does not hold. */
class NoSuchUpload extends Error {
  override readonly name = "NoSuchUpload";
}

const sha256 = (body: Buffer) => createHash("sha256").update(body).digest("base64");

/**
 * The Object Lock export bucket in memory. Same semantics as the S3 adapter, pinned by
 * test/contract/archive-store.ts: a key is written once (a put or a completed upload to a taken
 * key answers "exists" and leaves the first object), and nothing is ever deleted. Each object
 * keeps its retention date (see {@link retentionOf}).
 */
export class InMemoryArchiveStore implements ArchiveStore {
  private readonly objects = new Map<string, StoredObject>();
  private readonly uploads = new Map<string, Upload>();

  constructor(private readonly name = "archive") {}

  async putOnce(key: string, body: Buffer, options: ObjectOptions): Promise<"created" | "exists"> {
    if (this.objects.has(key)) return "exists";
    this.objects.set(key, { body: Buffer.from(body), ...copyOptions(options) });
    return "created";
  }

  async get(key: string): Promise<Buffer | undefined> {
    const found = this.objects.get(key);
    return found && Buffer.from(found.body);
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    const found = this.objects.get(key);
    return found && { bytes: found.body.length };
  }

  async read(key: string): Promise<{ body: AsyncIterable<Uint8Array>; bytes: number } | undefined> {
    const found = this.objects.get(key);
    if (!found) return undefined;
    const body = Buffer.from(found.body);
    async function* chunks() {
      for (let at = 0; at < body.length; at += READ_CHUNK_BYTES)
        yield body.subarray(at, at + READ_CHUNK_BYTES);
    }
    return { body: chunks(), bytes: body.length };
  }

  async startUpload(key: string, options: ObjectOptions): Promise<string> {
    const uploadId = randomUUID();
    this.uploads.set(uploadId, { key, options: copyOptions(options), parts: new Map() });
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<UploadedPart> {
    const upload = this.upload(key, uploadId);
    const checksumSha256 = sha256(body);
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    upload.parts.set(partNumber, { body: Buffer.from(body), etag, checksumSha256 });
    return { partNumber, etag, checksumSha256, bytes: body.length };
  }

  async completeUpload(
    key: string,
    uploadId: string,
    parts: UploadedPart[],
    options: ObjectOptions,
  ): Promise<"created" | "exists"> {
    const upload = this.upload(key, uploadId);
    if (this.objects.has(key)) return "exists";
    const bodies = parts.map((p, i) => {
      const stored = upload.parts.get(p.partNumber);
      if (!stored || stored.etag !== p.etag || stored.checksumSha256 !== p.checksumSha256) {
        throw Object.assign(new Error(`part ${p.partNumber} of ${key} is not the one uploaded`), {
          name: "InvalidPart",
        });
      }
      if (i > 0 && (parts[i - 1] as UploadedPart).partNumber >= p.partNumber) {
        throw Object.assign(new Error("parts must be listed in ascending order"), {
          name: "InvalidPartOrder",
        });
      }
      if (i < parts.length - 1 && stored.body.length < IN_MEMORY_MIN_PART_BYTES) {
        throw Object.assign(new Error(`part ${p.partNumber} is smaller than 5 MiB`), {
          name: "EntityTooSmall",
        });
      }
      return stored.body;
    });
    this.uploads.delete(uploadId);
    const retainUntil = new Date(
      Math.max(upload.options.retainUntil.getTime(), options.retainUntil.getTime()),
    );
    this.objects.set(key, {
      body: Buffer.concat(bodies),
      contentType: upload.options.contentType,
      retainUntil,
    });
    return "created";
  }

  async abortUpload(_key: string, uploadId: string): Promise<void> {
    this.uploads.delete(uploadId);
  }

  async presignGet(key: string, seconds: number, downloadName: string): Promise<string> {
    const url = new URL(`memory://${this.name}/${key.split("/").map(encodeURIComponent).join("/")}`);
    url.searchParams.set("expires", String(seconds));
    url.searchParams.set("download", downloadName);
    return url.toString();
  }

  /** The object's COMPLIANCE retention date (tests of the lock), or undefined when absent. */
  retentionOf(key: string): Date | undefined {
    const found = this.objects.get(key);
    return found && new Date(found.retainUntil);
  }

  private upload(key: string, uploadId: string): Upload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw new NoSuchUpload(`no upload ${uploadId} of ${key}`);
    return upload;
  }
}

function copyOptions(options: ObjectOptions): ObjectOptions {
  return { contentType: options.contentType, retainUntil: new Date(options.retainUntil) };
}
