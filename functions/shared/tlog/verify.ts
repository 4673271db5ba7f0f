import { constants as bufferConstants } from "node:buffer";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as zlib from "node:zlib";
import { canonicalJson } from "../canonical.js";
import { merkleRoot } from "../merkle.js";
import { BUNDLE_FORMAT } from "./bundle.js";
import { HASH_BYTES, leafHash, ProofError, rootFromMultiProof, verifyConsistency } from "./merkle.js";
import {
  type Checkpoint,
  NoteError,
  type NoteVerifier,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  splitNote,
} from "./note.js";

/**
 * The offline verifier's core (scripts/verify.ts is its CLI, docs/evidence.md its manual): checks an
 * evidence bundle or a nightly day against verifier keys and a trusted checkpoint the caller pins,
 * with nothing but node: built-ins, so it bundles into one file that runs with plain `node` and no
 * network. It never throws for bad evidence: every check that fails becomes a message that names
 * the event id or leaf index, and the report's outcome is the lowest exit code among them.
 */

/**
 * Exit codes, one per outcome. When several checks fail, the lowest code is the outcome and every
 * failure is listed. 7 only replaces 0 when the caller requires a pinned tail.
 */
export const EXIT_CODES = {
  /** Everything checked out. */
  verified: 0,
  /** Bad arguments, an unreadable file, a bad state file, a consistency proof that is needed and missing. */
  usage: 1,
  /** Bad gzip, trailing data, an extra member, bad JSON or UTF-8, wrong format or version, a count mismatch. */
  malformed: 2,
  /** The checkpoint is not signed by a pinned key, or its origin is not the one expected. */
  untrustedCheckpoint: 3,
  /** An event's content does not match its `hash`. */
  hashMismatch: 4,
  /** An inclusion / range / multi-leaf proof fails; an event missing, added or out of order. */
  proofFailed: 5,
  /** The checkpoint is not consistent with the trusted one (a fork or a rewritten history). */
  inconsistent: 6,
  /** Everything verified, but the tail is not pinned and the caller required it. */
  tailNotPinned: 7,
} as const;

export type Outcome = keyof typeof EXIT_CODES;
export type ExitCode = (typeof EXIT_CODES)[Outcome];

/** A checkpoint the auditor keeps outside the service (the state file, JSON). */
export interface TrustedState {
  origin: string;
  size: number;
  /** Base64 root hash of the tree of `size`. */
  root: string;
  /** The signed note it came from. */
  checkpoint: string;
}

/** A consistency proof: the JSON of `GET /v1/log/consistency?from=&to=`, or a bundle trailer's. */
export interface ConsistencyInput {
  from: number;
  to: number;
  /** Base64 hashes. */
  proof: string[];
  /** The service's latest checkpoint when it answered (size ≥ `to`). */
  checkpoint?: string;
}

export interface VerifyOptions {
  /** Pinned verifier key strings (`name+hex+base64`); never keys from the evidence. */
  verifierKeys: readonly string[];
  /**
   * The expected origin. When absent, the trusted state's origin is required if there is one, and
   * otherwise any origin that ends with `/<workspace>` is accepted (and the report says so).
   */
  origin?: string;
  /** The trusted checkpoint from before this run; absent or size 0 means first use. */
  trusted?: TrustedState;
  /** A consistency proof between the trusted size and the evidence's checkpoint size. */
  consistency?: ConsistencyInput;
  /** Outcome 7 instead of 0 when the tail is not pinned. @default false */
  requirePinned?: boolean;
  /** Largest decompressed size accepted (a gzip bomb stops here). @default 4 GiB */
  maxBytes?: number;
  /**
   * Accept a file made of several complete gzip members (RFC 1952 §2.2), with nothing after the
   * last, none of them empty. The service writes its files in members of about 1 MiB of input
   * each (resumable exports), so this is the default; false demands exactly one. @default true
   */
  allowMultipleMembers?: boolean;
}

/** Options of {@link verifyDay}: the same as a bundle's. */
export type DayOptions = VerifyOptions;

export interface Failure {
  outcome: Exclude<Outcome, "verified" | "tailNotPinned">;
  code: ExitCode;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  outcome: Outcome;
  exitCode: ExitCode;
  kind: "bundle" | "day";
  /** Every failure, each naming the event id or the leaf index (or the byte / line for framing). */
  messages: string[];
  failures: Failure[];
  /** What was accepted and why, and what is not proven (the tail). */
  notes: string[];
  workspace?: string;
  checkpoint?: { origin: string; size: number; root: string; signedBy: string[]; time?: string };
  range?: { start: number; end: number } | null;
  /** Events in the evidence. */
  events: number;
  /** Events whose content matched their hash and that the proof placed at their index (0 on failure). */
  eventsVerified: number;
  /**
   * True only when the trusted state from before this run covers every leaf of the evidence (size ≥
   * the highest index + 1) and is consistent with its checkpoint.
   */
  tailPinned: boolean;
  /** The trusted state before this run, and whether the evidence's checkpoint is consistent with it. */
  trusted?: { size: number; consistent: boolean };
  /** What to keep as the trusted state now (the larger consistent checkpoint); absent on failure. */
  newTrusted?: TrustedState;
  /** Whether newTrusted differs from the trusted state passed in. */
  stateChanged: boolean;
}

/** Bytes, a file path, or a stream of chunks. */
export type EvidenceInput = Uint8Array | string | AsyncIterable<Uint8Array>;

/** The most messages of one outcome listed one by one; the rest are counted. */
const MAX_MESSAGES_PER_OUTCOME = 25;
const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
const MAX_LENGTH = bufferConstants.MAX_LENGTH;

class GzipError extends Error {
  override readonly name = "GzipError";
}

/** Bad evidence that stops the run: nothing after it can be read. */
class Stop extends Error {
  override readonly name = "Stop";
  constructor(
    readonly outcome: Failure["outcome"],
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// gzip: exactly the members we expect, nothing before, between or after

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zlib.crc32 where Node has it, 20.15+ / 22.2+; a table otherwise). */
function crc32(data: Uint8Array): number {
  if (typeof zlib.crc32 === "function") return zlib.crc32(data) >>> 0;
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const FTEXT_RESERVED = 0xe0;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/** RFC 1952 §2.3: the member header at `at`; returns where the deflate data starts. */
function gzipHeaderEnd(buf: Buffer, at: number): number {
  const need = (n: number) => {
    if (n > buf.length) throw new GzipError(`the gzip header at byte ${at} is truncated`);
  };
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b)
    throw new GzipError(`byte ${at} does not start a gzip member`);
  need(at + 10);
  if (buf[at + 2] !== 8)
    throw new GzipError(`the gzip member at byte ${at} is not deflate (CM ${buf[at + 2]})`);
  const flags = buf[at + 3] as number;
  if (flags & FTEXT_RESERVED) throw new GzipError(`the gzip member at byte ${at} sets reserved flags`);
  let p = at + 10;
  if (flags & FEXTRA) {
    need(p + 2);
    p += 2 + buf.readUInt16LE(p);
    need(p);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = buf.indexOf(0, p);
    if (zero < 0) throw new GzipError(`the gzip header at byte ${at} is truncated`);
    p = zero + 1;
  }
  if (flags & FHCRC) {
    need(p + 2);
    if ((crc32(buf.subarray(at, p)) & 0xffff) !== buf.readUInt16LE(p))
      throw new GzipError(`the gzip header CRC at byte ${at} does not match`);
    p += 2;
  }
  return p;
}

/**
 * Decompresses a gzip file that must be exactly one member (or, with `multi`, a run of complete
 * members) with nothing after it. Node's gunzip reads every member of a file as one stream and
 * stops quietly at some trailing bytes, so it cannot say either; here each member's header is
 * parsed by hand, its deflate data inflated raw (zlib reports how many input bytes the stream
 * used), and its trailer (CRC-32 and length) checked at the exact byte where the stream ended.
 * What follows is a second member or trailing bytes, and is named by its offset.
 */
export function gunzipExact(
  input: Uint8Array,
  { multi = true, maxBytes = DEFAULT_MAX_BYTES }: { multi?: boolean; maxBytes?: number } = {},
): { data: Buffer; members: number } {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length === 0) throw new GzipError("the file is empty, not gzip");
  const out: Buffer[] = [];
  let total = 0;
  let at = 0;
  let members = 0;
  while (at < buf.length) {
    if (members > 0 && !multi) {
      const rest = buf.length - at;
      if (rest >= 2 && buf[at] === 0x1f && buf[at + 1] === 0x8b) {
        throw new GzipError(`a second gzip member starts at byte ${at}; the file must be exactly one member`);
      }
      throw new GzipError(
        `${rest} trailing byte${rest === 1 ? "" : "s"} after the gzip member (from byte ${at})`,
      );
    }
    if (members > 0 && !(buf[at] === 0x1f && buf[at + 1] === 0x8b)) {
      const rest = buf.length - at;
      throw new GzipError(
        `${rest} trailing byte${rest === 1 ? "" : "s"} after the last gzip member (from byte ${at})`,
      );
    }
    const start = gzipHeaderEnd(buf, at);
    let inflated: { buffer: Buffer; engine: zlib.InflateRaw };
    try {
      inflated = zlib.inflateRawSync(buf.subarray(start), {
        info: true,
        maxOutputLength: Math.max(1, Math.min(maxBytes - total, MAX_LENGTH)),
      }) as unknown as { buffer: Buffer; engine: zlib.InflateRaw };
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new GzipError(`the gzip member at byte ${at} does not inflate: ${reason}`);
    }
    const end = start + inflated.engine.bytesWritten;
    if (end + 8 > buf.length) throw new GzipError(`the gzip member at byte ${at} has no trailer (truncated)`);
    const data = inflated.buffer;
    if (crc32(data) !== buf.readUInt32LE(end))
      throw new GzipError(`the CRC-32 of the gzip member at byte ${at} does not match its data`);
    if (data.length % 2 ** 32 !== buf.readUInt32LE(end + 4))
      throw new GzipError(
        `the length in the trailer of the gzip member at byte ${at} does not match its data`,
      );
    // The service never writes an empty member beside others (only an empty file is one): an empty
    // member appended to a file is extra gzip data that no decompressed check would see.
    if (data.length === 0 && (members > 0 || end + 8 < buf.length)) {
      throw new GzipError(`an empty gzip member at byte ${at}: extra gzip data`);
    }
    total += data.length;
    if (total > maxBytes) throw new GzipError(`the file inflates to more than ${maxBytes} bytes`);
    out.push(data);
    at = end + 8;
    members++;
  }
  return { data: out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out), members };
}

// ---------------------------------------------------------------------------------------------
// small parsers

const utf8 = new TextDecoder("utf-8", { fatal: true });
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Strict base64 of exactly 32 bytes. */
function hashOf(b64: unknown): Buffer | undefined {
  if (typeof b64 !== "string") return undefined;
  const bytes = Buffer.from(b64, "base64");
  return bytes.length === HASH_BYTES && bytes.toString("base64") === b64 ? bytes : undefined;
}

/** NDJSON lines of a buffer (without their `\n`); a final line may lack its newline. */
function lines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const nl = data.indexOf(0x0a, at);
    const end = nl < 0 ? data.length : nl;
    out.push(data.subarray(at, end));
    at = end + 1;
  }
  return out;
}

function parseLine(line: Buffer, where: string): unknown {
  if (line.length === 0 || (line.length === 1 && line[0] === 0x0d))
    throw new Stop("malformed", `${where} is empty`);
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    throw new Stop("malformed", `${where} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Stop("malformed", `${where} is not JSON`);
  }
}

function parseProof(what: string, raw: unknown): Buffer[] {
  if (!Array.isArray(raw)) throw new Stop("malformed", `${what} is not a list of hashes`);
  return raw.map((h, i) => {
    const bytes = hashOf(h);
    if (!bytes) throw new Stop("malformed", `${what}: hash ${i} is not base64 of 32 bytes`);
    return bytes;
  });
}

function parseConsistency(what: string, raw: unknown): { from: number; to: number; proof: Buffer[] } {
  if (!isObject(raw) || !isSize(raw.from) || !isSize(raw.to))
    throw new Stop("malformed", `${what} is not {from, to, proof}`);
  return { from: raw.from, to: raw.to, proof: parseProof(what, raw.proof) };
}

/** Checks a state file's content: its fields must be what its own note says. */
export function parseTrustedState(raw: unknown): TrustedState {
  const bad = (why: string) => new Error(`the trusted state is not valid: ${why}`);
  if (!isObject(raw)) throw bad("not a JSON object");
  const { origin, size, root, checkpoint } = raw;
  if (typeof origin !== "string" || !origin) throw bad("no origin");
  if (!isSize(size)) throw bad("size is not a tree size");
  if (size === 0)
    return { origin, size, root: typeof root === "string" ? root : "", checkpoint: String(checkpoint ?? "") };
  if (!hashOf(root)) throw bad("root is not base64 of 32 bytes");
  if (typeof checkpoint !== "string") throw bad("no checkpoint note");
  let parsed: Checkpoint;
  try {
    parsed = parseCheckpoint(splitNote(checkpoint).text);
  } catch (err: unknown) {
    throw bad(`its checkpoint note does not parse (${(err as Error).message})`);
  }
  if (parsed.origin !== origin || parsed.size !== size || parsed.root.toString("base64") !== root) {
    throw bad("its origin, size and root are not what its checkpoint note says");
  }
  return { origin, size, root, checkpoint };
}

// ---------------------------------------------------------------------------------------------
// a run: failures collected, the outcome is the lowest code

interface Leaf {
  index: number;
  hash: Buffer;
  id: string;
  /** `recordedAt#id`, the log's order, when the event has both. */
  key?: string;
}

interface Evidence {
  kind: "bundle" | "day";
  workspace: string;
  note: string;
  range: { start: number; end: number } | null;
  leaves: Leaf[];
  proof: Buffer[];
  /** A consistency proof the evidence carries (a bundle trailer's). */
  carried?: { from: number; to: number; proof: Buffer[] };
  /** Where the proof comes from, for messages: "the bundle's" / "the manifest's". */
  source: string;
  /**
   * False when the leaves' indexes are not known (a day file whose count is off: its lines cannot
   * be placed, and the count's failure says so); the index checks and the proof are skipped.
   */
  placed: boolean;
}

class Run {
  readonly failures: Failure[] = [];
  readonly notes: string[] = [];
  private readonly counts = new Map<string, number>();

  fail(outcome: Failure["outcome"], message: string): void {
    const n = (this.counts.get(outcome) ?? 0) + 1;
    this.counts.set(outcome, n);
    if (n <= MAX_MESSAGES_PER_OUTCOME) this.failures.push({ outcome, code: EXIT_CODES[outcome], message });
  }

  has(...outcomes: Failure["outcome"][]): boolean {
    return this.failures.some((f) => outcomes.includes(f.outcome));
  }

  /** Adds "… and N more" lines for outcomes cut at the cap. */
  summarise(): void {
    for (const [outcome, n] of this.counts) {
      if (n > MAX_MESSAGES_PER_OUTCOME) {
        this.failures.push({
          outcome: outcome as Failure["outcome"],
          code: EXIT_CODES[outcome as Failure["outcome"]],
          message: `… and ${n - MAX_MESSAGES_PER_OUTCOME} more failures of this kind (${outcome})`,
        });
      }
    }
  }
}

function emptyReport(kind: "bundle" | "day", outcome: Failure["outcome"], message: string): VerifyReport {
  return {
    ok: false,
    outcome,
    exitCode: EXIT_CODES[outcome],
    kind,
    messages: [message],
    failures: [{ outcome, code: EXIT_CODES[outcome], message }],
    notes: [],
    events: 0,
    eventsVerified: 0,
    tailPinned: false,
    stateChanged: false,
  };
}

/** The stored event's canonical bytes and its leaf, checking its `hash` (4) on the way. */
function leafOfEvent(run: Run, event: Record<string, unknown>, index: number, where: string): Leaf {
  const id = typeof event.id === "string" ? event.id : `(no id, ${where})`;
  const label = `event ${id} (leaf ${index})`;
  const { hash, ...content } = event;
  let data: Buffer;
  try {
    data = Buffer.from(canonicalJson(content));
  } catch (err: unknown) {
    throw new Stop("malformed", `${label} has no RFC 8785 form: ${(err as Error).message}`);
  }
  const recomputed = createHash("sha256").update(data).digest("hex");
  if (typeof hash !== "string" || !/^[a-f0-9]{64}$/.test(hash)) {
    run.fail("malformed", `${label} has no hash (a hex SHA-256)`);
  } else if (hash !== recomputed) {
    run.fail(
      "hashMismatch",
      `${label}: its content does not match its hash (stored ${hash.slice(0, 16)}…, recomputed ${recomputed.slice(0, 16)}…)`,
    );
  }
  const leaf: Leaf = { index, hash: leafHash(data), id };
  if (typeof event.recordedAt === "string" && typeof event.id === "string")
    leaf.key = `${event.recordedAt}#${event.id}`;
  return leaf;
}

function verifiersOf(keys: readonly string[]): NoteVerifier[] {
  if (!keys.length) throw new Error("no verifier key pinned (--key)");
  return keys.map((k, i) => {
    try {
      return parseVerifierKey(k);
    } catch (err: unknown) {
      throw new Error(`verifier key ${i + 1} is not usable: ${(err as Error).message}`);
    }
  });
}

/** The common part of a bundle and a day: checkpoint, order, proof, consistency, tail. */
function verifyEvidence(ev: Evidence, options: VerifyOptions, run: Run): VerifyReport {
  const verifiers = verifiersOf(options.verifierKeys);
  const trusted =
    options.trusted && options.trusted.size > 0 ? parseTrustedState(options.trusted) : undefined;

  // 1. The checkpoint: parsed, signed by a pinned key, of the expected origin.
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(splitNote(ev.note).text);
  } catch (err: unknown) {
    throw new Stop(
      "malformed",
      `${ev.source} checkpoint is not a signed checkpoint: ${(err as Error).message}`,
    );
  }
  let signedBy: string[] = [];
  try {
    signedBy = openNote(ev.note, verifiers).signedBy;
  } catch (err: unknown) {
    const names = verifiers.map((v) => v.name).join(", ");
    run.fail(
      "untrustedCheckpoint",
      `the checkpoint of ${cp.origin} (size ${cp.size}) is not signed by a pinned key (${names}): ${(err as Error).message}`,
    );
  }
  const suffix = `/${ev.workspace}`;
  if (options.origin !== undefined) {
    if (cp.origin !== options.origin)
      run.fail(
        "untrustedCheckpoint",
        `the checkpoint's origin ${cp.origin} is not the pinned origin ${options.origin}`,
      );
  } else if (trusted) {
    if (cp.origin !== trusted.origin) {
      run.fail(
        "untrustedCheckpoint",
        `the checkpoint's origin ${cp.origin} is not the trusted state's origin ${trusted.origin}`,
      );
    }
  } else if (cp.origin.endsWith(suffix) && cp.origin.length > suffix.length) {
    run.notes.push(
      `origin ${cp.origin} accepted because it ends with /${ev.workspace}; pin it with --origin (GET /v1/log/key gives it) to be sure it is the stage you expect`,
    );
  }
  if (!(cp.origin.endsWith(suffix) && cp.origin.length > suffix.length)) {
    run.fail(
      "untrustedCheckpoint",
      `the checkpoint's origin ${cp.origin} is not the log of workspace ${ev.workspace}`,
    );
  }
  if (trusted && options.origin !== undefined && trusted.origin !== options.origin) {
    run.fail(
      "untrustedCheckpoint",
      `the trusted state is for ${trusted.origin}, not the pinned origin ${options.origin}`,
    );
  }

  // 2. Indexes: strictly increasing, within the tree, and for a range exactly [start, end).
  const { leaves, range } = ev;
  let indexesOk = ev.placed;
  if (range && range.end > cp.size) {
    indexesOk = false;
    run.fail(
      "proofFailed",
      `the range [${range.start}, ${range.end}) ends beyond the checkpoint's size ${cp.size}`,
    );
  }
  if (ev.placed) {
    leaves.forEach((leaf, i) => {
      const prev = leaves[i - 1];
      if (prev && leaf.index <= prev.index) {
        indexesOk = false;
        run.fail(
          "proofFailed",
          `event ${leaf.id} has leaf index ${leaf.index}, not above the index ${prev.index} of the event before it (${prev.id}): events are out of order or repeated`,
        );
      }
    });
    const beyond = leaves.filter((l) => l.index >= cp.size);
    const first = beyond[0];
    if (first) {
      indexesOk = false;
      const more = beyond.length > 1 ? ` and ${beyond.length - 1} more events after it` : "";
      run.fail(
        "proofFailed",
        `event ${first.id} (leaf ${first.index})${more} lie beyond the checkpoint's size ${cp.size}`,
      );
    }
  }
  if (range && ev.placed) {
    const present = new Set(leaves.map((l) => l.index));
    const extra = leaves.filter((l) => l.index < range.start || l.index >= range.end);
    for (const l of extra) {
      run.fail(
        "proofFailed",
        `event ${l.id} at leaf ${l.index} is outside the range [${range.start}, ${range.end})`,
      );
    }
    if (extra.length) indexesOk = false;
    const inRange = [...present].filter((i) => i >= range.start && i < range.end).length;
    const missingCount = range.end - range.start - inRange;
    const missing: number[] = [];
    for (let i = range.start; i < range.end && missing.length < 10; i++) if (!present.has(i)) missing.push(i);
    if (missingCount > 0) {
      indexesOk = false;
      const after = leaves.filter((l) => l.index < (missing[0] as number)).at(-1);
      const more = missingCount > missing.length ? ` and ${missingCount - missing.length} more` : "";
      run.fail(
        "proofFailed",
        `${missingCount === 1 ? "leaf" : "leaves"} ${missing.join(", ")}${more} of the range [${range.start}, ${range.end}) ${missingCount === 1 ? "is" : "are"} missing` +
          (after ? ` (the first after event ${after.id} at leaf ${after.index})` : ""),
      );
    }
  }
  // The sealer appends in key order only (`recordedAt#id`), so the tree never holds an event after
  // a later one: two events swapped in place show here by name even though each hash holds.
  const seen = new Map<string, number>();
  leaves.forEach((leaf, i) => {
    const prev = leaves[i - 1];
    if (prev?.key && leaf.key && leaf.key <= prev.key) {
      run.fail(
        "proofFailed",
        `event ${leaf.id} (leaf ${leaf.index}) is not after event ${prev.id} (leaf ${prev.index}) in the log's order (recordedAt, id)`,
      );
    }
    const other = seen.get(leaf.id);
    if (other !== undefined)
      run.fail("proofFailed", `event ${leaf.id} appears twice, at leaves ${other} and ${leaf.index}`);
    seen.set(leaf.id, leaf.index);
  });

  // 3. The proof: the leaves as given, at their indexes, give the checkpoint's root.
  let proofOk = false;
  const span = leaves.length
    ? `leaves ${leaves[0]?.index}–${leaves.at(-1)?.index} (${leaves.length} events${range ? `, the range [${range.start}, ${range.end})` : ""})`
    : "no leaves";
  if (!ev.placed) {
    // Nothing to place: the count's failure is the message.
  } else if (!leaves.length) {
    if (ev.proof.length)
      run.fail("proofFailed", `${ev.source} proof has ${ev.proof.length} hashes for no events`);
    else proofOk = true;
  } else if (indexesOk) {
    try {
      const root = rootFromMultiProof(cp.size, leaves, ev.proof);
      if (root.equals(cp.root)) proofOk = true;
      else {
        run.fail(
          "proofFailed",
          `${ev.source} proof of ${span} does not give the root of the checkpoint (size ${cp.size}): an event in it was changed, removed, added or moved`,
        );
      }
    } catch (err: unknown) {
      if (!(err instanceof ProofError)) throw err;
      run.fail("proofFailed", `${ev.source} proof of ${span} fails: ${err.message}`);
    }
  }

  // 4. Consistency with the trusted checkpoint, and whether the tail is pinned.
  const highest = Math.max(range?.end ?? 0, (leaves.at(-1)?.index ?? -1) + 1);
  let consistent = false;
  let newTrusted: TrustedState | undefined;
  const fromCp: TrustedState = {
    origin: cp.origin,
    size: cp.size,
    root: cp.root.toString("base64"),
    checkpoint: ev.note,
  };
  if (!trusted) {
    run.notes.push(
      "first use: no trusted checkpoint to check against; this checkpoint becomes the trusted state",
    );
    newTrusted = fromCp;
  } else if (trusted.origin === cp.origin) {
    const trustedRoot = hashOf(trusted.root) as Buffer;
    if (trusted.size === cp.size) {
      if (trustedRoot.equals(cp.root)) consistent = true;
      else {
        run.fail(
          "inconsistent",
          `the checkpoint and the trusted one both have size ${cp.size} but different roots: two different trees (a fork)`,
        );
      }
    } else {
      const lo = Math.min(trusted.size, cp.size);
      const hi = Math.max(trusted.size, cp.size);
      const [loRoot, hiRoot] = trusted.size < cp.size ? [trustedRoot, cp.root] : [cp.root, trustedRoot];
      const given = options.consistency
        ? parseConsistency("the consistency file", options.consistency)
        : undefined;
      const proof = [given, ev.carried].find((c) => c && c.from === lo && c.to === hi);
      if (!proof) {
        const have = [given, ev.carried]
          .filter((c) => c)
          .map((c) => `${c?.from} → ${c?.to}`)
          .join(", ");
        run.fail(
          "usage",
          `a consistency proof from size ${lo} to ${hi} is needed (trusted size ${trusted.size}, checkpoint size ${cp.size})` +
            `${have ? `; given ${have}` : ""}: fetch GET /v1/log/consistency?from=${lo}&to=${hi} and pass it with --consistency`,
        );
      }
      try {
        if (proof) {
          verifyConsistency(lo, hi, proof.proof, loRoot, hiRoot);
          consistent = true;
        }
      } catch (err: unknown) {
        if (!(err instanceof ProofError)) throw err;
        run.fail(
          "inconsistent",
          `the tree of size ${cp.size} is not consistent with the trusted one of size ${trusted.size}: ${err.message}`,
        );
      }
      if (consistent && proof && proof === given && options.consistency?.checkpoint) {
        crossCheck(run, options.consistency.checkpoint, verifiers, cp.origin, hi, hiRoot);
      }
      if (cp.size < trusted.size) {
        run.notes.push(
          `this checkpoint (size ${cp.size}) is older than your trusted one (size ${trusted.size}); the trusted state stays`,
        );
      }
    }
    if (consistent) newTrusted = cp.size > trusted.size ? fromCp : trusted;
  }
  const tailPinned = !!trusted && consistent && trusted.size >= highest;

  run.summarise();
  const failed = run.failures.map((f) => f.code);
  const worst = failed.length ? Math.min(...failed) : 0;
  let outcome: Outcome =
    (Object.keys(EXIT_CODES) as Outcome[]).find((k) => EXIT_CODES[k] === worst) ?? "verified";
  if (outcome === "verified" && options.requirePinned && !tailPinned) outcome = "tailNotPinned";
  const passed = outcome === "verified" || outcome === "tailNotPinned";
  if (passed && !tailPinned && highest > 0) {
    const first = Math.max(leaves[0]?.index ?? range?.start ?? 0, trusted && consistent ? trusted.size : 0);
    run.notes.push(
      `tail not pinned: leaves ${first}–${highest - 1} are vouched for only by the service's own checkpoint (size ${cp.size}), ` +
        "which came with this evidence; no checkpoint you held before this run covers them. Kept as your trusted state " +
        "(--state), this checkpoint holds the service to them from now on",
    );
  } else if (passed && tailPinned && trusted) {
    run.notes.push(
      `tail pinned: your trusted checkpoint (size ${trusted.size}) covers every leaf here and is consistent with this one`,
    );
  }
  const time = cp.extensions.find((e) => e.startsWith("time "))?.slice(5);
  return {
    ok: outcome === "verified",
    outcome,
    exitCode: EXIT_CODES[outcome],
    kind: ev.kind,
    messages: run.failures.map((f) => f.message),
    failures: run.failures,
    notes: run.notes,
    workspace: ev.workspace,
    checkpoint: {
      origin: cp.origin,
      size: cp.size,
      root: cp.root.toString("base64"),
      signedBy,
      ...(time ? { time } : {}),
    },
    range,
    events: leaves.length,
    eventsVerified: proofOk && ev.placed && !run.has("hashMismatch", "malformed") ? leaves.length : 0,
    tailPinned,
    ...(trusted ? { trusted: { size: trusted.size, consistent } } : {}),
    ...(passed && newTrusted ? { newTrusted } : {}),
    stateChanged: passed && !!newTrusted && newTrusted !== trusted,
  };
}

/** A consistency file's checkpoint of exactly the size proven to must be the root proven to. */
function crossCheck(
  run: Run,
  note: string,
  verifiers: NoteVerifier[],
  origin: string,
  size: number,
  root: Buffer,
) {
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(splitNote(note).text);
  } catch {
    run.fail("malformed", "the consistency file's checkpoint is not a signed checkpoint");
    return;
  }
  if (cp.size !== size) return;
  try {
    openNote(note, verifiers);
  } catch (err: unknown) {
    run.fail(
      "untrustedCheckpoint",
      `the consistency file's checkpoint (size ${size}) is not signed by a pinned key: ${(err as Error).message}`,
    );
    return;
  }
  if (cp.origin !== origin)
    run.fail("untrustedCheckpoint", `the consistency file's checkpoint is for ${cp.origin}, not ${origin}`);
  else if (!cp.root.equals(root))
    run.fail(
      "inconsistent",
      `the consistency file's checkpoint of size ${size} has another root than the one proven`,
    );
}

/** A day with `log: null`: no checkpoint, nothing to prove beyond the file being empty. */
function withoutLog(run: Run, workspace: string, events: number, options: VerifyOptions): VerifyReport {
  run.summarise();
  const worst = run.failures.length ? Math.min(...run.failures.map((f) => f.code)) : 0;
  const outcome = (Object.keys(EXIT_CODES) as Outcome[]).find((k) => EXIT_CODES[k] === worst) ?? "verified";
  const passed = outcome === "verified";
  if (passed) run.notes.push("the day has no events: there is nothing in the log to check");
  const trusted = options.trusted && options.trusted.size > 0 ? options.trusted : undefined;
  return {
    ok: passed,
    outcome,
    exitCode: EXIT_CODES[outcome],
    kind: "day",
    messages: run.failures.map((f) => f.message),
    failures: run.failures,
    notes: run.notes,
    workspace,
    range: null,
    events,
    eventsVerified: 0,
    // Nothing here needs a checkpoint, so nothing is left unpinned.
    tailPinned: passed,
    ...(passed && trusted ? { newTrusted: trusted } : {}),
    stateChanged: false,
  };
}

async function readInput(input: EvidenceInput): Promise<Buffer> {
  if (typeof input === "string") return readFile(input);
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function guarded(kind: "bundle" | "day", body: () => Promise<VerifyReport>): Promise<VerifyReport> {
  try {
    return await body();
  } catch (err: unknown) {
    if (err instanceof Stop) return emptyReport(kind, err.outcome, err.message);
    if (err instanceof GzipError) return emptyReport(kind, "malformed", err.message);
    if (err instanceof NoteError || err instanceof ProofError)
      return emptyReport(kind, "malformed", err.message);
    // Unreadable files, bad keys or state: the caller's input, not the evidence.
    return emptyReport(kind, "usage", err instanceof Error ? err.message : String(err));
  }
}

// ---------------------------------------------------------------------------------------------
// evidence bundles

/**
 * Verifies an evidence bundle (functions/shared/tlog/bundle.ts): complete gzip members (none empty, nothing after the last) of NDJSON
 * — header, entries in leaf order, trailer — every event re-canonicalised and its hash recomputed,
 * the multi-leaf proof of all entries against the checkpoint, which must open with a pinned key;
 * for a range bundle, exactly the leaves [start, end). Then consistency with the trusted state.
 */
export function verifyBundle(input: EvidenceInput, options: VerifyOptions): Promise<VerifyReport> {
  return guarded("bundle", async () => {
    const bytes = await readInput(input);
    const run = new Run();
    const { data } = gunzipExact(bytes, { multi: options.allowMultipleMembers, maxBytes: options.maxBytes });
    const all = lines(data);
    if (all.length < 2) throw new Stop("malformed", "the bundle needs a header and a trailer line");
    const header = parseLine(all[0] as Buffer, "line 1 (the header)");
    if (!isObject(header)) throw new Stop("malformed", "line 1 (the header) is not a JSON object");
    if (header.format !== BUNDLE_FORMAT) {
      throw new Stop(
        "malformed",
        `the bundle's format is ${JSON.stringify(header.format)}, not ${BUNDLE_FORMAT}`,
      );
    }
    const { workspace, checkpoint, count } = header;
    if (typeof workspace !== "string" || !workspace)
      throw new Stop("malformed", "the header names no workspace");
    if (typeof checkpoint !== "string") throw new Stop("malformed", "the header holds no checkpoint");
    if (!isSize(count)) throw new Stop("malformed", "the header's count is not a number of events");
    let range: { start: number; end: number } | null = null;
    if (header.range !== null) {
      const r = header.range;
      if (!isObject(r) || !isSize(r.start) || !isSize(r.end) || r.start > r.end)
        throw new Stop("malformed", "the header's range is not null or {start, end} with start ≤ end");
      range = { start: r.start, end: r.end };
    }
    // The service names the range of every bundle that holds events: without one, events left out
    // of the middle would go unseen (a multi-leaf proof proves what is there, not what is missing).
    if (range === null && count > 0) {
      throw new Stop(
        "malformed",
        `the header names no leaf range for its ${count} events: nothing shows none is missing`,
      );
    }

    // Nothing may follow the trailer: not a line, not an appended gzip member.
    if (all.length > count + 2) {
      const at = parseLine(all[count + 1] as Buffer, `line ${count + 2}`);
      if (isObject(at) && "proof" in at && !("event" in at)) {
        throw new Stop(
          "malformed",
          `${all.length - count - 2} line(s) after the trailer (line ${count + 2}): data appended to the bundle, such as another gzip member`,
        );
      }
    }
    const lastLine = all.length;
    const trailer = parseLine(all[lastLine - 1] as Buffer, `line ${lastLine} (the trailer)`);
    if (!isObject(trailer) || !("proof" in trailer) || "event" in trailer) {
      throw new Stop("malformed", `the bundle ends at line ${lastLine} without its trailer (cut short?)`);
    }
    const proof = parseProof("the trailer's proof", trailer.proof);
    const carried =
      trailer.consistency === undefined
        ? undefined
        : parseConsistency("the trailer's consistency proof", trailer.consistency);

    const leaves: Leaf[] = [];
    for (let n = 1; n < lastLine - 1; n++) {
      const prev = leaves.at(-1);
      const where = `line ${n + 1}${prev ? ` (after event ${prev.id} at leaf ${prev.index})` : ""}`;
      const entry = parseLine(all[n] as Buffer, where);
      if (!isObject(entry) || !isSize(entry.index) || !isObject(entry.event)) {
        throw new Stop("malformed", `${where} is not an entry {index, event}`);
      }
      leaves.push(leafOfEvent(run, entry.event, entry.index, where));
    }
    if (leaves.length !== count) {
      run.fail("malformed", `the header says ${count} events follow; the bundle holds ${leaves.length}`);
    }
    if (range && leaves.length !== range.end - range.start) {
      run.fail(
        "proofFailed",
        `the bundle holds ${leaves.length} events; its range [${range.start}, ${range.end}) has ${range.end - range.start}`,
      );
    }
    return verifyEvidence(
      {
        kind: "bundle",
        workspace,
        note: checkpoint,
        range,
        leaves,
        proof,
        source: "the bundle's",
        placed: true,
        ...(carried ? { carried } : {}),
      },
      options,
      run,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// nightly days

const OLD_MERKLE_ALGORITHM = "RFC 6962 SHA-256, leaves in file order";

/**
 * Verifies a nightly day: the data file is the one the manifest names (SHA-256 and size), one gzip
 * member (see {@link DayOptions.allowMultipleMembers}) of NDJSON stored events; each is
 * re-canonicalised and its hash recomputed; their number is the manifest's count and the range's
 * length; the range proof puts exactly them at leaves [start, end) of the tree of a checkpoint
 * that opens with a pinned key and covers `end`. Then consistency with the trusted state.
 */
export function verifyDay(
  manifestInput: EvidenceInput,
  dataInput: EvidenceInput,
  options: DayOptions,
): Promise<VerifyReport> {
  return guarded("day", async () => {
    const manifestBytes = await readInput(manifestInput);
    const bytes = await readInput(dataInput);
    const run = new Run();
    let manifest: unknown;
    try {
      manifest = JSON.parse(utf8.decode(manifestBytes));
    } catch {
      throw new Stop("malformed", "the manifest is not JSON");
    }
    if (!isObject(manifest)) throw new Stop("malformed", "the manifest is not a JSON object");
    if (manifest.version !== 1)
      throw new Stop("malformed", `manifest version ${JSON.stringify(manifest.version)} is not 1`);
    const { workspace, day, data: file, log } = manifest;
    if (typeof workspace !== "string" || !workspace)
      throw new Stop("malformed", "the manifest names no workspace");
    if (!isObject(file) || typeof file.sha256 !== "string" || !isSize(file.bytes))
      throw new Stop("malformed", "the manifest's data member is not {key, sha256, bytes, …}");
    if (file.encoding !== "gzip" || file.format !== "ndjson") {
      throw new Stop(
        "malformed",
        `the day file is ${JSON.stringify(file.format)} / ${JSON.stringify(file.encoding)}, not ndjson / gzip`,
      );
    }
    // `log: null` is a day without events (nothing in the tree to point at); absent, a manifest
    // written before the verifiable log, which cannot be verified against it.
    if (log !== null && !isObject(log))
      throw new Stop("malformed", "the manifest has no log member (written before the verifiable log?)");
    let range = { start: 0, end: 0 };
    let note = "";
    let proof: Buffer[] = [];
    if (log) {
      const r = log.range;
      if (!isObject(r) || !isSize(r.start) || !isSize(r.end) || r.start > r.end)
        throw new Stop("malformed", "the manifest's log range is not {start, end} with start ≤ end");
      range = { start: r.start, end: r.end };
      if (typeof log.checkpoint !== "string")
        throw new Stop("malformed", "the manifest's log member holds no checkpoint");
      note = log.checkpoint;
      proof = parseProof("the manifest's range proof", log.proof);
    }

    const sha = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== file.bytes) {
      run.fail("malformed", `the day file is ${bytes.length} bytes; the manifest says ${file.bytes}`);
    }
    if (sha !== file.sha256)
      run.fail("malformed", `the day file's SHA-256 is ${sha}; the manifest says ${file.sha256}`);

    const { data, members } = gunzipExact(bytes, {
      multi: options.allowMultipleMembers,
      maxBytes: options.maxBytes,
    });
    const all = lines(data);
    const leaves: Leaf[] = [];
    const hashes: string[] = [];
    const recorded: string[] = [];
    all.forEach((line, n) => {
      const index = range.start + n;
      const prev = leaves.at(-1);
      const where = `line ${n + 1} of the day file (leaf ${index}${prev ? `, after event ${prev.id}` : ""})`;
      const event = parseLine(line, where);
      if (!isObject(event)) throw new Stop("malformed", `${where} is not a JSON object`);
      leaves.push(leafOfEvent(run, event, index, where));
      hashes.push(typeof event.hash === "string" ? event.hash : "");
      recorded.push(typeof event.recordedAt === "string" ? event.recordedAt : "");
    });

    if (isSize(manifest.eventCount) && manifest.eventCount !== leaves.length) {
      run.fail(
        "malformed",
        `the day file holds ${leaves.length} events; the manifest's eventCount is ${manifest.eventCount}`,
      );
    }
    if (!log && leaves.length) {
      run.fail(
        "proofFailed",
        `the manifest says the day has no events in the log (log: null), but the day file holds ${leaves.length}, the first event ${leaves[0]?.id}`,
      );
    } else if (leaves.length !== range.end - range.start) {
      run.fail(
        "proofFailed",
        `the day file holds ${leaves.length} events; the manifest's range [${range.start}, ${range.end}) has ${range.end - range.start}`,
      );
    }
    if (typeof day === "string") {
      recorded.forEach((at, n) => {
        if (!at.startsWith(`${day}T`)) {
          run.fail(
            "malformed",
            `event ${leaves[n]?.id} (leaf ${range.start + n}) was recorded at ${at || "?"}, not on ${day}`,
          );
        }
      });
    }
    if (manifest.firstRecordedAt !== undefined && (manifest.firstRecordedAt ?? "") !== (recorded[0] ?? "")) {
      run.fail(
        "malformed",
        `the manifest's firstRecordedAt ${manifest.firstRecordedAt} is not the first event's (${recorded[0] ?? "none"})`,
      );
    }
    if (
      manifest.lastRecordedAt !== undefined &&
      (manifest.lastRecordedAt ?? "") !== (recorded.at(-1) ?? "")
    ) {
      run.fail(
        "malformed",
        `the manifest's lastRecordedAt ${manifest.lastRecordedAt} is not the last event's (${recorded.at(-1) ?? "none"})`,
      );
    }
    const eh = manifest.eventHashes;
    if (
      isObject(eh) &&
      eh.algorithm === OLD_MERKLE_ALGORITHM &&
      hashes.every((h) => /^[a-f0-9]{64}$/.test(h))
    ) {
      if (merkleRoot(hashes) !== eh.merkleRoot)
        run.fail(
          "malformed",
          "the manifest's eventHashes.merkleRoot is not the root of the day file's event hashes",
        );
    }
    if (!log) return withoutLog(run, workspace, leaves.length, options);
    if (log.origin !== undefined) {
      try {
        const origin = parseCheckpoint(splitNote(note).text).origin;
        if (log.origin !== origin)
          run.fail(
            "untrustedCheckpoint",
            `the manifest's log origin ${String(log.origin)} is not its checkpoint's ${origin}`,
          );
      } catch {
        // verifyEvidence reports an unreadable checkpoint.
      }
    }
    const report = verifyEvidence(
      {
        kind: "day",
        workspace,
        note,
        range,
        leaves,
        proof,
        source: "the manifest's",
        placed: leaves.length === range.end - range.start,
      },
      options,
      run,
    );
    if (members > 1) report.notes.push(`the day file is ${members} gzip members`);
    return report;
  });
}
