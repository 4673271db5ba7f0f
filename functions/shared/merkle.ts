import { CompactRange, EMPTY_ROOT, leafHash, nodeHash, splitPoint } from "./tlog/merkle.js";

/**
 * The nightly manifest's `eventHashes.merkleRoot`: the RFC 6962 tree (tlog/merkle.ts) over the day's
 * event hashes, each leaf the 32 bytes of one hex `hash`. Written as the RFC states the recursion,
 * so it also serves as the reference the streaming {@link MerkleAccumulator} is checked against.
 */
export function merkleRoot(leavesHex: readonly string[]): string {
  const hash = (from: number, to: number): Buffer => {
    const n = to - from;
    if (n === 0) return EMPTY_ROOT;
    if (n === 1) return leafHash(Buffer.from(leavesHex[from] as string, "hex"));
    const k = splitPoint(n);
    return nodeHash(hash(from, from + k), hash(from + k, to));
  };
  return hash(0, leavesHex.length).toString("hex");
}

/** {@link merkleRoot} one leaf at a time, in O(log n) memory: a compact range of the day's leaves. */
export class MerkleAccumulator {
  private readonly range = CompactRange.empty();

  add(leafHex: string): void {
    this.range.append(leafHash(Buffer.from(leafHex, "hex")));
  }

  get size(): number {
    return this.range.size;
  }

  root(): string {
    return this.range.root().toString("hex");
  }
}
