import { createHash } from "node:crypto";

const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();

/**
 * RFC 6962 (Certificate Transparency) Merkle tree hash over hex SHA-256 leaves: leaf =
 * H(0x00 ‖ leaf), node = H(0x01 ‖ left ‖ right), split at the largest power of two below n. The
 * root commits to every event hash and its order; the empty tree's root is H("").
 */
export function merkleRoot(leavesHex: readonly string[]): string {
  const hash = (from: number, to: number): Buffer => {
    const n = to - from;
    if (n === 0) return sha256();
    if (n === 1) return sha256(Buffer.from([0]), Buffer.from(leavesHex[from] as string, "hex"));
    let k = 1;
    while (k * 2 < n) k *= 2;
    return sha256(Buffer.from([1]), hash(from, from + k), hash(from + k, to));
  };
  return hash(0, leavesHex.length).toString("hex");
}

/**
 * {@link merkleRoot} one leaf at a time, in O(log n) memory: keeps the roots of the perfect subtrees
 * that make up the leaves so far (largest first). RFC 6962's tree over n leaves is those subtrees
 * joined right to left, so the root needs no second pass over the leaves.
 */
export class MerkleAccumulator {
  private readonly stack: { size: number; hash: Buffer }[] = [];
  private count = 0;

  add(leafHex: string): void {
    let node = { size: 1, hash: sha256(Buffer.from([0]), Buffer.from(leafHex, "hex")) };
    for (let top = this.stack.at(-1); top && top.size === node.size; top = this.stack.at(-1)) {
      this.stack.pop();
      node = { size: top.size * 2, hash: sha256(Buffer.from([1]), top.hash, node.hash) };
    }
    this.stack.push(node);
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  root(): string {
    let acc = this.stack.at(-1)?.hash;
    if (!acc) return sha256().toString("hex");
    for (let i = this.stack.length - 2; i >= 0; i--) {
      acc = sha256(Buffer.from([1]), (this.stack[i] as { hash: Buffer }).hash, acc);
    }
    return acc.toString("hex");
  }
}
