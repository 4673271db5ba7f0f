import { createHash, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { buildEvent } from "../../functions/shared/core/events.js";
import { EXPORT_FORMATS, encodeAll, PartEncoder } from "../../functions/shared/export-formats.js";
import { MerkleAccumulator, merkleRoot } from "../../functions/shared/merkle.js";
import type { Position } from "../../functions/shared/ports.js";
import { type StoredEvent, serviceEventInputSchema } from "../../functions/shared/schemas/event.js";

const events: StoredEvent[] = Array.from({ length: 400 }, (_, i) =>
  buildEvent(
    serviceEventInputSchema.parse({
      type: "pcap.download",
      actor: { type: "user", id: i % 5 === 0 ? "=cmd" : `user-${i}` },
      sourceIp: "203.0.113.42",
      context: {
        captureId: `c-${i}`,
        sha256: "b".repeat(64),
        note: 'a "b", c\nd',
        blob: randomBytes(1500).toString("base64"),
      },
    }),
    `e-${i}`,
    new Date(Date.UTC(2026, 2, 9) + i * 1000).toISOString(),
  ),
);

/** An evidence bundle's fixed lines (what the export's first run chooses). */
const frameOf = (format: (typeof EXPORT_FORMATS)[number]) =>
  format === "evidence"
    ? { header: '{"format":"h"}', start: 7, trailer: '{"proof":[]}', lastKey: "k" as Position }
    : undefined;

/** Encodes `list` in parts, stopping after part `stopAfter` and resuming with a fresh encoder. */
function encodeInParts(
  format: (typeof EXPORT_FORMATS)[number],
  gzip: boolean,
  partSize: number,
  stopAfter: number,
) {
  const parts: Buffer[] = [];
  const block = 16 * 1024; // 1 MiB in production; small here so a small test file has many members
  let encoder = new PartEncoder(format, gzip, partSize, 0, block, frameOf(format));
  for (const event of events) {
    const part = encoder.add(event);
    if (!part) continue;
    parts.push(part);
    // A new invocation: only the count of events written so far survives.
    if (parts.length === stopAfter)
      encoder = new PartEncoder(format, gzip, partSize, encoder.eventCount, block, frameOf(format));
  }
  const last = encoder.end();
  return { parts, last };
}

describe("PartEncoder", () => {
  for (const format of EXPORT_FORMATS) {
    for (const gzip of [false, true]) {
      it(`${format}${gzip ? " gzip" : ""}: parts of at least the part size that join into the whole file, across a resume`, async () => {
        const partSize = 64 * 1024;
        const whole = await encodeAll(events, format, frameOf(format));
        const { parts, last } = encodeInParts(format, gzip, partSize, 2);
        expect(parts.length).toBeGreaterThan(2);
        for (const part of parts) expect(part.length).toBeGreaterThanOrEqual(partSize);
        const file = Buffer.concat([...parts, last]);
        expect((gzip ? gunzipSync(file) : file).toString("utf8")).toBe(whole.toString("utf8"));
        // Same events, same bytes: a rerun can tell whether a stored file is this one.
        const again = encodeInParts(format, gzip, partSize, 0);
        const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
        expect(sha(Buffer.concat([...again.parts, again.last]))).toBe(sha(file));
      });
    }
  }

  it("closes an empty file as the format's empty file", () => {
    expect(new PartEncoder("json", false, 1024).end().toString()).toBe("[]\n");
    expect(new PartEncoder("csv", false, 1024).end().toString()).toMatch(/^id,type,category,/);
    expect(gunzipSync(new PartEncoder("ndjson", true, 1024).end()).length).toBe(0);
  });
});

describe("MerkleAccumulator", () => {
  it("gives RFC 6962's root for every tree size up to 70", () => {
    const leaves = Array.from({ length: 70 }, (_, i) =>
      createHash("sha256").update(`leaf ${i}`).digest("hex"),
    );
    for (let n = 0; n <= leaves.length; n++) {
      const acc = new MerkleAccumulator();
      for (const leaf of leaves.slice(0, n)) acc.add(leaf);
      expect(acc.root(), `n = ${n}`).toBe(merkleRoot(leaves.slice(0, n)));
    }
  });
});
