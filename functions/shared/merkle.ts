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
