import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { buildEvent } from "../../functions/shared/core/events.js";
import { leafDataOf } from "../../functions/shared/core/log.js";
import { serviceEventInputSchema } from "../../functions/shared/schemas/event.js";
import * as node from "../../functions/shared/tlog/merkle.js";
import * as nodeNote from "../../functions/shared/tlog/note.js";
import * as web from "../../functions/shared/tlog/web-verify.js";
import { goTlogCheck, goTlogCheckBinary, transparencyDevVectors } from "../support/go-tlog.js";

/**
 * The page's WebCrypto verifier (functions/shared/tlog/web-verify.ts) against three references:
 * transparency-dev/merkle's proof vectors, the node implementation the service signs and proves
 * with (merkle.ts, note.ts), and the independent Go checker (test/go/tlogcheck), on the same
 * checkpoints and proofs, good and tampered.
 */

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** RFC 6962 MTH of leaf hashes [lo, hi), with the node implementation. */
function mth(leaves: readonly Buffer[], lo = 0, hi = leaves.length): Buffer {
  if (hi - lo === 1) return leaves[lo] as Buffer;
  const k = node.splitPoint(hi - lo);
  return node.nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}
const spansOf = (leaves: readonly Buffer[], spans: readonly node.Span[]) =>
  spans.map(([lo, hi]) => mth(leaves, lo, hi));

function treeOf(n: number, seed = "leaf") {
  const data = Array.from({ length: n }, (_, i) => Buffer.from(`{"${seed}":${i}}`));
  const leaves = data.map((d) => node.leafHash(d));
  return { data, leaves, root: mth(leaves) };
}

function flipped(hash: Uint8Array, bit = 0): Buffer {
  const out = Buffer.from(hash);
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

interface Signer {
  name: string;
  privateKey: KeyObject;
  spki: Buffer;
  verifierKey: string;
  noteSigner: nodeNote.NoteSigner;
}

function signer(name: string): Signer {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  return {
    name,
    privateKey,
    spki,
    verifierKey: nodeNote.ecdsaVerifierKey(name, spki),
    noteSigner: {
      name,
      keyId: nodeNote.keyIdOfSpki(spki),
      sign: async (text) => sign("sha256", text, privateKey),
    },
  };
}

const vectors = await transparencyDevVectors();

describe("the web verifier on transparency-dev/merkle's vectors", () => {
  it("accepts every good vector and refuses every bad one with a VerifyError", async () => {
    // Prepare: the pinned vector set (the same files tlog-vectors.test.ts holds the node code to).
    expect(vectors.inclusion.length + vectors.consistency.length).toBeGreaterThan(180);
    const wrong: string[] = [];

    // Act
    for (const v of vectors.inclusion) {
      const got = await web
        .verifyInclusion(Number(v.leafIdx), Number(v.treeSize), v.leafHash, v.proof, v.root)
        .then(
          () => "ok",
          (err: unknown) => (err instanceof web.VerifyError ? "refused" : `threw ${String(err)}`),
        );
      if (got !== (v.wantErr ? "refused" : "ok")) wrong.push(`${v.file}: ${got}`);
    }
    for (const v of vectors.consistency) {
      const got = await web
        .verifyConsistency(Number(v.size1), Number(v.size2), v.proof, v.root1, v.root2)
        .then(
          () => "ok",
          (err: unknown) => (err instanceof web.VerifyError ? "refused" : `threw ${String(err)}`),
        );
      if (got !== (v.wantErr ? "refused" : "ok")) wrong.push(`${v.file}: ${got}`);
    }

    // Assess
    expect(wrong).toEqual([]);
  });
});

describe("the web verifier against the node implementation", () => {
  it("gives the same root for every leaf of trees of 1–40 leaves, and refuses a flipped bit as node does", async () => {
    for (let n = 1; n <= 40; n++) {
      const { leaves, root } = treeOf(n);
      for (let i = 0; i < n; i++) {
        const proof = spansOf(leaves, node.inclusionSpans(i, n));

        const got = await web.rootFromInclusion(i, n, leaves[i] as Buffer, proof);

        expect(b64(got), `leaf ${i} of ${n}`).toBe(
          b64(node.rootFromInclusion(i, n, leaves[i] as Buffer, proof)),
        );
        expect(b64(got)).toBe(b64(root));
        if (proof.length) {
          const bad = proof.map((h, j) => (j === proof.length - 1 ? flipped(h, 9) : h));
          expect(() => node.verifyInclusion(i, n, leaves[i] as Buffer, bad, root)).toThrow(node.ProofError);
          await expect(web.verifyInclusion(i, n, leaves[i] as Buffer, bad, root)).rejects.toThrow(
            web.VerifyError,
          );
        }
      }
    }
  });

  it("accepts the consistency proofs node builds between every pair of sizes up to 24, and refuses a swapped root", async () => {
    const { leaves } = treeOf(24);
    for (let m = 1; m <= 24; m++) {
      for (let n = m; n <= 24; n++) {
        const proof = spansOf(leaves, node.consistencySpans(m, n));
        const r1 = mth(leaves, 0, m);
        const r2 = mth(leaves, 0, n);

        await expect(web.verifyConsistency(m, n, proof, r1, r2), `${m} → ${n}`).resolves.toBeUndefined();
        if (m < n) {
          expect(() => node.verifyConsistency(m, n, proof, r2, r1)).toThrow(node.ProofError);
          await expect(web.verifyConsistency(m, n, proof, r2, r1)).rejects.toThrow(web.VerifyError);
        }
      }
    }
  });

  it("opens notes node signs, parses the same checkpoint and key, and refuses what node refuses", async () => {
    // Prepare
    const log = signer("flowtriq.com/audit-log/test");
    const other = signer("someone-else");
    const { root } = treeOf(5);
    const text = nodeNote.formatCheckpoint({
      origin: "flowtriq.com/audit-log/test/ws-1",
      size: 5,
      root,
      extensions: ["time 2026-03-09T09:44:19.000Z"],
    });
    const note = await nodeNote.signNote(text, [other.noteSigner, log.noteSigner]);
    const verifier = await web.parseVerifierKey(log.verifierKey);
    const nodeVerifier = nodeNote.parseVerifierKey(log.verifierKey);

    // Act
    const opened = await web.openCheckpoint(note, verifier, "flowtriq.com/audit-log/test/ws-1");

    // Assess
    expect({ name: verifier.name, keyId: verifier.keyId }).toEqual({
      name: nodeVerifier.name,
      keyId: nodeVerifier.keyId,
    });
    expect(Buffer.from(verifier.spki).equals(nodeVerifier.spki)).toBe(true);
    expect(opened).toMatchObject({
      origin: "flowtriq.com/audit-log/test/ws-1",
      size: 5,
      signedBy: [log.name],
    });
    expect(b64(opened.root)).toBe(b64(nodeNote.parseCheckpoint(text).root));
    expect(opened.extensions).toEqual(["time 2026-03-09T09:44:19.000Z"]);
    const tampered = [
      note.replace("\n5\n", "\n6\n"), // the text changed after signing
      await nodeNote.signNote(text, [{ ...other.noteSigner, name: log.name, keyId: log.noteSigner.keyId }]),
      await nodeNote.signNote(text, [other.noteSigner]), // no signature by the pinned key
    ];
    for (const bad of tampered) {
      expect(() => nodeNote.openNote(bad, [nodeVerifier])).toThrow(nodeNote.NoteError);
      await expect(web.openNote(bad, [verifier])).rejects.toThrow(web.VerifyError);
    }
    await expect(web.openCheckpoint(note, verifier, "flowtriq.com/audit-log/test/ws-2")).rejects.toThrow(
      /origin/,
    );
  });

  it("converts every DER signature node makes and refuses non-minimal or trailing encodings", () => {
    const { privateKey } = signer("k");
    const publicKey = createPublicKey(privateKey);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (msg) => {
        const der = sign("sha256", msg, privateKey);

        const raw = web.derToP1363(der);

        // node reads the converted signature as IEEE P1363 (r ‖ s), the form WebCrypto verifies.
        expect(raw?.length).toBe(64);
        expect(verify("sha256", msg, { key: publicKey, dsaEncoding: "ieee-p1363" }, raw as Uint8Array)).toBe(
          true,
        );
      }),
      { numRuns: 200 },
    );
    // r = 1, s = 0x80 (needs a leading zero): 30 07 02 01 01 02 02 00 80
    const minimal = Uint8Array.from([0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80]);
    const expected = new Uint8Array(64);
    expected[31] = 1;
    expected[63] = 0x80;
    expect(b64(web.derToP1363(minimal) as Uint8Array)).toBe(b64(expected));
    for (const bad of [
      [0x30, 0x08, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x00, 0x80], // r padded with a needless zero
      [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x80], // s negative
      [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80, 0x00], // a byte after the sequence
      [0x30, 0x81, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80], // a long-form length below 128
    ]) {
      expect(web.derToP1363(Uint8Array.from(bad)), bad.join(",")).toBeUndefined();
    }
  });

  it("computes an event's leaf from its canonical bytes exactly as the sealer does, and refuses a changed event", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          actorId: fc.string({ minLength: 1, maxLength: 40 }),
          note: fc.string({ maxLength: 60 }),
          n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        }),
        async ({ actorId, note, n }) => {
          const input = serviceEventInputSchema.parse({
            type: "node.added",
            actor: { type: "user", id: actorId },
            context: { note, n: Object.is(n, -0) ? 0 : n, nested: { z: 1, a: [note] } },
          });
          // Through JSON, as the page gets it from the API.
          const event = JSON.parse(JSON.stringify(buildEvent(input, "e-1", "2026-03-09T09:44:19.000Z")));

          const { leaf } = await web.eventLeaf(event);

          expect(b64(leaf)).toBe(b64(node.leafHash(leafDataOf(event))));
          await expect(web.eventLeaf({ ...event, outcome: "failure" })).rejects.toThrow(
            /does not match its hash/,
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("the web verifier and the independent Go checker agree", () => {
  const log = signer("flowtriq.com/audit-log/test");
  const origin = "flowtriq.com/audit-log/test/ws-go";
  const n = 21;
  const { data, leaves, root } = treeOf(n, "go");
  let note: string;

  beforeAll(async () => {
    await goTlogCheckBinary();
    note = await nodeNote.signNote(nodeNote.formatCheckpoint({ origin, size: n, root }), [log.noteSigner]);
  }, 300_000);

  /** Both verdicts on one inclusion proof against the signed checkpoint. */
  async function verdicts(index: number, proof: Buffer[], leafData: Buffer, checkpoint = note) {
    const go = await goTlogCheck({
      verifierKey: log.verifierKey,
      origin,
      checkpoint,
      inclusion: [{ index, leafData: b64(leafData), proof: proof.map(b64) }],
    });
    const webVerdict = await (async () => {
      const cp = await web.openCheckpoint(checkpoint, await web.parseVerifierKey(log.verifierKey), origin);
      await web.verifyInclusion(index, cp.size, await web.leafHash(leafData), proof, cp.root);
    })().then(
      () => true,
      (err: unknown) => {
        if (!(err instanceof web.VerifyError)) throw err;
        return false;
      },
    );
    return { go: go.ok, web: webVerdict };
  }

  it("accepts every leaf's proof of a 21-leaf tree", async () => {
    for (const i of [0, 7, 15, 16, 20]) {
      const proof = spansOf(leaves, node.inclusionSpans(i, n));

      expect(await verdicts(i, proof, data[i] as Buffer), `leaf ${i}`).toEqual({ go: true, web: true });
    }
  });

  it("refuses a flipped proof hash, the wrong leaf's data, a wrong index and a changed checkpoint", async () => {
    const proof = spansOf(leaves, node.inclusionSpans(7, n));
    const cases = [
      verdicts(
        7,
        proof.map((h, j) => (j === 2 ? flipped(h, 100) : h)),
        data[7] as Buffer,
      ),
      verdicts(7, proof, data[8] as Buffer),
      verdicts(6, proof, data[7] as Buffer),
      verdicts(7, proof, data[7] as Buffer, note.replace(`\n${n}\n`, `\n${n + 1}\n`)),
    ];

    expect(await Promise.all(cases)).toEqual(Array(4).fill({ go: false, web: false }));
  });
});
