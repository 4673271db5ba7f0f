import { execFileSync, spawnSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { BUNDLE_FORMAT } from "../../functions/shared/tlog/bundle.js";
import {
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
  signNote,
} from "../../functions/shared/tlog/note.js";
import { EXIT_CODES } from "../../functions/shared/tlog/verify.js";

/**
 * The one-file verifier (`npm run build:verify` → dist/audit-log-verify.mjs), copied alone into an
 * empty folder and run with plain `node` inside a network namespace with no interfaces up (as
 * .ci/run runs cdk synth): no project files, no node_modules, no network.
 */
const ROOT = join(import.meta.dirname, "..", "..");
const DIST = join(ROOT, "dist", "audit-log-verify.mjs");
const WS = "ws-offline";
const ORIGIN = `audit-log.test/${WS}`;

const work = mkdtempSync(join(tmpdir(), "audit-log-verify-offline-"));
/** `unshare -n` when this machine permits it (probed the way .ci/run does), else nothing. */
const offline = spawnSync("unshare", ["-n", "true"]).status === 0 ? ["unshare", "-n"] : [];

function run(...args: string[]) {
  const [cmd, ...rest] = [...offline, process.execPath, join(work, "audit-log-verify.mjs"), ...args];
  const r = spawnSync(cmd as string, rest, { cwd: work, encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A small tree of canonical events, a P-256 key, a checkpoint, and bundles per bundle.ts. */
async function evidence() {
  const events = Array.from({ length: 40 }, (_, i) => {
    const at = new Date(Date.UTC(2026, 2, 9, 9, 44, i)).toISOString();
    const content = {
      id: `ev-${String(i).padStart(3, "0")}`,
      type: "pcap.downloaded",
      category: "pcap",
      recordedAt: at,
      occurredAt: at,
      actor: { type: "user", id: "alice@acme.example" },
      sourceIp: "203.0.113.42",
      outcome: "success",
      context: { sha256: sha256Hex(`capture ${i}`) },
    };
    return { ...content, hash: sha256Hex(canonicalJson(content)) };
  });
  const leaves = events.map(({ hash: _h, ...c }) => leafHash(Buffer.from(canonicalJson(c))));
  const mth = ([lo, hi]: Span): Buffer =>
    hi - lo === 1
      ? (leaves[lo] as Buffer)
      : nodeHash(mth([lo, lo + splitPoint(hi - lo)]), mth([lo + splitPoint(hi - lo), hi]));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ format: "der", type: "spki" });
  const note = await signNote(formatCheckpoint({ origin: ORIGIN, size: 40, root: mth([0, 40]) }), [
    {
      name: "audit-log.test",
      keyId: keyIdOfSpki(spki),
      sign: async (text) => sign("sha256", text, { key: privateKey, dsaEncoding: "der" }),
    },
  ]);
  const indexes = Array.from({ length: 30 }, (_, i) => 5 + i);
  const bundle = (edit: (e: (typeof events)[number], index: number) => Record<string, unknown> = (e) => e) =>
    gzipSync(
      [
        {
          format: BUNDLE_FORMAT,
          workspace: WS,
          checkpoint: note,
          filters: {},
          range: { start: 5, end: 35 },
          count: 30,
          createdAt: "2026-03-10T00:00:00.000Z",
        },
        ...indexes.map((index) => ({ index, event: edit(events[index] as (typeof events)[number], index) })),
        { proof: multiProofSpans(40, indexes).map((s) => mth(s).toString("base64")) },
      ]
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(""),
    );
  // Tampered: event 20's source IP changed and its hash recomputed, so only the proof can tell.
  const tampered = bundle((e, index) => {
    if (index !== 20) return e;
    const { hash: _h, ...c } = { ...e, sourceIp: "198.51.100.66" };
    return { ...c, hash: sha256Hex(canonicalJson(c)) };
  });
  return { key: ecdsaVerifierKey("audit-log.test", spki), good: bundle(), tampered };
}

beforeAll(async () => {
  execFileSync("npm", ["run", "--silent", "build:verify"], { cwd: ROOT, stdio: "pipe" });
  copyFileSync(DIST, join(work, "audit-log-verify.mjs"));
  const { key, good, tampered } = await evidence();
  writeFileSync(join(work, "key.txt"), `# pinned from GET /v1/log/key\n${key}\n`);
  writeFileSync(join(work, "good.ndjson.gz"), good);
  writeFileSync(join(work, "tampered.ndjson.gz"), tampered);
  if (!offline.length) {
    console.warn(
      "verify-offline: `unshare -n` is not permitted here; running the verifier WITHOUT a network namespace",
    );
  }
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe(`the bundled verifier, alone, with plain node${offline.length ? " and no network (unshare -n)" : " (unshare -n not permitted: network not cut)"}`, () => {
  it("is one file that imports only node: built-ins", () => {
    const text = readFileSync(DIST, "utf8");
    const imports = [...text.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !i?.startsWith("node:"))).toEqual([]);
    expect(text).not.toMatch(/\brequire\(|import\("/);
    expect(statSync(DIST).size).toBeLessThan(200_000);
  });

  it("runs where the namespace has no network interfaces", () => {
    if (!offline.length) return;
    const r = spawnSync(
      "unshare",
      ["-n", process.execPath, "-e", "console.log(JSON.stringify(require('os').networkInterfaces()))"],
      {
        encoding: "utf8",
      },
    );
    expect(r.stdout.trim()).toBe("{}");
  });

  it("exits 0 on a good bundle, writes the state, and is pinned by it on the next run", () => {
    // Act: first use.
    const first = run("good.ndjson.gz", "--key", "@key.txt", "--state", "state.json");
    // Assess
    expect(first.stderr).toBe("");
    expect(first.status).toBe(EXIT_CODES.verified);
    expect(first.stdout).toMatch(/^VERIFIED: exit 0/);
    expect(first.stdout).toMatch(/tail pinned: no/);
    expect(first.stdout).toMatch(/state: state.json written \(size 40\)/);
    const state = JSON.parse(readFileSync(join(work, "state.json"), "utf8"));
    expect(state).toMatchObject({ origin: ORIGIN, size: 40 });
    // Act: again, now against the state the first run kept.
    const second = run(
      "good.ndjson.gz",
      "--key",
      "@key.txt",
      "--state",
      "state.json",
      "--require-pinned",
      "--json",
    );
    // Assess
    expect(second.status).toBe(EXIT_CODES.verified);
    expect(JSON.parse(second.stdout)).toMatchObject({
      ok: true,
      tailPinned: true,
      events: 30,
      eventsVerified: 30,
    });
  });

  it("exits 7 with --require-pinned on first use, and writes nothing with --no-update", () => {
    const r = run(
      "good.ndjson.gz",
      "--key",
      "@key.txt",
      "--state",
      "fresh.json",
      "--require-pinned",
      "--no-update",
    );
    expect(r.status).toBe(EXIT_CODES.tailNotPinned);
    expect(r.stdout).toMatch(/state: fresh.json not written \(--no-update\)/);
    expect(() => statSync(join(work, "fresh.json"))).toThrow();
  });

  it("exits 5 on a tampered bundle, naming the leaves, and leaves the state alone", () => {
    const before = readFileSync(join(work, "state.json"), "utf8");
    const r = run("tampered.ndjson.gz", "--key", "@key.txt", "--state", "state.json");
    expect(r.status).toBe(EXIT_CODES.proofFailed);
    expect(r.stdout).toMatch(/proof of leaves 5–34 .* does not give the root/);
    expect(readFileSync(join(work, "state.json"), "utf8")).toBe(before);
  });

  it("exits 1 on bad usage", () => {
    expect(run("good.ndjson.gz").status).toBe(EXIT_CODES.usage);
    expect(run("good.ndjson.gz", "--key", "@key.txt", "--bogus").status).toBe(EXIT_CODES.usage);
    expect(run("missing.ndjson.gz", "--key", "@key.txt").stderr).toMatch(/no such file: missing.ndjson.gz/);
  });
});
