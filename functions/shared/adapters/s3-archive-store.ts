import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { ArchiveStore, ObjectOptions, UploadedPart } from "../ports.js";
import { translateStorageError } from "./storage-errors.js";

/**
 * The export bucket. Every put is conditional (`If-None-Match: *`), carries an explicit SHA-256
 * checksum, and sets COMPLIANCE retention on the object itself, so a rerun can never make a second
 * version and nobody can shorten or delete what was written.
 */
export class S3ArchiveStore implements ArchiveStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async putOnce(
    key: string,
    body: Buffer,
    options: { contentType: string; retainUntil: Date },
  ): Promise<"created" | "exists"> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: createHash("sha256").update(body).digest("base64"),
          IfNoneMatch: "*",
          ObjectLockMode: "COMPLIANCE",
          ObjectLockRetainUntilDate: options.retainUntil,
        }),
      );
      return "created";
    } catch (err: unknown) {
      if (isPreconditionFailed(err)) return "exists";
      translateStorageError(err, "archive put");
    }
  }

  async startUpload(key: string, options: ObjectOptions): Promise<string> {
    try {
      const out = await this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ContentType: options.contentType,
          ChecksumAlgorithm: "SHA256",
          ObjectLockMode: "COMPLIANCE",
          ObjectLockRetainUntilDate: options.retainUntil,
        }),
      );
      if (!out.UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
      return out.UploadId;
    } catch (err: unknown) {
      translateStorageError(err, "archive upload start");
    }
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<UploadedPart> {
    const checksumSha256 = createHash("sha256").update(body).digest("base64");
    try {
      const out = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256,
        }),
      );
      if (!out.ETag) throw new Error("UploadPart returned no ETag");
      return { partNumber, etag: out.ETag, checksumSha256, bytes: body.length };
    } catch (err: unknown) {
      translateStorageError(err, "archive upload part");
    }
  }

  async completeUpload(
    key: string,
    uploadId: string,
    parts: UploadedPart[],
    options: ObjectOptions,
  ): Promise<"created" | "exists"> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          IfNoneMatch: "*",
          MultipartUpload: {
            Parts: parts.map((p) => ({
              PartNumber: p.partNumber,
              ETag: p.etag,
              ChecksumSHA256: p.checksumSha256,
            })),
          },
        }),
      );
    } catch (err: unknown) {
      if (isPreconditionFailed(err)) return "exists";
      translateStorageError(err, "archive upload complete");
    }
    await this.ensureLocked(key, options.retainUntil);
    return "created";
  }

  /**
   * S3 gives a completed multipart object the retention its CreateMultipartUpload asked for; not
   * every engine does (moto 5.2.5 drops it). Check, and set it on the version if it is missing:
   * COMPLIANCE retention can always be set or lengthened, never shortened or removed.
   */
  private async ensureLocked(key: string, retainUntil: Date): Promise<void> {
    // A date already past (a test's frozen clock) needs no lock, and S3 would refuse to set one.
    if (retainUntil.getTime() <= Date.now()) return;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const until = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
      if (head.ObjectLockMode === "COMPLIANCE" && until >= retainUntil.getTime()) return;
      await this.client.send(
        new PutObjectRetentionCommand({
          Bucket: this.bucket,
          Key: key,
          VersionId: head.VersionId,
          Retention: { Mode: "COMPLIANCE", RetainUntilDate: retainUntil },
        }),
      );
    } catch (err: unknown) {
      translateStorageError(err, "archive lock check");
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (err: unknown) {
      if (err instanceof Error && err.name === "NoSuchUpload") return;
      translateStorageError(err, "archive upload abort");
    }
  }

  async presignGet(key: string, seconds: number, downloadName: string): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${downloadName}"`,
      }),
      { expiresIn: seconds },
    );
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: out.ContentLength ?? 0 };
    } catch (err: unknown) {
      if (err instanceof Error && (err.name === "NotFound" || err.name === "NoSuchKey")) return undefined;
      translateStorageError(err, "archive head");
    }
  }

  async read(key: string): Promise<{ body: AsyncIterable<Uint8Array>; bytes: number } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { body: out.Body as AsyncIterable<Uint8Array>, bytes: out.ContentLength ?? 0 };
    } catch (err: unknown) {
      if (err instanceof Error && (err.name === "NoSuchKey" || err.name === "NotFound")) return undefined;
      translateStorageError(err, "archive read");
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const object = await this.read(key);
    if (!object) return undefined;
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of object.body) chunks.push(chunk);
    } catch (err: unknown) {
      translateStorageError(err, "archive get");
    }
    return Buffer.concat(chunks);
  }
}

function isPreconditionFailed(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === "PreconditionFailed" ||
      (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412)
  );
}
