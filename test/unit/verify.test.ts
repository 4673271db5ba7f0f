import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { merkleRoot } from "../../functions/shared/merkle.js";
import { BUNDLE_FORMAT } from "../../functions/shared/tlog/bundle.js";
import {
  consistencySpans,
  leafHash,
  multiProofSpans,
  nodeHash,
  type Span,
  splitPoint,
} from "../../functions/shared/tlog/merkle.js";
import {
  ecdsaVerifierKey,
  formatCheckpoint,
  keyIdOfSpki,
  type NoteSigner,
  signNote,
} from "../../functions/shared/tlog/note.js";
import {
  type DayOptions,
  EXIT_CODES,
  gunzipExact,
  type TrustedState,
  type VerifyOptions,
  type VerifyReport,
  verifyBundle,
  verifyDay,
} from "../../functions/shared/tlog/verify.js";

// ---- evidence made here with the tlog library, as the service makes it ----

const WS = "ws-verify";
const LOG = "audit-log.test";
const ORIGIN = `${LOG}/${WS}`;
const DAY = "2026-03-09";
const T0 = Date.parse(`${DAY}T00:00:00.000Z`);

type Stored = Record<string, unknown> & { id: string; hash: string };

const withHash = (content: Record<string, unknown>): Stored =>
  ({ ...content, hash: sha256Hex(canonicalJson(content)) }) as Stored;

function eventAt(i: number, salt = ""): Stored {
  const at = new Date(T0 + i * 10_000).toISOString();
  return withHash({
    id: `ev-${String(i).padStart(4, "0")}${salt}`,
    type: "incident.opened",
    category: "incident",
    recordedAt: at,
    occurredAt: at,
    actor: { type: "system", id: "system" },
    node: { id: "nyc-edge-01" },
    outcome: "success",
    context: { n: i, peak: { pps: 1_840_000 + i, bps: 9.42e9 } },
  });
}

const contentOf = ({ hash: _h, ...rest }: Stored) => rest;
const rehash = (e: Stored) => withHash(contentOf(e));
const leafOf = (e: Stored) => leafHash(Buffer.from(canonicalJson(contentOf(e))));

interface Key {
  verifierKey: string;
  signer: NoteSigner;
}

function keyNamed(name: string): Key {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ format: "der", type: "spki" });
  return {
    verifierKey: ecdsaVerifierKey(name, spki),
    signer: {
      name,
      keyId: keyIdOfSpki(spki),
      sign: async (text) => sign("sha256", text, { key: privateKey as KeyObject, dsaEncoding: "der" }),
    },
  };
}

/** A tree over stored events, hashed by the RFC's own recursion (memoised). */
class Tree {
  readonly leaves: Buffer[];
  private readonly memo = new Map<string, Buffer>();
  constructor(readonly events: Stored[]) {
    this.leaves = events.map(leafOf);
  }
  hash([lo, hi]: Span): Buffer {
    const k = `${lo}:${hi}`;
    const hit = this.memo.get(k);
    if (hit) return hit;
    const h =
      hi - lo === 1
        ? (this.leaves[lo] as Buffer)
        : nodeHash(this.hash([lo, lo + splitPoint(hi - lo)]), this.hash([lo + splitPoint(hi - lo), hi]));
    this.memo.set(k, h);
    return h;
  }
  root(size = this.events.length): Buffer {
    return this.hash([0, size]);
  }
  checkpoint(size: number, key: Key = OURS, origin = ORIGIN): Promise<string> {
    const text = formatCheckpoint({
      origin,
      size,
      root: this.root(size),
      extensions: [`time ${new Date(T0 + 86_400_000).toISOString()}`],
    });
    return signNote(text, [key.signer]);
  }
  multiProof(size: number, indexes: number[]): string[] {
    return multiProofSpans(size, indexes).map((s) => this.hash(s).toString("base64"));
  }
  consistency(from: number, to: number): string[] {
    return consistencySpans(from, to).map((s) => this.hash(s).toString("base64"));
  }
  async trusted(size: number): Promise<TrustedState> {
    return {
      origin: ORIGIN,
      size,
      root: this.root(size).toString("base64"),
      checkpoint: await this.checkpoint(size),
    };
  }
}

interface BundleParts {
  header: Record<string, unknown>;
  entries: { index: number; event: Stored }[];
  trailer: Record<string, unknown>;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

async function makeBundle(
  tree: Tree,
  opts: {
    size: number;
    indexes: number[];
    range?: { start: number; end: number } | null;
    key?: Key;
    origin?: string;
    workspace?: string;
    consistencyFrom?: number;
    edit?: (p: BundleParts) => void;
  },
): Promise<Buffer> {
  const parts: BundleParts = {
    header: {
      format: BUNDLE_FORMAT,
      workspace: opts.workspace ?? WS,
      checkpoint: await tree.checkpoint(opts.size, opts.key, opts.origin),
      filters: opts.range ? {} : { type: "incident.*" },
      range: opts.range ?? null,
      count: opts.indexes.length,
      createdAt: new Date(T0 + 86_400_000).toISOString(),
    },
    entries: opts.indexes.map((index) => ({ index, event: tree.events[index] as Stored })),
    trailer: {
      proof: opts.indexes.length ? tree.multiProof(opts.size, opts.indexes) : [],
      ...(opts.consistencyFrom !== undefined
        ? {
            consistency: {
              from: opts.consistencyFrom,
              to: opts.size,
              proof: tree.consistency(opts.consistencyFrom, opts.size),
            },
          }
        : {}),
    },
  };
  opts.edit?.(parts);
  const text = [parts.header, ...parts.entries, parts.trailer].map((l) => `${JSON.stringify(l)}\n`).join("");
  return gzipSync(Buffer.from(text));
}

/** A nightly day: manifest + events.ndjson.gz for leaves [start, end) against a checkpoint of `size`. */
async function makeDay(
  tree: Tree,
  opts: {
    start: number;
    end: number;
    size: number;
    /** Tamper with the day's events before they are written. */
    edit?: (events: Stored[]) => Stored[];
    /** Bring the manifest's file fields in line with the edited file (as an insider with write access would). */
    fixManifest?: boolean;
    /** Tamper with the gzip bytes. */
    bytes?: (gz: Buffer) => Buffer;
  },
): Promise<{ manifest: Buffer; data: Buffer }> {
  const genuine = tree.events.slice(opts.start, opts.end);
  const events = opts.edit ? opts.edit([...genuine]) : genuine;
  const gz = (list: Stored[]) => gzipSync(Buffer.from(list.map((e) => `${JSON.stringify(e)}\n`).join("")));
  const described = opts.fixManifest ? events : genuine;
  const described_gz = opts.bytes && opts.fixManifest ? opts.bytes(gz(described)) : gz(described);
  const data = opts.bytes ? opts.bytes(gz(events)) : gz(events);
  const manifest = {
    version: 1,
    workspace: WS,
    day: DAY,
    eventCount: described.length,
    firstRecordedAt: described[0]?.recordedAt ?? null,
    lastRecordedAt: described.at(-1)?.recordedAt ?? null,
    data: {
      key: `exports/${WS}/2026/03/09/events.ndjson.gz`,
      sha256: sha256Hex(described_gz),
      bytes: described_gz.length,
      encoding: "gzip",
      format: "ndjson",
    },
    eventHashes: {
      merkleRoot: merkleRoot(described.map((e) => e.hash)),
      algorithm: "RFC 6962 SHA-256, leaves in file order",
    },
    previousManifestSha256: null,
    retainUntil: "2027-03-09T00:00:00.000Z",
    log: {
      origin: ORIGIN,
      range: { start: opts.start, end: opts.end },
      checkpoint: await tree.checkpoint(opts.size),
      proof: opts.end > opts.start ? tree.multiProof(opts.size, range(opts.start, opts.end)) : [],
    },
  };
  return { manifest: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), data };
}

const OURS = keyNamed(LOG);
const THEIRS = keyNamed("someone.else");
/** Same name as ours, another key: an operator signing with a key of their own making. */
const IMPOSTOR = keyNamed(LOG);

const N = 450;
const events = Array.from({ length: N }, (_, i) => eventAt(i));
const tree = new Tree(events);
const base: VerifyOptions = { verifierKeys: [OURS.verifierKey] };

/** The range bundle most cases start from: leaves [100, 300) against a checkpoint of size 400. */
const rangeBundle = (
  edit?: (p: BundleParts) => void,
  extra: Partial<Parameters<typeof makeBundle>[1]> = {},
) =>
  makeBundle(tree, { size: 400, indexes: range(100, 300), range: { start: 100, end: 300 }, edit, ...extra });

const expectOutcome = (r: VerifyReport, outcome: keyof typeof EXIT_CODES) => {
  expect(r.outcome, r.messages.join("\n")).toBe(outcome);
  expect(r.exitCode).toBe(EXIT_CODES[outcome]);
};

let good: Buffer;
beforeAll(async () => {
  good = await rangeBundle();
});

describe("exit codes", () => {
  it("are distinct, one per outcome, and 0 only for verified", () => {
    const codes = Object.values(EXIT_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT_CODES).toEqual({
      verified: 0,
      usage: 1,
      malformed: 2,
      untrustedCheckpoint: 3,
      hashMismatch: 4,
      proofFailed: 5,
      inconsistent: 6,
      tailNotPinned: 7,
    });
  });
});

describe("a good evidence bundle", () => {
  it("verifies on first use, says the tail is not pinned, and offers its checkpoint as the state", async () => {
    // Act
    const r = await verifyBundle(good, base);
    // Assess
    expectOutcome(r, "verified");
    expect(r).toMatchObject({
      ok: true,
      kind: "bundle",
      workspace: WS,
      events: 200,
      eventsVerified: 200,
      tailPinned: false,
      stateChanged: true,
      range: { start: 100, end: 300 },
      checkpoint: { origin: ORIGIN, size: 400, root: tree.root(400).toString("base64"), signedBy: [LOG] },
      newTrusted: { origin: ORIGIN, size: 400, root: tree.root(400).toString("base64") },
    });
    expect(r.notes.join("\n")).toMatch(/first use/);
    expect(r.notes.join("\n")).toMatch(
      /tail not pinned: leaves 100–299 are vouched for only by the service's own/,
    );
    expect(r.notes.join("\n")).toMatch(
      /origin audit-log.test\/ws-verify accepted because it ends with \/ws-verify/,
    );
  });

  it("gives 7 instead of 0 with requirePinned when the tail is not pinned", async () => {
    const r = await verifyBundle(good, { ...base, requirePinned: true });
    expectOutcome(r, "tailNotPinned");
    expect(r.ok).toBe(false);
    expect(r.newTrusted?.size).toBe(400);
  });

  it("is pinned by a trusted checkpoint from before that covers its leaves, with a consistency proof", async () => {
    // Prepare: the auditor kept size 350 (≥ 300, the range's end); the service gives 350 → 400.
    const trusted = await tree.trusted(350);
    const consistency = {
      from: 350,
      to: 400,
      proof: tree.consistency(350, 400),
      checkpoint: await tree.checkpoint(400),
    };
    // Act
    const r = await verifyBundle(good, { ...base, trusted, consistency, requirePinned: true });
    // Assess
    expectOutcome(r, "verified");
    expect(r).toMatchObject({
      tailPinned: true,
      trusted: { size: 350, consistent: true },
      stateChanged: true,
    });
    expect(r.newTrusted?.size).toBe(400);
  });

  it("is consistent but not pinned when the trusted checkpoint is shorter than its last leaf", async () => {
    const trusted = await tree.trusted(250);
    const consistency = { from: 250, to: 400, proof: tree.consistency(250, 400) };
    const r = await verifyBundle(good, { ...base, trusted, consistency });
    expectOutcome(r, "verified");
    expect(r).toMatchObject({ tailPinned: false, trusted: { size: 250, consistent: true } });
    expect(r.notes.join("\n")).toMatch(/leaves 250–299 are vouched for only/);
    expect((await verifyBundle(good, { ...base, trusted, consistency, requirePinned: true })).exitCode).toBe(
      7,
    );
  });

  it("uses the consistency proof the bundle's trailer carries", async () => {
    const bundle = await rangeBundle(undefined, { consistencyFrom: 350 });
    const r = await verifyBundle(bundle, { ...base, trusted: await tree.trusted(350) });
    expectOutcome(r, "verified");
    expect(r.tailPinned).toBe(true);
  });

  it("with a trusted checkpoint of the same size and root: pinned, the state unchanged", async () => {
    const trusted = await tree.trusted(400);
    const r = await verifyBundle(good, { ...base, trusted });
    expectOutcome(r, "verified");
    expect(r).toMatchObject({ tailPinned: true, stateChanged: false, newTrusted: trusted });
  });

  it("older than the trusted checkpoint: proven a prefix of it, pinned, the state kept", async () => {
    const trusted = await tree.trusted(450);
    const consistency = { from: 400, to: 450, proof: tree.consistency(400, 450) };
    const r = await verifyBundle(good, { ...base, trusted, consistency });
    expectOutcome(r, "verified");
    expect(r).toMatchObject({ tailPinned: true, stateChanged: false, newTrusted: { size: 450 } });
    expect(r.notes.join("\n")).toMatch(/older than your trusted one \(size 450\)/);
  });

  it("a state written by one run pins the next run's bundle", async () => {
    // Prepare: first use on a bundle of size 300, keep its state.
    const early = await makeBundle(tree, {
      size: 300,
      indexes: range(0, 300),
      range: { start: 0, end: 300 },
    });
    const first = await verifyBundle(early, base);
    expect(first.tailPinned).toBe(false);
    const state = first.newTrusted as TrustedState;
    // Act: a later bundle [100, 300) against 400, with 300 → 400.
    const second = await verifyBundle(good, {
      ...base,
      trusted: state,
      consistency: { from: 300, to: 400, proof: tree.consistency(300, 400) },
    });
    // Assess
    expectOutcome(second, "verified");
    expect(second.tailPinned).toBe(true);
  });

  it("a bundle of scattered leaves with no range is refused: events left out of the middle would go unseen", async () => {
    // What an attacker makes of a range bundle: drop leaves 4–16, set range null, rebuild the proof.
    const indexes = [3, 17, 18, 64, 200, 399];
    const r = await verifyBundle(await makeBundle(tree, { size: 400, indexes }), base);
    expectOutcome(r, "malformed");
    expect(r.messages).toEqual([
      "the header names no leaf range for its 6 events: nothing shows none is missing",
    ]);
  });

  it("an empty range verifies with an empty proof", async () => {
    const r = await verifyBundle(
      await makeBundle(tree, { size: 400, indexes: [], range: { start: 400, end: 400 } }),
      base,
    );
    expectOutcome(r, "verified");
    expect(r.events).toBe(0);
  });

  it("reads a file path and a stream as well as bytes", async () => {
    async function* chunks() {
      for (let i = 0; i < good.length; i += 1000) yield good.subarray(i, i + 1000);
    }
    expect((await verifyBundle(chunks(), base)).exitCode).toBe(0);
    expect((await verifyBundle("/nonexistent/bundle.ndjson.gz", base)).exitCode).toBe(EXIT_CODES.usage);
  });
});

describe("tampering with a bundle is detected and named", () => {
  it("an event's field edited: exit 4, naming the event and its leaf", async () => {
    const bundle = await rangeBundle((p) => {
      const e = p.entries[50] as { event: Stored };
      e.event = { ...e.event, actor: { type: "user", id: "mallory@evil.example" } };
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "hashMismatch");
    expect(r.messages[0]).toMatch(/^event ev-0150 \(leaf 150\): its content does not match its hash/);
    expect(r.eventsVerified).toBe(0);
    expect(r.newTrusted).toBeUndefined();
  });

  it("an event's field edited and its hash recomputed: exit 5, naming the leaves the proof covers", async () => {
    const bundle = await rangeBundle((p) => {
      const e = p.entries[50] as { event: Stored };
      e.event = rehash({ ...e.event, sourceIp: "198.51.100.66" });
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(
      /proof of leaves 100–299 \(200 events, the range \[100, 300\)\) does not give the root of the checkpoint \(size 400\)/,
    );
  });

  it("an event deleted from a range bundle (count adjusted): exit 5, naming the missing leaf", async () => {
    const bundle = await rangeBundle((p) => {
      p.entries.splice(50, 1);
      p.header.count = 199;
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(
      /leaf 150 of the range \[100, 300\) is missing \(the first after event ev-0149 at leaf 149\)/,
    );
  });

  it("an event deleted and the count left: exit 2 (count mismatch), still naming the missing leaf", async () => {
    const r = await verifyBundle(await rangeBundle((p) => void p.entries.splice(50, 1)), base);
    expectOutcome(r, "malformed");
    expect(r.messages).toContain("the header says 200 events follow; the bundle holds 199");
    expect(r.messages.join("\n")).toMatch(/leaf 150 of the range \[100, 300\) is missing/);
  });

  it("an event deleted and the later ones renumbered: exit 5, the proof names the range", async () => {
    const bundle = await rangeBundle((p) => {
      p.entries.splice(50, 1);
      p.entries.forEach((e, i) => {
        e.index = 100 + i;
      });
      p.header.count = 199;
      p.header.range = { start: 100, end: 299 };
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(/leaves 100–298 .* the range \[100, 299\)/);
  });

  it("an event inserted at a taken index: exit 5, naming the index and the event", async () => {
    const forged = withHash({ ...contentOf(events[150] as Stored), id: "ev-forged", context: { n: -1 } });
    const bundle = await rangeBundle((p) => {
      p.entries.splice(51, 0, { index: 150, event: forged });
      p.header.count = 201;
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(
      /event ev-forged has leaf index 150, not above the index 150 of the event before it \(ev-0150\)/,
    );
  });

  it("an event inserted past the range: exit 5, naming the leaf outside it", async () => {
    const bundle = await rangeBundle((p) => {
      p.entries.push({ index: 300, event: events[300] as Stored });
      p.header.count = 201;
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(/event ev-0300 at leaf 300 is outside the range \[100, 300\)/);
  });

  it("an event inserted in key order and everything renumbered: exit 5 by the proof", async () => {
    const at = new Date(T0 + 150 * 10_000 + 5_000).toISOString();
    const forged = withHash({
      ...contentOf(events[150] as Stored),
      id: "ev-0150a",
      recordedAt: at,
      occurredAt: at,
    });
    const bundle = await rangeBundle((p) => {
      p.entries.splice(51, 0, { index: 0, event: forged });
      p.entries.forEach((e, i) => {
        e.index = 100 + i;
      });
      p.header.count = 201;
      p.header.range = { start: 100, end: 301 };
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(/leaves 100–300/);
  });

  it("two lines swapped: exit 5, naming both events and leaves", async () => {
    const bundle = await rangeBundle((p) => {
      const [a, b] = [p.entries[10], p.entries[11]] as [BundleParts["entries"][0], BundleParts["entries"][0]];
      p.entries[10] = b;
      p.entries[11] = a;
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(
      /event ev-0110 has leaf index 110, not above the index 111 of the event before it \(ev-0111\)/,
    );
  });

  it("two events swapped under unchanged indexes: exit 5, naming the pair out of the log's order", async () => {
    const bundle = await rangeBundle((p) => {
      const a = (p.entries[10] as { event: Stored }).event;
      (p.entries[10] as { event: Stored }).event = (p.entries[11] as { event: Stored }).event;
      (p.entries[11] as { event: Stored }).event = a;
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(
      /event ev-0110 \(leaf 111\) is not after event ev-0111 \(leaf 110\) in the log's order/,
    );
    expect(r.messages.join("\n")).toMatch(/does not give the root/);
  });

  it("a checkpoint signed by another key: exit 3", async () => {
    const r = await verifyBundle(await rangeBundle(undefined, { key: THEIRS }), base);
    expectOutcome(r, "untrustedCheckpoint");
    expect(r.messages[0]).toMatch(
      /the checkpoint of audit-log.test\/ws-verify \(size 400\) is not signed by a pinned key \(audit-log.test\)/,
    );
    expect(r.newTrusted).toBeUndefined();
  });

  it("a checkpoint signed by another key under our key's name: exit 3", async () => {
    const r = await verifyBundle(await rangeBundle(undefined, { key: IMPOSTOR }), base);
    expectOutcome(r, "untrustedCheckpoint");
  });

  it("a checkpoint's text edited after signing: exit 3", async () => {
    const bundle = await rangeBundle((p) => {
      p.header.checkpoint = (p.header.checkpoint as string).replace("\n400\n", "\n401\n");
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "untrustedCheckpoint");
    expect(r.messages[0]).toMatch(/does not verify/);
  });

  it("a wrong origin: pinned, unpinned (another workspace's log), and the trusted state's", async () => {
    const pinned = await verifyBundle(good, { ...base, origin: "audit-log.prod/ws-verify" });
    expectOutcome(pinned, "untrustedCheckpoint");
    expect(pinned.messages[0]).toBe(
      "the checkpoint's origin audit-log.test/ws-verify is not the pinned origin audit-log.prod/ws-verify",
    );
    const otherLog = await verifyBundle(await rangeBundle(undefined, { origin: `${LOG}/other` }), base);
    expectOutcome(otherLog, "untrustedCheckpoint");
    expect(otherLog.messages.join("\n")).toMatch(
      /origin audit-log.test\/other is not the log of workspace ws-verify/,
    );
    const trusted = { ...(await tree.trusted(400)) };
    const otherTree = new Tree(events);
    const otherState: TrustedState = {
      origin: `${LOG}/other`,
      size: 400,
      root: trusted.root,
      checkpoint: await otherTree.checkpoint(400, OURS, `${LOG}/other`),
    };
    const state = await verifyBundle(good, { ...base, trusted: otherState });
    expectOutcome(state, "untrustedCheckpoint");
    expect(state.messages.join("\n")).toMatch(/not the trusted state's origin audit-log.test\/other/);
  });

  it("a shorter tree after a longer trusted one (an event deleted, re-sealed): exit 6", async () => {
    // Prepare: the auditor holds size 400. An insider deletes event 120 and re-seals: 399 leaves,
    // signed with the service's own key, and a "consistency proof" from the forged tree.
    const trusted = await tree.trusted(400);
    const forgedTree = new Tree(events.filter((_, i) => i !== 120).slice(0, 399));
    const bundle = await makeBundle(forgedTree, {
      size: 399,
      indexes: range(100, 299),
      range: { start: 100, end: 299 },
    });
    const consistency = {
      from: 399,
      to: 400,
      proof: new Tree([...forgedTree.events, events[449] as Stored]).consistency(399, 400),
    };
    // Act
    const r = await verifyBundle(bundle, { ...base, trusted, consistency });
    // Assess: the bundle itself is well made; only the trusted checkpoint catches it.
    expectOutcome(r, "inconsistent");
    expect(r.messages[0]).toMatch(/the tree of size 399 is not consistent with the trusted one of size 400/);
    expect(r).toMatchObject({ tailPinned: false, trusted: { size: 400, consistent: false } });
    expect(r.newTrusted).toBeUndefined();
    // Without a proof, it cannot be checked at all: a usage error saying what to fetch.
    const none = await verifyBundle(bundle, { ...base, trusted });
    expectOutcome(none, "usage");
    expect(none.messages[0]).toMatch(
      /a consistency proof from size 399 to 400 is needed .*GET \/v1\/log\/consistency\?from=399&to=400/,
    );
  });

  it("a tree of the same size with another root (a fork): exit 6", async () => {
    const forked = new Tree(events.map((e, i) => (i === 120 ? rehash({ ...e, outcome: "failure" }) : e)));
    const bundle = await makeBundle(forked, {
      size: 400,
      indexes: range(100, 300),
      range: { start: 100, end: 300 },
    });
    const r = await verifyBundle(bundle, { ...base, trusted: await tree.trusted(400) });
    expectOutcome(r, "inconsistent");
    expect(r.messages[0]).toMatch(/both have size 400 but different roots/);
  });

  it("a bundle with an extra gzip member, or an empty one: exit 2, naming the line or byte", async () => {
    const extra = gzipSync(Buffer.from(`${JSON.stringify({ index: 300, event: events[300] })}\n`));
    const r = await verifyBundle(Buffer.concat([good, extra]), base);
    expectOutcome(r, "malformed");
    expect(r.messages).toEqual([
      "1 line(s) after the trailer (line 202): data appended to the bundle, such as another gzip member",
    ]);
    const empty = await verifyBundle(Buffer.concat([good, gzipSync(Buffer.alloc(0))]), base);
    expectOutcome(empty, "malformed");
    expect(empty.messages).toEqual([`an empty gzip member at byte ${good.length}: extra gzip data`]);
  });

  it("a bundle with trailing bytes: exit 2, naming where they start", async () => {
    for (const tail of [Buffer.from([0]), Buffer.from("garbage\n"), Buffer.from([0x1f])]) {
      const r = await verifyBundle(Buffer.concat([good, tail]), base);
      expectOutcome(r, "malformed");
      expect(r.messages[0]).toBe(
        `${tail.length} trailing byte${tail.length === 1 ? "" : "s"} after the last gzip member (from byte ${good.length})`,
      );
    }
  });

  it("a truncated bundle, a bad CRC, a bad header: exit 2", async () => {
    const truncated = await verifyBundle(good.subarray(0, good.length - 4), base);
    expectOutcome(truncated, "malformed");
    expect(truncated.messages[0]).toMatch(/no trailer \(truncated\)/);
    const crc = Buffer.from(good);
    crc.writeUInt32LE((crc.readUInt32LE(crc.length - 8) ^ 1) >>> 0, crc.length - 8);
    expect((await verifyBundle(crc, base)).messages[0]).toMatch(/CRC-32 .* does not match/);
    expect((await verifyBundle(Buffer.from("not gzip"), base)).messages[0]).toMatch(
      /byte 0 does not start a gzip member/,
    );
  });

  it("a wrong format, bad JSON, a missing trailer: exit 2, naming the line", async () => {
    const wrong = await verifyBundle(
      await rangeBundle((p) => {
        p.header.format = "audit-log-evidence/v2";
      }),
      base,
    );
    expectOutcome(wrong, "malformed");
    expect(wrong.messages[0]).toMatch(/format is "audit-log-evidence\/v2", not audit-log-evidence\/v1/);
    const text = gzipSync(
      Buffer.concat([
        gunzipExact(good).data.subarray(0, 2000),
        Buffer.from('\n{"index": 1, "event": {\n{"proof":[]}\n'),
      ]),
    );
    const bad = await verifyBundle(text, base);
    expectOutcome(bad, "malformed");
    expect(bad.messages[0]).toMatch(
      /^line \d+ \(after event ev-\d+ at leaf \d+\) is (not JSON|not an entry)/,
    );
    const cut = await rangeBundle((p) => {
      p.trailer = p.entries.pop() as unknown as Record<string, unknown>;
    });
    expect((await verifyBundle(cut, base)).messages[0]).toMatch(/without its trailer/);
  });

  it("many failures are listed up to a cap and counted", async () => {
    const bundle = await rangeBundle((p) => {
      for (const e of p.entries) e.event = { ...e.event, outcome: "failure" };
    });
    const r = await verifyBundle(bundle, base);
    expectOutcome(r, "hashMismatch");
    expect(r.messages.filter((m) => /does not match its hash/.test(m))).toHaveLength(25);
    expect(r.messages).toContain("… and 175 more failures of this kind (hashMismatch)");
  });

  it("bad keys and a bad state are usage errors", async () => {
    expectOutcome(await verifyBundle(good, { verifierKeys: [] }), "usage");
    expectOutcome(await verifyBundle(good, { verifierKeys: ["nonsense"] }), "usage");
    const state = { ...(await tree.trusted(300)), size: 301 };
    const r = await verifyBundle(good, { ...base, trusted: state });
    expectOutcome(r, "usage");
    expect(r.messages[0]).toMatch(/not what its checkpoint note says/);
  });
});

describe("gunzipExact", () => {
  it("reads header fields (FEXTRA, FNAME, FCOMMENT, FHCRC) and, when asked, several members", () => {
    const plain = gzipSync(Buffer.from("hello\n"));
    const flags = 0x04 | 0x08 | 0x10;
    const header = Buffer.concat([
      Buffer.from([0x1f, 0x8b, 8, flags]),
      plain.subarray(4, 10),
      Buffer.from([3, 0, 1, 2, 3]),
      Buffer.from("name\0comment\0"),
    ]);
    const named = Buffer.concat([header, plain.subarray(10)]);
    expect(gunzipExact(named).data.toString()).toBe("hello\n");
    const two = Buffer.concat([plain, gzipSync(Buffer.from("world\n"))]);
    expect(() => gunzipExact(two, { multi: false })).toThrow(/a second gzip member starts at byte/);
    expect(gunzipExact(two, { multi: true })).toMatchObject({ members: 2 });
    expect(gunzipExact(two, { multi: true }).data.toString()).toBe("hello\nworld\n");
    expect(() => gunzipExact(Buffer.concat([two, Buffer.from("x")]), { multi: true })).toThrow(
      /1 trailing byte after the last gzip member/,
    );
  });

  it("finds the end of a member exactly when its data spans many zlib chunks", () => {
    const random = Buffer.alloc(300_000);
    for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
    const gz = gzipSync(random);
    expect(gunzipExact(gz).data.equals(random)).toBe(true);
    expect(() => gunzipExact(Buffer.concat([gz, gz]), { multi: false })).toThrow(
      `a second gzip member starts at byte ${gz.length}`,
    );
  });

  it("stops at the size limit", () => {
    expect(() => gunzipExact(gzipSync(Buffer.alloc(10_000)), { maxBytes: 1000 })).toThrow(/does not inflate/);
  });
});

describe("nightly days", () => {
  const dayOpts: DayOptions = { verifierKeys: [OURS.verifierKey] };

  it("a good day verifies: file hash, count, range proof, checkpoint covering its end", async () => {
    const { manifest, data } = await makeDay(tree, { start: 100, end: 300, size: 400 });
    const r = await verifyDay(manifest, data, dayOpts);
    expectOutcome(r, "verified");
    expect(r).toMatchObject({
      kind: "day",
      workspace: WS,
      events: 200,
      eventsVerified: 200,
      tailPinned: false,
    });
  });

  it("a day pinned by a trusted checkpoint past its end", async () => {
    const { manifest, data } = await makeDay(tree, { start: 100, end: 300, size: 400 });
    const r = await verifyDay(manifest, data, {
      ...dayOpts,
      trusted: await tree.trusted(300),
      consistency: { from: 300, to: 400, proof: tree.consistency(300, 400) },
      requirePinned: true,
    });
    expectOutcome(r, "verified");
    expect(r.tailPinned).toBe(true);
  });

  it("an empty day verifies", async () => {
    const { manifest, data } = await makeDay(tree, { start: 300, end: 300, size: 400 });
    expectOutcome(await verifyDay(manifest, data, dayOpts), "verified");
  });

  it("a day without events (log: null) verifies only with an empty file", async () => {
    const { manifest } = await makeDay(tree, { start: 300, end: 300, size: 400 });
    const m = { ...JSON.parse(manifest.toString()), log: null };
    const empty = gzipSync(Buffer.alloc(0));
    m.data = { ...m.data, sha256: sha256Hex(empty), bytes: empty.length };
    const ok = await verifyDay(Buffer.from(JSON.stringify(m)), empty, { ...dayOpts, requirePinned: true });
    expectOutcome(ok, "verified");
    expect(ok.notes).toContain("the day has no events: there is nothing in the log to check");
    // An insider strips the log member and slips unproven events in.
    const data = gzipSync(Buffer.from(`${JSON.stringify(events[300])}\n`));
    const sneaked = {
      ...m,
      eventCount: 1,
      data: { ...m.data, sha256: sha256Hex(data), bytes: data.length },
      eventHashes: { ...m.eventHashes, merkleRoot: merkleRoot([(events[300] as Stored).hash]) },
    };
    sneaked.firstRecordedAt = sneaked.lastRecordedAt = (events[300] as Stored).recordedAt;
    const r = await verifyDay(Buffer.from(JSON.stringify(sneaked)), data, dayOpts);
    expectOutcome(r, "proofFailed");
    expect(r.messages).toContain(
      "the manifest says the day has no events in the log (log: null), but the day file holds 1, the first event ev-0300",
    );
  });

  it("a day file of several gzip members verifies (as the service writes them), unless allowMultipleMembers is false", async () => {
    const half = (list: Stored[]) =>
      gzipSync(Buffer.from(list.map((e) => `${JSON.stringify(e)}\n`).join("")));
    const { manifest } = await makeDay(tree, { start: 100, end: 300, size: 400 });
    const data = Buffer.concat([half(events.slice(100, 200)), half(events.slice(200, 300))]);
    const m = JSON.parse(manifest.toString());
    m.data = { ...m.data, sha256: sha256Hex(data), bytes: data.length };
    const strict = await verifyDay(Buffer.from(JSON.stringify(m)), data, {
      ...dayOpts,
      allowMultipleMembers: false,
    });
    expectOutcome(strict, "malformed");
    expect(strict.messages[0]).toMatch(/a second gzip member starts at byte \d+/);
    const lenient = await verifyDay(Buffer.from(JSON.stringify(m)), data, dayOpts);
    expectOutcome(lenient, "verified");
    expect(lenient.notes).toContain("the day file is 2 gzip members");
  });

  it("a day file missing one event (manifest made to match): exit 5, naming the range", async () => {
    const { manifest, data } = await makeDay(tree, {
      start: 100,
      end: 300,
      size: 400,
      edit: (es) => es.filter((e) => e.id !== "ev-0150"),
      fixManifest: true,
    });
    const r = await verifyDay(manifest, data, dayOpts);
    expectOutcome(r, "proofFailed");
    expect(r.messages).toEqual(["the day file holds 199 events; the manifest's range [100, 300) has 200"]);
  });

  it("a day file holding one extra event (manifest made to match): exit 5, naming the range", async () => {
    const at = new Date(T0 + 150 * 10_000 + 5_000).toISOString();
    const forged = withHash({
      ...contentOf(events[150] as Stored),
      id: "ev-0150a",
      recordedAt: at,
      occurredAt: at,
    });
    const { manifest, data } = await makeDay(tree, {
      start: 100,
      end: 300,
      size: 400,
      edit: (es) => [...es.slice(0, 51), forged, ...es.slice(51)],
      fixManifest: true,
    });
    const r = await verifyDay(manifest, data, dayOpts);
    expectOutcome(r, "proofFailed");
    expect(r.messages).toEqual(["the day file holds 201 events; the manifest's range [100, 300) has 200"]);
  });

  it("a day file changed under an untouched manifest: exit 2 (size, hash, count), and the range named", async () => {
    const { manifest, data } = await makeDay(tree, {
      start: 100,
      end: 300,
      size: 400,
      edit: (es) => es.slice(0, -1),
    });
    const r = await verifyDay(manifest, data, dayOpts);
    expectOutcome(r, "malformed");
    expect(r.messages.join("\n")).toMatch(/the day file's SHA-256 is [0-9a-f]{64}; the manifest says/);
    expect(r.messages).toContain("the day file holds 199 events; the manifest's eventCount is 200");
    expect(r.messages).toContain("the day file holds 199 events; the manifest's range [100, 300) has 200");
  });

  it("an event edited in a day file: exit 4, naming the event and its leaf", async () => {
    const { manifest, data } = await makeDay(tree, {
      start: 100,
      end: 300,
      size: 400,
      edit: (es) => es.map((e) => (e.id === "ev-0150" ? { ...e, sourceIp: "198.51.100.66" } : e)),
      fixManifest: true,
    });
    const r = await verifyDay(manifest, data, dayOpts);
    expectOutcome(r, "hashMismatch");
    expect(r.messages[0]).toMatch(/^event ev-0150 \(leaf 150\): its content does not match its hash/);
  });

  it("a day file with an extra gzip member or trailing bytes: exit 2", async () => {
    const extra = gzipSync(Buffer.from(`${JSON.stringify(events[300])}\n`));
    for (const bytes of [
      (gz: Buffer) => Buffer.concat([gz, extra]),
      (gz: Buffer) => Buffer.concat([gz, Buffer.from("\n")]),
    ]) {
      const { manifest, data } = await makeDay(tree, {
        start: 100,
        end: 300,
        size: 400,
        bytes,
        fixManifest: true,
      });
      const r = await verifyDay(manifest, data, dayOpts);
      expectOutcome(r, "malformed");
      expect(r.messages.join("; ")).toMatch(
        /the day file holds 201 events; the manifest's range \[100, 300\) has 200|1 trailing byte after the last gzip member/,
      );
    }
  });

  it("a checkpoint that does not cover the range's end: exit 5", async () => {
    const { manifest, data } = await makeDay(tree, { start: 100, end: 300, size: 400 });
    const m = JSON.parse(manifest.toString());
    m.log.checkpoint = await tree.checkpoint(250);
    const r = await verifyDay(Buffer.from(JSON.stringify(m)), data, dayOpts);
    expectOutcome(r, "proofFailed");
    expect(r.messages.join("\n")).toMatch(/the range \[100, 300\) ends beyond the checkpoint's size 250/);
  });

  it("a day signed by another key: exit 3; a manifest without a log member: exit 2", async () => {
    const { manifest, data } = await makeDay(tree, { start: 100, end: 300, size: 400 });
    expectOutcome(
      await verifyDay(manifest, data, { verifierKeys: [THEIRS.verifierKey] }),
      "untrustedCheckpoint",
    );
    const m = JSON.parse(manifest.toString());
    delete m.log;
    const r = await verifyDay(Buffer.from(JSON.stringify(m)), data, dayOpts);
    expectOutcome(r, "malformed");
    expect(r.messages[0]).toMatch(/no log member/);
  });
});
