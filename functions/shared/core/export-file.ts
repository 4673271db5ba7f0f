import { createHash } from "node:crypto";
import { type EvidenceFrame, type ExportFormat, PartEncoder } from "../export-formats.js";
import type { ArchiveStore, FileCheckpoint, ObjectOptions, Position, UploadedPart } from "../ports.js";
import type { StoredEvent } from "../schemas/event.js";

/** S3's smallest part (all but the last); exports use 8 MiB. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/**
 * S3 allows 10,000 parts; the checkpoint (parts list, ~130 bytes a part) lives in one DynamoDB item
 * (400 KB). 2,500 leaves room for the rest of the job; at 8 MiB that is a 19.5 GiB file.
 */
export const MAX_PARTS = 2_500;

/** The file would need more parts than a checkpoint can hold: retrying cannot help. */
export class ExportTooLargeError extends Error {}

export type FileResult =
  | {
      status: "written";
      /** "exists" when the key already held an object (a write-once rerun). */
      put: "created" | "exists";
      eventCount: number;
      bytes: number;
      /** Hex SHA-256 of the whole file as stored. */
      sha256: string;
      /**
       * Hex SHA-256 of the bytes this run produced, when one invocation produced them all: on a
       * rerun ("exists") it tells whether the stored file is the same.
       */
      producedSha256?: string;
    }
  | { status: "stopped"; checkpoint: FileCheckpoint };

export interface WriteFileOptions extends ObjectOptions {
  archive: ArchiveStore;
  key: string;
  format: ExportFormat;
  gzip: boolean;
  /** Events in file order, starting after `resume.lastKey` when resuming. */
  events: AsyncIterable<StoredEvent>;
  /** The store's position of an event: what a checkpoint records to resume after. */
  positionOf: (event: StoredEvent) => Position;
  resume?: FileCheckpoint;
  partBytes?: number;
  /** The fixed lines of an evidence bundle (format "evidence"). */
  frame?: EvidenceFrame;
  /** Called with every event written (the nightly manifest's Merkle tree). */
  onEvent?: (event: StoredEvent) => void;
  /**
   * Called after each uploaded part with the new checkpoint (persist it there); "stop" hands the
   * rest to a later invocation, which passes the checkpoint back as `resume`.
   */
  afterPart?: (checkpoint: FileCheckpoint) => Promise<"continue" | "stop">;
}

/**
 * Writes one export file, write-once, in constant memory: events → {@link PartEncoder} → parts of a
 * multipart upload, each with its SHA-256 checked by the store. A file smaller than one part is a
 * single conditional PutObject. Completion is conditional too (`If-None-Match: *`), so a rerun
 * never makes a second version.
 *
 * The file's SHA-256 is hashed on the way when one invocation wrote it all; a resumed file is read
 * back once and hashed, since a hash's state cannot be carried from one invocation to the next.
 */
export async function writeExportFile(options: WriteFileOptions): Promise<FileResult> {
  const { archive, key, resume } = options;
  const object = { contentType: options.contentType, retainUntil: options.retainUntil };
  const partBytes = Math.max(options.partBytes ?? DEFAULT_PART_BYTES, MIN_PART_BYTES);
  const encoder = new PartEncoder(
    options.format,
    options.gzip,
    partBytes,
    resume?.eventCount ?? 0,
    undefined,
    options.frame,
  );
  const hash = resume ? undefined : createHash("sha256");
  const parts: UploadedPart[] = [...(resume?.parts ?? [])];
  let uploadId = resume?.uploadId;
  let lastKey: Position | "" = resume?.lastKey ?? "";
  // A run that died after completing the upload: the file is stored. Count the events after the
  // checkpoint (at most one part's worth) and hash what is stored; upload nothing.
  const completedBefore = resume !== undefined && (await archive.head(key)) !== undefined;

  const upload = async (body: Buffer) => {
    if (parts.length >= MAX_PARTS) {
      throw new ExportTooLargeError(
        `the export is larger than ${MAX_PARTS} parts of ${partBytes / 2 ** 20} MiB; narrow its filters`,
      );
    }
    uploadId ??= await archive.startUpload(key, object);
    hash?.update(body);
    parts.push(await archive.uploadPart(key, uploadId, parts.length + 1, body));
  };

  for await (const event of options.events) {
    options.onEvent?.(event);
    lastKey = options.positionOf(event);
    const part = encoder.add(event);
    if (!part || completedBefore) continue;
    await upload(part);
    const checkpoint = {
      uploadId: uploadId as string,
      parts: [...parts],
      lastKey,
      eventCount: encoder.eventCount,
    };
    if ((await options.afterPart?.(checkpoint)) === "stop") return { status: "stopped", checkpoint };
  }

  const last = encoder.end();
  const eventCount = encoder.eventCount;
  let put: "created" | "exists";
  if (completedBefore) {
    put = "created";
  } else if (uploadId) {
    if (last.length > 0) await upload(last);
    put = await archive.completeUpload(key, uploadId, parts, object);
    if (put === "exists") await archive.abortUpload(key, uploadId);
  } else {
    // The whole file fits in one part: one conditional put.
    hash?.update(last);
    put = await archive.putOnce(key, last, object);
  }
  const producedSha256 = hash?.digest("hex");
  const produced = uploadId ? parts.reduce((n, p) => n + p.bytes, 0) : last.length;
  if (put === "created" && producedSha256) {
    return { status: "written", put, eventCount, bytes: produced, sha256: producedSha256, producedSha256 };
  }
  // Resumed (no running hash), or the key was already taken: hash what is stored.
  const stored = await digestObject(archive, key);
  return { status: "written", put, eventCount, bytes: stored.bytes, sha256: stored.sha256, producedSha256 };
}

/** SHA-256 and size of a stored object, streamed. */
export async function digestObject(
  archive: ArchiveStore,
  key: string,
): Promise<{ sha256: string; bytes: number }> {
  const object = await archive.read(key);
  if (!object) throw new Error(`${key} is not stored`);
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of object.body) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}
