import { createHash } from "node:crypto";

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification: the one implementation
 * the sealer, the API, the exports and the offline verifier share. Leaf hash = SHA-256(0x00 ‖ data),
 * node hash = SHA-256(0x01 ‖ left ‖ right); a tree over n leaves splits at the largest power of
 * two below n; the empty tree's root is SHA-256(""). Indexes and sizes are plain numbers (exact up
 * to 2^53), never 32-bit shifts.
 */
export const HASH_BYTES = 32;

/** A proof or a piece of evidence that does not check out; the message names the index or size. */
export class ProofError extends Error {
  override readonly name = "ProofError";
}

export function leafHash(data: Uint8Array): Buffer {
  return createHash("sha256")
    .update(Buffer.from([0]))
    .update(data)
    .digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256")
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

export const EMPTY_ROOT: Buffer = createHash("sha256").digest();

/** The largest power of two strictly below n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isOdd = (n: number) => n % 2 === 1;
export const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;
const half = (n: number) => Math.floor(n / 2);

function checkHashes(what: string, hashes: readonly Uint8Array[]): void {
  hashes.forEach((h, i) => {
    if (h.length !== HASH_BYTES) throw new ProofError(`${what}: hash ${i} is ${h.length} bytes, not 32`);
  });
}

function checkSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError(`${what}: ${n} is not a tree size`);
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof gives for `leaf` at `index` in a tree of `size`. */
export function rootFromInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer {
  checkSize("inclusion", size);
  checkSize("inclusion", index);
  if (index >= size) throw new ProofError(`inclusion: index ${index} is not below the tree size ${size}`);
  checkHashes(`inclusion of index ${index}`, proof);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) throw new ProofError(`inclusion of index ${index}: the proof is too long for size ${size}`);
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`inclusion of index ${index}: the proof is too short for size ${size}`);
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (leaf.length !== HASH_BYTES)
    throw new ProofError(`inclusion of index ${index}: the leaf hash is not 32 bytes`);
  const got = rootFromInclusion(index, size, leaf, proof);
  if (!got.equals(root)) {
    throw new ProofError(`inclusion of index ${index}: the proof does not lead to the root of size ${size}`);
  }
}

/** RFC 9162 §2.1.4.2: checks that the tree of size2 extends the tree of size1. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkSize("consistency", size1);
  checkSize("consistency", size2);
  checkHashes(`consistency ${size1} → ${size2}`, proof);
  const what = `consistency ${size1} → ${size2}`;
  if (size2 < size1) throw new ProofError(`${what}: the second tree is smaller`);
  // Nothing is consistent with the empty tree in a way worth proving (transparency-dev/merkle#236,
  // and Go's tlog.CheckTree): a verifier with no trusted size has nothing to check against.
  if (size1 === 0) throw new ProofError(`${what}: a consistency proof from the empty tree proves nothing`);
  if (size1 === size2) {
    if (proof.length) throw new ProofError(`${what}: equal sizes need an empty proof`);
    if (!Buffer.from(root1).equals(root2)) throw new ProofError(`${what}: equal sizes with different roots`);
    return;
  }
  if (!proof.length) throw new ProofError(`${what}: the proof is empty`);
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0] as Uint8Array);
  let sr: Buffer = Buffer.from(path[0] as Uint8Array);
  for (const c of path.slice(1)) {
    if (sn === 0) throw new ProofError(`${what}: the proof is too long`);
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError(`${what}: the proof is too short`);
  if (!fr.equals(root1)) throw new ProofError(`${what}: the proof does not lead to the first root`);
  if (!sr.equals(root2)) throw new ProofError(`${what}: the proof does not lead to the second root`);
}

/** A node of the tree: the leaves [start, end). */
export type Span = readonly [start: number, end: number];

/** RFC 6962 §2.1.1 PATH(m, D[0:n]): the spans whose hashes make the inclusion proof, in proof order. */
export function inclusionSpans(index: number, size: number): Span[] {
  if (!(index >= 0 && index < size))
    throw new ProofError(`index ${index} is not below the tree size ${size}`);
  const out: Span[] = [];
  let lo = 0;
  let hi = size;
  const stack: Span[] = [];
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      stack.push([lo + k, hi]);
      hi = lo + k;
    } else {
      stack.push([lo, lo + k]);
      lo += k;
    }
  }
  // PATH appends the sibling after the deeper path: deepest sibling first.
  while (stack.length) out.push(stack.pop() as Span);
  return out;
}

/** RFC 6962 §2.1.2 PROOF(m, D[0:n]): the spans whose hashes make the consistency proof, in order. */
export function consistencySpans(size1: number, size2: number): Span[] {
  if (!(size1 >= 0 && size1 <= size2)) throw new ProofError(`no consistency proof from ${size1} to ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  const out: Span[] = [];
  const sub = (m: number, lo: number, hi: number, whole: boolean) => {
    const n = hi - lo;
    if (m === n) {
      if (!whole) out.push([lo, hi]);
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, lo, lo + k, whole);
      out.push([lo + k, hi]);
    } else {
      sub(m - k, lo + k, hi, false);
      out.push([lo, lo + k]);
    }
  };
  sub(size1, 0, size2, true);
  return out;
}

/** First position in the sorted `indexes` at or after `at`. */
function lowerBound(indexes: readonly number[], at: number): number {
  let lo = 0;
  let hi = indexes.length;
  while (lo < hi) {
    const mid = half(lo + hi);
    if ((indexes[mid] as number) < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function checkIndexes(size: number, indexes: readonly number[]): void {
  if (!indexes.length) throw new ProofError("a multi-leaf proof needs at least one index");
  indexes.forEach((x, i) => {
    if (!Number.isSafeInteger(x) || x < 0 || x >= size)
      throw new ProofError(`index ${x} is not below the tree size ${size}`);
    if (i > 0 && x <= (indexes[i - 1] as number))
      throw new ProofError(`index ${x} is out of order or repeated`);
  });
}

/**
 * A multi-leaf proof: the hashes of the maximal subtrees that hold none of the given (sorted)
 * indexes, in a left-to-right walk of the RFC 6962 tree. With the leaves themselves they give the
 * root, so a contiguous range [a, b) proves that exactly those leaves sit at those indexes (the
 * range proof a nightly day carries); scattered indexes prove each of those leaves at once.
 */
export function multiProofSpans(size: number, indexes: readonly number[]): Span[] {
  checkIndexes(size, indexes);
  const out: Span[] = [];
  const walk = (lo: number, hi: number) => {
    const first = lowerBound(indexes, lo);
    if (first >= indexes.length || (indexes[first] as number) >= hi) {
      out.push([lo, hi]);
      return;
    }
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  walk(0, size);
  return out;
}

/** The root a multi-leaf proof gives; throws unless the proof is used exactly. */
export function rootFromMultiProof(
  size: number,
  leaves: readonly { index: number; hash: Uint8Array }[],
  proof: readonly Uint8Array[],
): Buffer {
  const indexes = leaves.map((l) => l.index);
  checkIndexes(size, indexes);
  checkHashes("multi-leaf proof", proof);
  checkHashes(
    "multi-leaf proof leaves",
    leaves.map((l) => l.hash),
  );
  let next = 0;
  const walk = (lo: number, hi: number): Buffer => {
    const first = lowerBound(indexes, lo);
    if (first >= indexes.length || (indexes[first] as number) >= hi) {
      const h = proof[next++];
      if (!h) throw new ProofError(`multi-leaf proof: too short (needs a hash for leaves ${lo}–${hi - 1})`);
      return Buffer.from(h);
    }
    if (hi - lo === 1) return Buffer.from((leaves[first] as { hash: Uint8Array }).hash);
    const k = splitPoint(hi - lo);
    const left = walk(lo, lo + k);
    return nodeHash(left, walk(lo + k, hi));
  };
  const root = walk(0, size);
  if (next !== proof.length) throw new ProofError(`multi-leaf proof: ${proof.length - next} hashes too many`);
  return root;
}

/**
 * The roots of the perfect subtrees that make up a tree, largest first (its compact range): enough
 * to append leaves and to compute the root, in O(log n) space.
 */
export class CompactRange {
  private constructor(
    private leaves: number,
    private readonly nodes: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** Rebuilds one from stored nodes; throws unless their number matches the size's bits. */
  static of(size: number, nodes: readonly Uint8Array[]): CompactRange {
    checkSize("compact range", size);
    checkHashes("compact range", nodes);
    if (nodes.length !== popCount(size)) {
      throw new ProofError(
        `a compact range of size ${size} has ${popCount(size)} nodes, not ${nodes.length}`,
      );
    }
    return new CompactRange(
      size,
      nodes.map((n) => Buffer.from(n)),
    );
  }

  get size(): number {
    return this.leaves;
  }

  get hashes(): readonly Buffer[] {
    return this.nodes;
  }

  append(leaf: Uint8Array): void {
    let node: Buffer = Buffer.from(leaf);
    // Each trailing 1 bit of the size is a perfect subtree the new leaf completes.
    for (let s = this.leaves; isOdd(s); s = half(s)) node = nodeHash(this.nodes.pop() as Buffer, node);
    this.nodes.push(node);
    this.leaves++;
  }

  root(): Buffer {
    let acc = this.nodes.at(-1);
    if (!acc) return EMPTY_ROOT;
    for (let i = this.nodes.length - 2; i >= 0; i--) acc = nodeHash(this.nodes[i] as Buffer, acc);
    return acc;
  }

  clone(): CompactRange {
    return new CompactRange(this.leaves, [...this.nodes]);
  }
}

export function popCount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = half(x)) if (isOdd(x)) c++;
  return c;
}

/** Root of a perfect run of hashes (a power-of-two count), as their subtree in the tree. */
export function perfectRoot(hashes: readonly Uint8Array[]): Buffer {
  let level: Buffer[] = hashes.map((h) => Buffer.from(h));
  if (!isPowerOfTwo(level.length)) {
    throw new ProofError(`${level.length} hashes are not a perfect subtree`);
  }
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i] as Buffer, level[i + 1] as Buffer));
    level = up;
  }
  return level[0] as Buffer;
}
