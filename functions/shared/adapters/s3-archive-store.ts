import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ArchiveStore } from "../ports.js";
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
      if (
        err instanceof Error &&
        (err.name === "PreconditionFailed" ||
          (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412)
      ) {
        return "exists";
      }
      translateStorageError(err, "archive put");
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
    } catch (err: unknown) {
      if (err instanceof Error && (err.name === "NoSuchKey" || err.name === "NotFound")) return undefined;
      translateStorageError(err, "archive get");
    }
  }
}
