import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/** RFC 8785 (JCS) canonical JSON: sorted keys, ECMAScript number form, no whitespace. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}

export function sha256Hex(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}
