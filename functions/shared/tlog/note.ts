import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { HASH_BYTES } from "./merkle.js";

/**
 * C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).
 *
 * A checkpoint is the note text `<origin>\n<size>\n<base64 root>\n`, then any extension lines; we
 * write one, `time <ISO 8601>`, so a heartbeat checkpoint of an unchanged tree still says when the
 * log last vouched for it. Signatures are type 0x02, ECDSA P-256 over SHA-256 of the text, ASN.1
 * DER, as github.com/transparency-dev/formats/note implements it: the key ID is the first four
 * bytes of SHA-256 over the DER SubjectPublicKeyInfo, and the verifier key is written
 * `<name>+<hex key ID>+<base64(0x02 ‖ SPKI)>`. Another signer (say Ed25519, type 0x01) signs beside
 * it under its own name; verifiers ignore signatures whose name and ID they do not know.
 */
export const SIG_ECDSA = 0x02;
/** A note larger than this, or with more signatures, is refused unread. */
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  override readonly name = "NoteError";
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Extension lines, without their newlines. */
  extensions: string[];
}

export function formatCheckpoint(c: Omit<Checkpoint, "extensions"> & { extensions?: string[] }): string {
  return `${[c.origin, String(c.size), c.root.toString("base64"), ...(c.extensions ?? [])].join("\n")}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new NoteError("a checkpoint ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  const [origin, size, root, ...extensions] = lines;
  if (!origin || size === undefined || root === undefined)
    throw new NoteError("a checkpoint has at least three lines");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new NoteError(`the checkpoint size ${JSON.stringify(size)} is not a decimal tree size`);
  }
  const rootBytes = Buffer.from(root, "base64");
  if (rootBytes.length !== HASH_BYTES || rootBytes.toString("base64") !== root) {
    throw new NoteError("the checkpoint root is not base64 of 32 bytes");
  }
  if (extensions.some((e) => e === "")) throw new NoteError("a checkpoint has no empty lines");
  return { origin, size: Number(size), root: rootBytes, extensions };
}

/** A signature line's parts. */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Buffer;
}

/** Splits a signed note into its text and its signature lines (none verified yet). */
export function splitNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (Buffer.byteLength(note) > MAX_NOTE_BYTES) throw new NoteError("the note is too large");
  if (!note.isWellFormed()) throw new NoteError("the note is not valid UTF-8 text");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the format forbids them
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new NoteError("the note holds control characters");
  if (!note.endsWith("\n")) throw new NoteError("the note ends with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("the note has no signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError("the note has too many signatures");
  const signatures = lines.map((line) => {
    const m = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
    if (!m) throw new NoteError(`malformed signature line ${JSON.stringify(line.slice(0, 80))}`);
    const bytes = Buffer.from(m[2] as string, "base64");
    if (bytes.length < 5 || bytes.toString("base64") !== m[2]) throw new NoteError("malformed signature");
    return { name: m[1] as string, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

export interface NoteVerifier {
  name: string;
  keyId: number;
  verify(text: Buffer, signature: Buffer): boolean;
}

/**
 * Opens a note with the verifiers the caller trusts (pinned; never keys the note or a bundle brings
 * along). Signatures by unknown keys are ignored; a known key's bad signature rejects the note;
 * no good one rejects it too.
 */
export function openNote(
  note: string,
  verifiers: readonly NoteVerifier[],
): { text: string; signedBy: string[] } {
  const { text, signatures } = splitNote(note);
  const signedBy: string[] = [];
  for (const sig of signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (!v) continue;
    if (!v.verify(Buffer.from(text), sig.signature))
      throw new NoteError(`the signature of ${sig.name} does not verify`);
    signedBy.push(v.name);
  }
  if (!signedBy.length) throw new NoteError("no signature by a trusted key");
  return { text, signedBy };
}

export function keyIdOfSpki(spki: Buffer): number {
  return createHash("sha256").update(spki).digest().readUInt32BE(0);
}

/** A key name as the format allows it: not empty, no spaces, no `+`. */
export function checkKeyName(name: string): string {
  if (!/^[^\s+]+$/u.test(name)) throw new NoteError(`${JSON.stringify(name)} cannot be a key name`);
  return name;
}

/** The verifier key string of an ECDSA P-256 key, to publish and to pin. */
export function ecdsaVerifierKey(name: string, spki: Buffer): string {
  const id = keyIdOfSpki(spki).toString(16).padStart(8, "0");
  return `${checkKeyName(name)}+${id}+${Buffer.concat([Buffer.from([SIG_ECDSA]), spki]).toString("base64")}`;
}

/** A verifier from a pinned verifier key string (type 0x02, P-256 only). */
export function parseVerifierKey(key: string): NoteVerifier & { spki: Buffer } {
  // base64 may itself hold `+`: split at the first two only.
  const m = /^([^+]+)\+([^+]+)\+(.+)$/s.exec(key.trim());
  if (!m) throw new NoteError("a verifier key is name+keyid+key");
  const [, name, hex, b64] = m as unknown as [string, string, string, string];
  checkKeyName(name);
  const bytes = Buffer.from(b64, "base64");
  if (!/^[0-9a-f]{8}$/.test(hex) || bytes.toString("base64") !== b64 || bytes.length < 2) {
    throw new NoteError("malformed verifier key");
  }
  if (bytes[0] !== SIG_ECDSA)
    throw new NoteError(`verifier key type 0x${bytes[0]?.toString(16)} is not supported`);
  const spki = bytes.subarray(1);
  const keyId = Number.parseInt(hex, 16);
  if (keyIdOfSpki(spki) !== keyId) throw new NoteError("the verifier key's ID does not match its key");
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch {
    throw new NoteError("the verifier key holds no public key");
  }
  if (publicKey.asymmetricKeyType !== "ec" || publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new NoteError("the verifier key is not an ECDSA P-256 key");
  }
  return {
    name,
    keyId,
    spki,
    verify: (text, signature) => {
      try {
        return verify("sha256", text, { key: publicKey, dsaEncoding: "der" }, signature);
      } catch {
        return false;
      }
    },
  };
}

/** Something that signs note text: KMS on AWS and in the local runtime (moto). */
export interface NoteSigner {
  name: string;
  keyId: number;
  /** The raw signature (for type 0x02: ASN.1 DER ECDSA over SHA-256 of `text`). */
  sign(text: Buffer): Promise<Buffer>;
}

export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  if (!text.endsWith("\n")) throw new NoteError("note text ends with a newline");
  const lines = await Promise.all(
    signers.map(async (s) => {
      const id = Buffer.alloc(4);
      id.writeUInt32BE(s.keyId);
      const sig = await s.sign(Buffer.from(text));
      return `\u2014 ${s.name} ${Buffer.concat([id, sig]).toString("base64")}\n`;
    }),
  );
  return `${text}\n${lines.join("")}`;
}
