import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ArchiveStore, ObjectOptions } from "../../functions/shared/ports.js";

/** One ArchiveStore under test. */
export interface ArchiveStoreSubject {
  archive: ArchiveStore;
  /** A key prefix no other test writes under (the bucket is shared, and nothing in it can be deleted). */
  prefix: string;
  cleanup(): Promise<void>;
}

/** S3's smallest part for all parts but the last. */
const MIN_PART = 5 * 1024 * 1024;
/** A fixed date ahead of any clock: the contract never reads the real time. */
const options: ObjectOptions = {
  contentType: "application/octet-stream",
  retainUntil: new Date("2099-01-01T00:00:00Z"),
};

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The ArchiveStore port's documented behaviour (functions/shared/ports.ts): write-once puts and
 * multipart uploads (a taken key answers "exists" and keeps its first bytes), reads of absent keys,
 * and uploads that were aborted.
 */
export function archiveStoreContract(name: string, factory: () => Promise<ArchiveStoreSubject>): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let s: ArchiveStoreSubject;
    let n = 0;
    const key = (label: string) => `${s.prefix}${label}-${++n}`;
    beforeEach(async () => {
      s = await factory();
    });
    afterEach(async () => {
      await s.cleanup();
    });

    it("puts a key once: a second put answers exists and the first bytes stay", async () => {
      // Prepare
      const k = key("tile");
      const first = Buffer.from("first bytes");

      // Act
      const outcomes = [
        await s.archive.putOnce(k, first, options),
        await s.archive.putOnce(k, Buffer.from("other bytes, longer"), options),
      ];

      // Assert
      expect(outcomes).toEqual(["created", "exists"]);
      expect(await s.archive.get(k)).toEqual(first);
      expect(await s.archive.head(k)).toEqual({ bytes: first.length });
    });

    it("answers undefined for an absent key, from get, head and read", async () => {
      // Act
      const k = key("absent");
      const reads = [await s.archive.get(k), await s.archive.head(k), await s.archive.read(k)];

      // Assert
      expect(reads).toEqual([undefined, undefined, undefined]);
    });

    it("reads an object back whole as a stream, with its size", async () => {
      // Prepare
      const k = key("stream");
      const body = randomBytes(300 * 1024);
      await s.archive.putOnce(k, body, options);

      // Act
      const object = await s.archive.read(k);
      if (!object) throw new Error("the object was not stored");

      // Assert
      expect(object.bytes).toBe(body.length);
      expect((await collect(object.body)).equals(body)).toBe(true);
    });

    it("completes a multipart upload into the parts' bytes, each part checked by its SHA-256", async () => {
      // Prepare
      const k = key("multipart");
      const parts = [randomBytes(MIN_PART), randomBytes(1024)];
      const uploadId = await s.archive.startUpload(k, options);
      const uploaded = [
        await s.archive.uploadPart(k, uploadId, 1, parts[0] as Buffer),
        await s.archive.uploadPart(k, uploadId, 2, parts[1] as Buffer),
      ];

      // Act
      const outcome = await s.archive.completeUpload(k, uploadId, uploaded, options);

      // Assert
      expect(outcome).toBe("created");
      expect(uploaded).toEqual(
        parts.map((p, i) => ({
          partNumber: i + 1,
          etag: expect.stringMatching(/\S/),
          checksumSha256: createHash("sha256").update(p).digest("base64"),
          bytes: p.length,
        })),
      );
      expect((await s.archive.get(k))?.equals(Buffer.concat(parts))).toBe(true);
      expect(await s.archive.head(k)).toEqual({ bytes: MIN_PART + 1024 });
    });

    it("answers exists for an upload completed onto a taken key, which keeps its first bytes", async () => {
      // Prepare
      const k = key("race");
      const first = Buffer.from("the first run's file");
      const uploadId = await s.archive.startUpload(k, options);
      const part = await s.archive.uploadPart(k, uploadId, 1, Buffer.from("a second run's file"));
      await s.archive.putOnce(k, first, options);

      // Act
      const outcome = await s.archive.completeUpload(k, uploadId, [part], options);

      // Assert
      expect(outcome).toBe("exists");
      expect(await s.archive.get(k)).toEqual(first);
    });

    it("refuses to complete an upload whose part before the last is under 5 MiB", async () => {
      // Prepare
      const k = key("small-part");
      const uploadId = await s.archive.startUpload(k, options);
      const uploaded = [
        await s.archive.uploadPart(k, uploadId, 1, Buffer.from("too small to be a first part")),
        await s.archive.uploadPart(k, uploadId, 2, Buffer.from("last")),
      ];

      // Act
      const completed = s.archive.completeUpload(k, uploadId, uploaded, options);

      // Assert
      await expect(completed).rejects.toMatchObject({ name: "EntityTooSmall" });
      expect(await s.archive.head(k)).toBeUndefined();
    });

    it("takes no part after an upload is aborted, and an abort of an unknown upload is no error", async () => {
      // Prepare
      const k = key("abort");
      const uploadId = await s.archive.startUpload(k, options);
      const part = await s.archive.uploadPart(k, uploadId, 1, Buffer.from("part"));

      // Act
      await s.archive.abortUpload(k, uploadId);
      await s.archive.abortUpload(k, uploadId);

      // Assert: S3 answers NoSuchUpload; moto 5.x a 500, which the adapter reports as unavailable.
      await expect(s.archive.uploadPart(k, uploadId, 2, Buffer.from("more"))).rejects.toThrow();
      await expect(s.archive.completeUpload(k, uploadId, [part], options)).rejects.toThrow();
      expect(await s.archive.head(k)).toBeUndefined();
    });

    it("presigns a GET URL for the key", async () => {
      // Prepare
      const k = key("presigned");
      await s.archive.putOnce(k, Buffer.from("x"), options);

      // Act
      const url = new URL(await s.archive.presignGet(k, 600, "export.csv"));

      // Assert
      expect(decodeURIComponent(url.pathname).endsWith(`/${k}`)).toBe(true);
    });
  });
}
