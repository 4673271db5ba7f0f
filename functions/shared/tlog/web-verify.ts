import canonicalize from "canonicalize";

/**
 * The verifiable log's checks for a browser (the Audit Log page's Verify button): the same formats
 * as merkle.ts and note.ts, on WebCrypto (`crypto.subtle`) and plain Uint8Arrays, with no `node:`
 * import and no Buffer, so esbuild can bundle it for the browser and Node runs it as it is (the unit
 * tests hold it to the node implementation and to the independent Go checker).
 *
 * What is shared rather than ported: the RFC 8785 canonicalization itself (the `canonicalize`
 * package the service hashes with, which is plain JavaScript), so the leaf is computed from the
 * event's own bytes here and never taken from the server. merkle.ts and note.ts cannot be imported:
 * both load node:crypto at the top and work on Buffers. The proof walks below are line for line
 * the RFC 9162 algorithms of merkle.ts, with the hashing awaited.
 */

export const HASH_BYTES = 32;
const SIG_ECDSA = 0x02;
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;

/** Bad evidence: a proof, a note, a key or an event that does not check out. The message says which. */
export class VerifyError extends Error {
  override readonly name = "VerifyError";
}

type Bytes = Uint8Array<ArrayBuffer>;

const utf8 = new TextEncoder();

function concat(...parts: readonly Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export async function sha256(...parts: readonly Uint8Array[]): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
}

export const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function toBase64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** Strict base64: only the canonical encoding of some bytes is accepted (as Buffer checks in note.ts). */
export function fromBase64(text: string, what = "base64"): Bytes {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    throw new VerifyError(`${what} is not base64`);
  }
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (toBase64(out) !== text) throw new VerifyError(`${what} is not canonical base64`);
  return out;
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). */
export const leafHash = (data: Uint8Array) => sha256(Uint8Array.of(0), data);
/** RFC 6962 node hash: SHA-256(0x01 ‖ left ‖ right). */
export const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(Uint8Array.of(1), left, right);

const isOdd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);
const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

function checkSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new VerifyError(`${what}: ${n} is not a tree size`);
}

function checkHashes(what: string, hashes: readonly Uint8Array[]): void {
  hashes.forEach((h, i) => {
    if (h.length !== HASH_BYTES) throw new VerifyError(`${what}: hash ${i} is ${h.length} bytes, not 32`);
  });
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof gives for `leaf` at `index` in a tree of `size`. */
export async function rootFromInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Promise<Bytes> {
  checkSize("inclusion", size);
  checkSize("inclusion", index);
  if (index >= size) throw new VerifyError(`inclusion: index ${index} is not below the tree size ${size}`);
  if (leaf.length !== HASH_BYTES)
    throw new VerifyError(`inclusion of index ${index}: the leaf hash is not 32 bytes`);
  checkHashes(`inclusion of index ${index}`, proof);
  let fn = index;
  let sn = size - 1;
  let r: Bytes = concat(leaf);
  for (const p of proof) {
    if (sn === 0)
      throw new VerifyError(`inclusion of index ${index}: the proof is too long for size ${size}`);
    if (isOdd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new VerifyError(`inclusion of index ${index}: the proof is too short for size ${size}`);
  return r;
}

export async function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<void> {
  const got = await rootFromInclusion(index, size, leaf, proof);
  if (!bytesEqual(got, root)) {
    throw new VerifyError(`inclusion of index ${index}: the proof does not lead to the root of size ${size}`);
  }
}

/** RFC 9162 §2.1.4.2: checks that the tree of size2 extends the tree of size1. */
export async function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): Promise<void> {
  const what = `consistency ${size1} → ${size2}`;
  checkSize("consistency", size1);
  checkSize("consistency", size2);
  checkHashes(what, proof);
  if (size2 < size1) throw new VerifyError(`${what}: the second tree is smaller`);
  if (size1 === 0) throw new VerifyError(`${what}: a consistency proof from the empty tree proves nothing`);
  if (size1 === size2) {
    if (proof.length) throw new VerifyError(`${what}: equal sizes need an empty proof`);
    if (!bytesEqual(root1, root2)) throw new VerifyError(`${what}: equal sizes with different roots`);
    return;
  }
  if (!proof.length) throw new VerifyError(`${what}: the proof is empty`);
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Bytes = concat(path[0] as Uint8Array);
  let sr: Bytes = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) throw new VerifyError(`${what}: the proof is too long`);
    if (isOdd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new VerifyError(`${what}: the proof is too short`);
  if (!bytesEqual(fr, root1)) throw new VerifyError(`${what}: the proof does not lead to the first root`);
  if (!bytesEqual(sr, root2)) throw new VerifyError(`${what}: the proof does not lead to the second root`);
}

// ---------------------------------------------------------------------------------------------
// C2SP checkpoints and signed notes

export interface Checkpoint {
  origin: string;
  size: number;
  root: Bytes;
  extensions: string[];
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new VerifyError("a checkpoint ends with a newline");
  const [origin, size, root, ...extensions] = text.slice(0, -1).split("\n");
  if (!origin || size === undefined || root === undefined)
    throw new VerifyError("a checkpoint has at least three lines");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new VerifyError(`the checkpoint size ${JSON.stringify(size)} is not a decimal tree size`);
  }
  const rootBytes = fromBase64(root, "the checkpoint root");
  if (rootBytes.length !== HASH_BYTES) throw new VerifyError("the checkpoint root is not base64 of 32 bytes");
  if (extensions.some((e) => e === "")) throw new VerifyError("a checkpoint has no empty lines");
  return { origin, size: Number(size), root: rootBytes, extensions };
}

export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Bytes;
}

const readUint32 = (b: Uint8Array) =>
  (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0;

/** Splits a signed note into its text and its signature lines (none verified yet). */
export function splitNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (utf8.encode(note).length > MAX_NOTE_BYTES) throw new VerifyError("the note is too large");
  if (!note.isWellFormed()) throw new VerifyError("the note is not valid UTF-8 text");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the format forbids them
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new VerifyError("the note holds control characters");
  if (!note.endsWith("\n")) throw new VerifyError("the note ends with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new VerifyError("the note has no signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new VerifyError("the note has too many signatures");
  const signatures = lines.map((line) => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) throw new VerifyError(`malformed signature line ${JSON.stringify(line.slice(0, 80))}`);
    const bytes = fromBase64(m[2] as string, "a signature");
    if (bytes.length < 5) throw new VerifyError("malformed signature");
    return { name: m[1] as string, keyId: readUint32(bytes), signature: bytes.slice(4) };
  });
  return { text, signatures };
}

/** A pinned verifier key (type 0x02, ECDSA P-256), ready to check signatures with WebCrypto. */
export interface WebVerifier {
  name: string;
  keyId: number;
  /** The DER SubjectPublicKeyInfo. */
  spki: Bytes;
  verify(text: Uint8Array, derSignature: Uint8Array): Promise<boolean>;
}

/** A key name as the format allows it: not empty, no spaces, no `+`. */
function checkKeyName(name: string): string {
  if (!/^[^\s+]+$/u.test(name)) throw new VerifyError(`${JSON.stringify(name)} cannot be a key name`);
  return name;
}

/**
 * ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` → the 64-byte `r ‖ s` WebCrypto verifies (IEEE
 * P1363). Strict: minimal lengths and integers, positive, nothing after; anything else is no
 * signature (as Go's ecdsa.VerifyASN1 and OpenSSL refuse it).
 */
export function derToP1363(der: Uint8Array): Bytes | undefined {
  let p = 0;
  const byte = () => (p < der.length ? (der[p++] as number) : -1);
  const length = (): number => {
    const first = byte();
    if (first < 0) return -1;
    if (first < 0x80) return first;
    if (first !== 0x81) return -1; // a P-256 signature is at most 72 bytes: one length byte at most
    const n = byte();
    return n >= 0x80 ? n : -1; // minimal: 0x81 only for lengths of 128 and more
  };
  if (byte() !== 0x30) return undefined;
  const seqLen = length();
  if (seqLen < 0 || p + seqLen !== der.length) return undefined;
  const out = new Uint8Array(64);
  for (const at of [0, 32]) {
    if (byte() !== 0x02) return undefined;
    const len = length();
    if (len < 1 || len > 33 || p + len > der.length) return undefined;
    const int = der.subarray(p, p + len);
    p += len;
    if ((int[0] as number) & 0x80) return undefined; // negative
    if (len > 1 && int[0] === 0 && !((int[1] as number) & 0x80)) return undefined; // not minimal
    const value = int[0] === 0 ? int.subarray(1) : int;
    if (value.length > 32) return undefined;
    out.set(value, at + 32 - value.length);
  }
  return p === der.length ? out : undefined;
}

/** Parses `<name>+<hex key ID>+<base64(0x02 ‖ SPKI)>` and imports the P-256 public key. */
export async function parseVerifierKey(key: string): Promise<WebVerifier> {
  const m = /^([^+]+)\+([^+]+)\+(.+)$/s.exec(key.trim());
  if (!m) throw new VerifyError("a verifier key is name+keyid+key");
  const [, name, hex, b64] = m as unknown as [string, string, string, string];
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hex)) throw new VerifyError("malformed verifier key");
  const bytes = fromBase64(b64, "the verifier key");
  if (bytes.length < 2) throw new VerifyError("malformed verifier key");
  if (bytes[0] !== SIG_ECDSA)
    throw new VerifyError(`verifier key type 0x${bytes[0]?.toString(16)} is not supported`);
  const spki = bytes.slice(1);
  const keyId = Number.parseInt(hex, 16);
  if (readUint32(await sha256(spki)) !== keyId)
    throw new VerifyError("the verifier key's ID does not match its key");
  let publicKey: Awaited<ReturnType<typeof crypto.subtle.importKey>>;
  try {
    publicKey = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "verify",
    ]);
  } catch {
    throw new VerifyError("the verifier key is not an ECDSA P-256 public key");
  }
  return {
    name,
    keyId,
    spki,
    verify: async (text, derSignature) => {
      const raw = derToP1363(derSignature);
      if (!raw) return false;
      try {
        return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, raw, concat(text));
      } catch {
        return false;
      }
    },
  };
}

/**
 * Opens a note with the pinned verifiers: signatures by unknown keys are ignored, a known key's bad
 * signature rejects the note, and so does the absence of any good one (note.ts openNote).
 */
export async function openNote(
  note: string,
  verifiers: readonly WebVerifier[],
): Promise<{ text: string; signedBy: string[] }> {
  const { text, signatures } = splitNote(note);
  const signedBy: string[] = [];
  for (const sig of signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (!v) continue;
    if (!(await v.verify(utf8.encode(text), sig.signature)))
      throw new VerifyError(`the signature of ${sig.name} does not verify`);
    signedBy.push(v.name);
  }
  if (!signedBy.length) throw new VerifyError("no signature by a trusted key");
  return { text, signedBy };
}

/** Opens a checkpoint note with the pinned key and checks its origin. */
export async function openCheckpoint(
  note: string,
  verifier: WebVerifier,
  origin: string,
): Promise<Checkpoint & { signedBy: string[] }> {
  const opened = await openNote(note, [verifier]);
  const cp = parseCheckpoint(opened.text);
  if (cp.origin !== origin) throw new VerifyError(`the checkpoint's origin ${cp.origin} is not ${origin}`);
  return { ...cp, signedBy: opened.signedBy };
}

/** A key's fingerprint to show a person: SHA-256 of its SPKI, hex in groups of four. */
export async function keyFingerprint(verifier: WebVerifier): Promise<string> {
  return (toHex(await sha256(verifier.spki)).match(/.{4}/g) as string[]).join(":");
}

// ---------------------------------------------------------------------------------------------
// An event's inclusion, end to end

/**
 * The leaf data of a stored event: its RFC 8785 JSON without `hash`, the bytes its `hash` is over
 * (core/log.ts leafDataOf). Throws when the event's content does not match its own `hash`.
 */
export async function eventLeaf(event: Record<string, unknown>): Promise<{ data: Bytes; leaf: Bytes }> {
  const { hash, ...content } = event;
  const text = canonicalize(content);
  if (text === undefined) throw new VerifyError("the event has no JSON form");
  const data = utf8.encode(text) as Bytes;
  if (typeof hash !== "string" || toHex(await sha256(data)) !== hash) {
    throw new VerifyError("the event's content does not match its hash");
  }
  return { data, leaf: await leafHash(data) };
}

/** GET /v1/events/{id}/proof. */
export interface EventProof {
  id: string;
  index: number;
  treeSize: number;
  inclusion: string[];
  checkpoint: string;
}

export interface InclusionVerified {
  origin: string;
  size: number;
  root: string;
  index: number;
  signedBy: string[];
}

/**
 * Checks that `event` is leaf `proof.index` of the tree its signed checkpoint commits to: the leaf
 * is computed here from the event's canonical bytes (never the server's `leafHash`), the checkpoint
 * must be signed by the pinned key and carry the expected origin, and the audit path must lead
 * from the leaf to its root.
 */
export async function verifyEventInclusion(input: {
  event: Record<string, unknown>;
  proof: EventProof;
  verifier: WebVerifier;
  origin: string;
}): Promise<InclusionVerified> {
  const { event, proof, verifier, origin } = input;
  if (event.id !== proof.id) throw new VerifyError(`the proof is for ${proof.id}, not ${String(event.id)}`);
  const { leaf } = await eventLeaf(event);
  const cp = await openCheckpoint(proof.checkpoint, verifier, origin);
  if (cp.size !== proof.treeSize)
    throw new VerifyError(`the proof is for size ${proof.treeSize}, its checkpoint has ${cp.size}`);
  if (!Array.isArray(proof.inclusion)) throw new VerifyError("the proof has no audit path");
  const path = proof.inclusion.map((h, i) => fromBase64(String(h), `proof hash ${i}`));
  await verifyInclusion(proof.index, cp.size, leaf, path, cp.root);
  return {
    origin: cp.origin,
    size: cp.size,
    root: toBase64(cp.root),
    index: proof.index,
    signedBy: cp.signedBy,
  };
}
