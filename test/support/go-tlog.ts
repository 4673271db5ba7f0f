import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/**
 * The independent check of issue 10 (item 8): a small Go program, `test/go/tlogcheck`, built on
 * `golang.org/x/mod/sumdb/{note,tlog}` and `github.com/transparency-dev/formats/{note,log}`, none of
 * it written here. This module builds it once (cached by a hash of its sources and the Go version),
 * runs it, and loads the transparency-dev/merkle proof vectors pinned by the same go.mod and go.sum.
 * Needs only `go` on PATH and the Go module proxy the first time.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const goModuleDir = join(repoRoot, "test", "go", "tlogcheck");
const cacheRoot = join(repoRoot, "node_modules", ".cache", "tlogcheck");

/** One inclusion proof to check: the leaf's data (not its hash) and its audit path. */
export interface GoTlogInclusion {
  index: number;
  /** Base64 of the leaf's data; the Go side hashes it with tlog.RecordHash (RFC 6962 leaf hash). */
  leafData: string;
  /** Base64 32-byte hashes, leaf upwards, as RFC 6962 / 9162 order them. */
  proof: string[];
}

/** One consistency proof to check, from an older tree to the checkpoint's. */
export interface GoTlogConsistency {
  oldSize: number;
  /** Base64 32-byte root of the older tree. */
  oldRoot: string;
  proof: string[];
}

export interface GoTlogRequest {
  /** `name+hex8(keyID)+base64(0x02 || DER SPKI)`, as transparency-dev's NewECDSAVerifier reads it. */
  verifierKey: string;
  /** The origin line the checkpoint must carry. */
  origin: string;
  /** The whole signed note. */
  checkpoint: string;
  /**
   * Where C2SP tiles are served, ending in `/`: tiles are fetched from `tileBaseUrl + "tile/0/000.p/5"`
   * etc. When given, the Go side also recomputes the root from the tiles and requires every inclusion
   * and consistency proof to equal, byte for byte, the one it derives from them.
   */
  tileBaseUrl?: string;
  /** Sent as the Authorization header of the tile fetches. */
  authorization?: string;
  inclusion?: GoTlogInclusion[];
  consistency?: GoTlogConsistency[];
}

export interface GoTlogResult {
  ok: boolean;
  /** The checkpoint's origin, size and root as the Go side parsed them (empty when it could not). */
  origin: string;
  size: number;
  root: string;
  /** Extension lines after the root, without newlines (tlog-checkpoint allows them; not judged). */
  extensions: string[];
  /** Every tile request made, as `path status`, e.g. `tile/0/000.p/5 200`. */
  tiles: string[];
  /** One line per failed check, naming the inclusion index or the consistency item. */
  errors: string[];
  /** 0 when every check passed, 1 when one failed. */
  exitCode: number;
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { cwd?: string; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd,
        // A go.work further up must not change which module versions are used.
        env: { ...process.env, GOWORK: "off" },
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          const hint = error.code === "ENOENT" ? ` (is ${file} installed and on PATH?)` : "";
          reject(new Error(`${file} ${args.join(" ")}: ${error.message}${hint}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}

async function go(args: string[]): Promise<string> {
  const ran = await run("go", args, { cwd: goModuleDir });
  if (ran.code !== 0) throw new Error(`go ${args.join(" ")} exited ${ran.code}:\n${ran.stderr}`);
  return ran.stdout;
}

/** A hash of everything the binary depends on: the module's files and the Go toolchain. */
async function sourceHash(): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await go(["env", "GOVERSION", "GOOS", "GOARCH"]));
  const files = (await readdir(goModuleDir)).filter(
    (f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum",
  );
  for (const file of files.sort()) {
    hash.update(`\0${file}\0`).update(await readFile(join(goModuleDir, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Takes `lock` (an exclusive create); false when another process holds it. Stale locks are broken. */
async function tryLock(lock: string): Promise<boolean> {
  try {
    await (await open(lock, "wx")).close();
    return true;
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const since = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (since > 10 * 60_000) await rm(lock, { force: true });
    return false;
  }
}

async function build(): Promise<string> {
  const dir = join(cacheRoot, await sourceHash());
  const binary = join(dir, "tlogcheck");
  if (await exists(binary)) return binary;
  await mkdir(dir, { recursive: true });
  // Test files run in parallel workers: one builds while the others wait for its binary.
  const lock = join(dir, "build.lock");
  while (!(await tryLock(lock))) {
    if (await exists(binary)) return binary;
    await sleep(200);
  }
  try {
    if (await exists(binary)) return binary;
    // Build beside the final name and rename, so nobody ever runs a half-written file.
    const partial = `${binary}.${process.pid}`;
    await go(["build", "-trimpath", "-buildvcs=false", "-o", partial, "."]);
    await rename(partial, binary);
    // Binaries of older sources are never used again.
    for (const other of await readdir(cacheRoot)) {
      if (join(cacheRoot, other) !== dir) await rm(join(cacheRoot, other), { recursive: true, force: true });
    }
    return binary;
  } finally {
    await rm(lock, { force: true });
  }
}

let binaryPromise: Promise<string> | undefined;

/** Builds the Go checker (once per process; reused across runs while its sources are unchanged). */
export function goTlogCheckBinary(): Promise<string> {
  binaryPromise ??= build().catch((err: unknown) => {
    binaryPromise = undefined;
    throw err;
  });
  return binaryPromise;
}

/**
 * Runs the independent Go checker on one request. Resolves with its verdict whether the checks
 * passed or failed; rejects when the checker calls the request itself malformed (exit 2), so a test
 * that expects a rejection cannot pass because it built a bad request.
 */
export async function goTlogCheck(request: GoTlogRequest): Promise<GoTlogResult> {
  const binary = await goTlogCheckBinary();
  const ran = await run(binary, [], { input: JSON.stringify(request) });
  let parsed: Omit<GoTlogResult, "exitCode">;
  try {
    parsed = JSON.parse(ran.stdout) as Omit<GoTlogResult, "exitCode">;
  } catch {
    throw new Error(`tlogcheck exited ${ran.code} without a JSON result:\n${ran.stdout}\n${ran.stderr}`);
  }
  if (ran.code === 2) throw new Error(`tlogcheck rejected the request: ${parsed.errors.join("; ")}`);
  if (ran.code !== 0 && ran.code !== 1) throw new Error(`tlogcheck exited ${ran.code}:\n${ran.stderr}`);
  if (parsed.ok !== (ran.code === 0))
    throw new Error(`tlogcheck said ok=${parsed.ok} but exited ${ran.code}`);
  return { ...parsed, exitCode: ran.code };
}

/** One transparency-dev/merkle inclusion vector (`testdata/inclusion/**.json`), decoded. */
export interface InclusionVector {
  /** Path under the module's testdata, e.g. `inclusion/1/wrong-leaf.json`. */
  file: string;
  desc: string;
  wantErr: boolean;
  /** uint64 in the files; one vector holds 2^64 − 1 (index −1 wrapped), hence bigint. */
  leafIdx: bigint;
  treeSize: bigint;
  /** The leaf's hash (not its data); some bad vectors hold one of the wrong length, or none. */
  leafHash: Buffer;
  proof: Buffer[];
  root: Buffer;
}

/** One transparency-dev/merkle consistency vector (`testdata/consistency/**.json`), decoded. */
export interface ConsistencyVector {
  file: string;
  desc: string;
  wantErr: boolean;
  size1: bigint;
  size2: bigint;
  root1: Buffer;
  root2: Buffer;
  proof: Buffer[];
}

export interface TransparencyDevVectors {
  /** The module version go.mod pins, e.g. `v0.0.3-0.20260707140218-77df88e508fa`. */
  version: string;
  inclusion: InclusionVector[];
  consistency: ConsistencyVector[];
}

async function jsonFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".json"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Go's encoding/json reads the files: a missing or null slice is empty, a missing []byte is empty. */
const bytes = (v: unknown): Buffer => Buffer.from(typeof v === "string" ? v : "", "base64");
const byteList = (v: unknown): Buffer[] => (Array.isArray(v) ? v.map(bytes) : []);
const uint64 = (v: unknown): bigint => BigInt(typeof v === "string" || typeof v === "number" ? v : 0);

/** Parses one vector file, keeping uint64 fields exact (JSON.parse would round 2^64 − 1). */
function parseVector(text: string): Record<string, unknown> {
  return JSON.parse(text.replace(/("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d+)/g, '$1"$2"')) as Record<
    string,
    unknown
  >;
}

let vectorsPromise: Promise<TransparencyDevVectors> | undefined;

/**
 * The transparency-dev/merkle proof vectors, good and bad, at the version `test/go/tlogcheck/go.mod`
 * pins (fetched through the Go module proxy and checked against go.sum by `go mod download`).
 * They live in the module's `testdata/inclusion/<n|additional|single-entry>/…` and
 * `testdata/consistency/<n|additional>/…` as one JSON object per file, base64 for bytes. The tagged
 * releases (v0.0.2 and before) predate them, hence the pseudo-version.
 */
export function transparencyDevVectors(): Promise<TransparencyDevVectors> {
  vectorsPromise ??= (async () => {
    const info = JSON.parse(await go(["mod", "download", "-json", "github.com/transparency-dev/merkle"])) as {
      Dir?: string;
      Version?: string;
      Error?: string;
    };
    if (!info.Dir || !info.Version)
      throw new Error(`go mod download: ${info.Error ?? "no Dir in its answer"}`);
    const testdata = join(info.Dir, "testdata");
    const load = async (kind: string) =>
      Promise.all(
        (await jsonFilesUnder(join(testdata, kind))).map(async (path) => ({
          file: relative(testdata, path).split(sep).join("/"),
          json: parseVector(await readFile(path, "utf8")),
        })),
      );
    const inclusion = (await load("inclusion")).map(
      ({ file, json }): InclusionVector => ({
        file,
        desc: String(json.desc),
        wantErr: json.wantErr === true,
        leafIdx: uint64(json.leafIdx),
        treeSize: uint64(json.treeSize),
        leafHash: bytes(json.leafHash),
        proof: byteList(json.proof),
        root: bytes(json.root),
      }),
    );
    const consistency = (await load("consistency")).map(
      ({ file, json }): ConsistencyVector => ({
        file,
        desc: String(json.desc),
        wantErr: json.wantErr === true,
        size1: uint64(json.size1),
        size2: uint64(json.size2),
        root1: bytes(json.root1),
        root2: bytes(json.root2),
        proof: byteList(json.proof),
      }),
    );
    return { version: info.Version, inclusion, consistency };
  })().catch((err: unknown) => {
    vectorsPromise = undefined;
    throw err;
  });
  return vectorsPromise;
}
