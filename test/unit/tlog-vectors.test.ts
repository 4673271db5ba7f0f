import { describe, expect, it } from "vitest";
import { ProofError, verifyConsistency, verifyInclusion } from "../../functions/shared/tlog/merkle.js";
import { transparencyDevVectors } from "../support/go-tlog.js";

/**
 * transparency-dev/merkle's proof vectors (testdata/inclusion, testdata/consistency: happy paths and
 * every way of breaking them: flipped bits, wrong sizes, garbage before or after, truncations,
 * swapped or empty roots) run against our verifier. Every good one must pass and every bad one must
 * be refused with a ProofError, not any exception. The vectors come through the Go module proxy at
 * the version test/go/tlogcheck/go.mod pins, checked by its go.sum.
 */
const vectors = await transparencyDevVectors();
const good = (list: { wantErr: boolean }[]) => list.filter((v) => !v.wantErr);
const bad = (list: { wantErr: boolean }[]) => list.filter((v) => v.wantErr);

describe(`transparency-dev/merkle ${vectors.version} vectors`, () => {
  it("are all there (98 + 98 when pinned), so an empty or moved testdata fails here", () => {
    for (const list of [vectors.inclusion, vectors.consistency]) {
      expect(list.length).toBeGreaterThanOrEqual(90);
      expect(good(list).length).toBeGreaterThanOrEqual(6);
      expect(bad(list).length).toBeGreaterThanOrEqual(80);
    }
    expect(vectors.inclusion.map((v) => v.file)).toEqual(
      expect.arrayContaining(["inclusion/1/happy-path.json", "inclusion/0/leafIdx-sub-@1.json"]),
    );
    expect(vectors.consistency.map((v) => v.file)).toEqual(
      expect.arrayContaining(["consistency/2/happy-path.json", "consistency/1/size2-mul-@2.json"]),
    );
  });
});

// The files hold uint64; 2^64 − 1 (an index of −1 wrapped) becomes an unsafe number, which our
// verifier must refuse like any index beyond the tree.
const num = (n: bigint) => Number(n);

describe("verifyInclusion", () => {
  for (const v of vectors.inclusion) {
    const act = () => verifyInclusion(num(v.leafIdx), num(v.treeSize), v.leafHash, v.proof, v.root);
    if (v.wantErr) it(`rejects ${v.file} (${v.desc})`, () => expect(act).toThrow(ProofError));
    else it(`accepts ${v.file} (${v.desc})`, () => expect(act).not.toThrow());
  }
});

describe("verifyConsistency", () => {
  for (const v of vectors.consistency) {
    const act = () => verifyConsistency(num(v.size1), num(v.size2), v.proof, v.root1, v.root2);
    if (v.wantErr) it(`rejects ${v.file} (${v.desc})`, () => expect(act).toThrow(ProofError));
    else it(`accepts ${v.file} (${v.desc})`, () => expect(act).not.toThrow());
  }
});
