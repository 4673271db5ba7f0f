import { createHash, generateKeyPairSync, sign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CompactRange,
  consistencySpans,
  EMPTY_ROOT,
  inclusionSpans,
  leafHash,
  multiProofSpans,
  nodeHash,
  ProofError,
  rootFromMultiProof,
  type Span,
  verifyConsistency,
  verifyInclusion,
} from "../../functions/shared/tlog/merkle.js";
import {
  ecdsaVerifierKey,
  formatCheckpoint,
  NoteError,
  type NoteSigner,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signNote,
} from "../../functions/shared/tlog/note.js";
import {
  compactFromEdges,
  edgeTiles,
  parseTilePath,
  type Tile,
  TileBuilder,
  TileHashes,
  tilePath,
} from "../../functions/shared/tlog/tiles.js";

/** The reference: RFC 6962's MTH written as the RFC states it, over the leaf hashes. */
function mth(leaves: readonly Buffer[], [start, end]: Span): Buffer {
  const n = end - start;
  if (n === 0) return createHash("sha256").digest();
  if (n === 1) return leaves[start] as Buffer;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(mth(leaves, [start, start + k]), mth(leaves, [start + k, end]));
}

const rootOrError = (...args: Parameters<typeof rootFromMultiProof>) => {
  try {
    return rootFromMultiProof(...args).toString("hex");
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    return "refused";
  }
};

const leavesOf = (n: number, salt = "") =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`event ${salt}${i}`)));

describe("RFC 6962 proofs against the RFC's own definition", () => {
  it("an inclusion proof of every leaf of trees of 1–70 verifies, and fails for its neighbours", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = leavesOf(n);
      const root = mth(leaves, [0, n]);
      for (let i = 0; i < n; i++) {
        const proof = inclusionSpans(i, n).map((s) => mth(leaves, s));
        verifyInclusion(i, n, leaves[i] as Buffer, proof, root);
        if (n > 1) {
          const other = (i + 1) % n;
          expect(() => verifyInclusion(other, n, leaves[i] as Buffer, proof, root)).toThrow(ProofError);
        }
        expect(() =>
          verifyInclusion(i, n, leaves[i] as Buffer, proof, leafHash(Buffer.from("other root"))),
        ).toThrow(ProofError);
        if (proof.length)
          expect(() => verifyInclusion(i, n, leaves[i] as Buffer, proof.slice(1), root)).toThrow(ProofError);
      }
    }
  });

  it("a consistency proof between every pair of sizes up to 40 verifies, and not for a changed leaf", () => {
    const leaves = leavesOf(40);
    const forged = [...leaves];
    forged[3] = leafHash(Buffer.from("forged"));
    for (let m = 1; m <= 40; m++) {
      for (let n = m; n <= 40; n++) {
        const proof = consistencySpans(m, n).map((s) => mth(leaves, s));
        verifyConsistency(m, n, proof, mth(leaves, [0, m]), mth(leaves, [0, n]));
        if (m > 3) {
          const bad = consistencySpans(m, n).map((s) => mth(forged, s));
          expect(() => verifyConsistency(m, n, bad, mth(leaves, [0, m]), mth(forged, [0, n]))).toThrow(
            ProofError,
          );
        }
      }
    }
  });

  it("the empty tree's root is SHA-256 of nothing", () => {
    expect(EMPTY_ROOT.toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(CompactRange.empty().root().equals(EMPTY_ROOT)).toBe(true);
  });

  it("a multi-leaf proof gives the root for any set of leaves, and refuses a missing, extra or moved one", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 300 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.uniqueArray(fc.nat(n - 1), { minLength: 1, maxLength: Math.min(n, 40) }),
            ),
          ),
        ([n, picked]) => {
          const leaves = leavesOf(n);
          const indexes = [...picked].sort((a, b) => a - b);
          const proof = multiProofSpans(n, indexes).map((s) => mth(leaves, s));
          const given = indexes.map((index) => ({ index, hash: leaves[index] as Buffer }));
          expect(rootFromMultiProof(n, given, proof).equals(mth(leaves, [0, n]))).toBe(true);
          if (given.length > 1) {
            // one leaf left out: the proof no longer fits, or gives another root
            expect(rootOrError(n, given.slice(1), proof)).not.toBe(mth(leaves, [0, n]).toString("hex"));
          }
          const replaced = given.map((g, i) => (i === 0 ? { ...g, hash: leafHash(Buffer.from("x")) } : g));
          expect(rootFromMultiProof(n, replaced, proof).equals(mth(leaves, [0, n]))).toBe(false);
          if (given.length > 1) {
            // two leaves swapped: each at the other's index
            const a = given[0] as (typeof given)[number];
            const b = given[1] as (typeof given)[number];
            if (!a.hash.equals(b.hash)) {
              const swapped = [{ ...a, hash: b.hash }, { ...b, hash: a.hash }, ...given.slice(2)];
              expect(rootFromMultiProof(n, swapped, proof).equals(mth(leaves, [0, n]))).toBe(false);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a contiguous range proof for a day holding one event more or one less does not give the root", () => {
    const leaves = leavesOf(1000);
    const root = mth(leaves, [0, 1000]);
    const range = Array.from({ length: 200 }, (_, i) => 300 + i);
    const proof = multiProofSpans(1000, range).map((s) => mth(leaves, s));
    const day = range.map((index) => ({ index, hash: leaves[index] as Buffer }));
    expect(rootFromMultiProof(1000, day, proof).equals(root)).toBe(true);
    expect(() => rootFromMultiProof(1000, day.slice(0, -1), proof)).toThrow(ProofError);
    expect(() =>
      rootFromMultiProof(1000, [...day, { index: 500, hash: leaves[500] as Buffer }], proof),
    ).toThrow(ProofError);
    // 32 bytes per maximal subtree outside the range: at most 2 log2(n)
    expect(proof.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)));
  });

  it("a compact range appended leaf by leaf has the reference root at every size", () => {
    const leaves = leavesOf(130);
    const range = CompactRange.empty();
    leaves.forEach((l, i) => {
      range.append(l);
      expect(range.root().equals(mth(leaves, [0, i + 1]))).toBe(true);
    });
    expect(() => CompactRange.of(7, range.hashes)).toThrow(ProofError);
    expect(CompactRange.of(130, range.hashes).root().equals(range.root())).toBe(true);
  });
});

describe("tiles (c2sp.org/tlog-tiles)", () => {
  it("paths group the tile number in threes with x prefixes, and only canonical paths parse", () => {
    expect(tilePath({ level: 0, n: 1234067, width: 256 })).toBe("tile/0/x001/x234/067");
    expect(tilePath({ level: 1, n: 0, width: 5 })).toBe("tile/1/000.p/5");
    expect(tilePath({ level: 2, n: 1000, width: 256 })).toBe("tile/2/x001/000");
    expect(parseTilePath("tile/0/x001/x234/067")).toEqual({ level: 0, n: 1234067, width: 256 });
    expect(parseTilePath("tile/1/000.p/5")).toEqual({ level: 1, n: 0, width: 5 });
    for (const bad of [
      "tile/0/1",
      "tile/0/x000/001",
      "tile/0/000.p/0",
      "tile/0/000.p/256",
      "tile/0/000.p/05",
      "tile/entries/000",
      "tile/0/000/",
    ]) {
      expect(parseTilePath(bad), bad).toBeUndefined();
    }
  });

  /** Builds the tree in the given batches, keeping every tile written as a store would (last wins, as paths differ by width). */
  function build(leaves: readonly Buffer[], batches: readonly number[]) {
    const store = new Map<string, Tile>();
    let range = CompactRange.empty();
    let at = 0;
    for (const size of batches) {
      const edges = edgeTiles(at).map((id) => store.get(tilePath(id)) as Tile);
      expect(compactFromEdges(at, edges).root().equals(range.root())).toBe(true);
      const builder = new TileBuilder(at, edges, range);
      for (const leaf of leaves.slice(at, at + size)) builder.append(leaf);
      for (const tile of builder.tiles()) {
        const path = tilePath(tile);
        const before = store.get(path);
        if (before) expect(before.data.equals(tile.data), `${path} rewritten with other bytes`).toBe(true);
        store.set(path, tile);
      }
      at += size;
      range = builder.range();
    }
    return { store, range };
  }

  // The store holds the final tree's tiles; a smaller tree's partial tile is a prefix of them.
  const reader = (store: Map<string, Tile>) => async (id: { level: number; n: number; width: number }) => {
    const tile = [...store.values()].find((t) => t.level === id.level && t.n === id.n && t.width >= id.width);
    if (!tile) throw new Error(`missing ${tilePath(id)}`);
    return tile.data.subarray(0, id.width * 32);
  };

  it("built in any batches, the tiles are the same as built at once", () => {
    const leaves = leavesOf(3000);
    const once = build(leaves, [3000]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 12 }), (cuts) => {
        const batches: number[] = [];
        let left = 3000;
        for (const c of cuts) {
          if (left <= 0) break;
          batches.push(Math.min(c, left));
          left -= Math.min(c, left);
        }
        if (left > 0) batches.push(left);
        const split = build(leaves, batches);
        expect(split.range.root().equals(once.range.root())).toBe(true);
        for (const [path, tile] of once.store)
          expect(split.store.get(path)?.data.equals(tile.data), path).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("every span read from the tiles of a tree reaching level 2 is the reference hash", async () => {
    const leaves = leavesOf(66_000);
    const { store, range } = build(leaves, [40_000, 26_000]);
    expect(store.has("tile/2/000.p/1")).toBe(true); // 66,000 leaves reach level 2
    expect(range.root().equals(mth(leaves, [0, 66_000]))).toBe(true);
    for (const size of [1, 255, 256, 257, 65_535, 65_536, 66_000]) {
      const hashes = new TileHashes(size, reader(store));
      const spans: Span[] = [
        [0, size],
        [0, Math.ceil(size / 2)],
        [size - 1, size],
        [Math.floor(size / 3), size],
      ];
      for (const span of spans.filter(([a, b]) => a < b)) {
        expect((await hashes.span(span)).equals(mth(leaves, span)), `${size} ${span}`).toBe(true);
      }
    }
  }, 30_000);

  it("an edge tile that was replaced does not give the stored compact range", () => {
    const leaves = leavesOf(300);
    const { store, range } = build(leaves, [300]);
    const edges = edgeTiles(300).map((id) => store.get(tilePath(id)) as Tile);
    const forged = edges.map((t) => (t.level === 0 ? { ...t, data: Buffer.from(t.data).fill(7, 0, 1) } : t));
    expect(compactFromEdges(300, edges).root().equals(range.root())).toBe(true);
    expect(compactFromEdges(300, forged).root().equals(range.root())).toBe(false);
  });
});

describe("signed checkpoints (c2sp.org/signed-note, type 0x02)", () => {
  const keyPair = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const signerOf = (name: string, k: ReturnType<typeof keyPair>): NoteSigner => {
    const spki = k.publicKey.export({ format: "der", type: "spki" });
    return {
      name,
      keyId: parseVerifierKey(ecdsaVerifierKey(name, spki)).keyId,
      sign: async (text) => sign("sha256", text, { key: k.privateKey, dsaEncoding: "der" }),
    };
  };
  const ours = keyPair();
  const theirs = keyPair();
  const text = formatCheckpoint({
    origin: "audit.example/test/demo",
    size: 7,
    root: leafHash(Buffer.from("r")),
    extensions: ["time 2026-12-01T00:00:00.000Z"],
  });
  const key = ecdsaVerifierKey("audit.example/test", ours.publicKey.export({ format: "der", type: "spki" }));

  it("opens with the pinned key, and round-trips the checkpoint", async () => {
    const note = await signNote(text, [signerOf("audit.example/test", ours)]);
    const opened = openNote(note, [parseVerifierKey(key)]);
    expect(opened.signedBy).toEqual(["audit.example/test"]);
    expect(parseCheckpoint(opened.text)).toMatchObject({
      origin: "audit.example/test/demo",
      size: 7,
      extensions: ["time 2026-12-01T00:00:00.000Z"],
    });
  });

  it("refuses another key under the same name, an edited text, and no known signature", async () => {
    const forged = await signNote(text, [signerOf("audit.example/test", theirs)]);
    expect(() => openNote(forged, [parseVerifierKey(key)])).toThrow(NoteError); // other key id: unknown → no signature
    const good = await signNote(text, [signerOf("audit.example/test", ours)]);
    expect(() => openNote(good.replace("\n7\n", "\n8\n"), [parseVerifierKey(key)])).toThrow(
      /does not verify/,
    );
    const other = await signNote(text, [
      signerOf("someone.else", theirs),
      signerOf("audit.example/test", ours),
    ]);
    expect(openNote(other, [parseVerifierKey(key)]).signedBy).toEqual(["audit.example/test"]);
  });

  it("refuses malformed checkpoints and keys", () => {
    expect(() => parseCheckpoint("o\n01\nAAAA\n")).toThrow(NoteError);
    expect(() => parseCheckpoint(`o\n1\n${Buffer.alloc(31).toString("base64")}\n`)).toThrow(NoteError);
    expect(() => parseVerifierKey(key.replace(/\+[0-9a-f]{8}\+/, "+00000000+"))).toThrow(/ID does not match/);
  });
});
