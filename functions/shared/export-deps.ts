import { s3Client, sqsClient } from "./adapters/clients.js";
import { S3ArchiveStore } from "./adapters/s3-archive-store.js";
import { SqsExportQueue } from "./adapters/sqs-export-queue.js";
import type { Config } from "./config.js";
import type { ArchiveStore, ExportQueue } from "./ports.js";

/**
 * S3 and SQS wiring, kept out of deps.ts so that only the export functions bundle (and load at
 * cold start) the S3, multipart and SQS clients.
 */
/** The export queue, for the function that accepts export requests. */
export function exportQueue(config: Config): ExportQueue {
  if (!config.EXPORT_QUEUE_URL)
    throw new Error("invalid configuration: EXPORT_QUEUE_URL is required by this function");
  return new SqsExportQueue(sqsClient(), config.EXPORT_QUEUE_URL);
}

/** The Object Lock export bucket, for the functions that have EXPORT_BUCKET. */
export function archiveStore(config: Config): ArchiveStore {
  if (!config.EXPORT_BUCKET)
    throw new Error("invalid configuration: EXPORT_BUCKET is required by this function");
  return new S3ArchiveStore(s3Client(config.S3_FORCE_PATH_STYLE), config.EXPORT_BUCKET);
}
