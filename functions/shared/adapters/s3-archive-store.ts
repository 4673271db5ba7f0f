import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
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

  async upload(
    key: string,
    body: NodeJS.ReadableStream,
    options: { contentType: string; retainUntil: Date },
  ): Promise<void> {
    try {
      await new Upload({
        client: this.client,
        // 8 MiB parts, 2 in flight: memory stays ~16 MiB whatever the export's size.
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: body as Readable,
          ContentType: options.contentType,
          ChecksumAlgorithm: "SHA256",
          ObjectLockMode: "COMPLIANCE",
          ObjectLockRetainUntilDate: options.retainUntil,
        },
      }).done();
    } catch (err: unknown) {
      translateStorageError(err, "archive upload");
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
