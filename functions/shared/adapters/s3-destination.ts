import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { DestinationBucket, ExportDestination, OpenDestination } from "../ports.js";

/** How long one request to a customer's endpoint may take; the caller retries. */
const DESTINATION_TIMEOUT_MS = 30_000;

/**
 * A customer's S3-compatible bucket, with their credentials. One attempt per call (the delivery
 * retries with its own backoff) and a bounded wait, so a dead endpoint costs seconds, not minutes.
 */
export const openS3Destination: OpenDestination = (
  destination: ExportDestination,
  secretAccessKey: string,
): DestinationBucket => {
  const client = new S3Client({
    region: destination.region,
    ...(destination.endpoint ? { endpoint: destination.endpoint } : {}),
    forcePathStyle: destination.forcePathStyle,
    credentials: { accessKeyId: destination.accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: 5_000,
      requestTimeout: DESTINATION_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
  return {
    async put(key, body, options) {
      const isBuffer = Buffer.isBuffer(body);
      await client.send(
        new PutObjectCommand({
          Bucket: destination.bucket,
          Key: key,
          Body: isBuffer ? body : (body.body as never),
          ContentLength: isBuffer ? body.length : body.bytes,
          ContentType: options.contentType,
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: options.checksumSha256,
        }),
      );
    },
    /** True, false, or throws when the endpoint cannot say (403 to a write-only key, network). */
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: destination.bucket, Key: key }));
        return true;
      } catch (err: unknown) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) return false;
        throw err;
      }
    },
  };
};
