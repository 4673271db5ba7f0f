import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { serveChild } from "./child-server.js";
import { freePort } from "./moto.js";

/**
 * Dynoxide (https://github.com/nubo-db/dynoxide, MIT OR Apache-2.0): a DynamoDB-compatible server
 * backed by SQLite, the local DynamoDB engine of `npm start`, the tests and the benchmarks.
 *
 * The binary comes from the npm package `@dynoxide/linux-x64` (an optional dependency, so `npm ci`
 * installs it on linux-x64 and skips it elsewhere). On any other platform, build it once with
 * `cargo install dynoxide-rs --locked` and point `DYNOXIDE_BIN` at it (or leave it on PATH). The
 * version is pinned: a binary that prints another version is refused unless `DYNOXIDE_ALLOW_VERSION`
 * names it (the crate's releases are numbered apart from the npm binary's, so a cargo build is
 * never the exact binary the project is tested on; docs/storage.md lists what to check).
 */
export const DYNOXIDE_VERSION = "1.2.1";

const require = createRequire(import.meta.url);

export type DynamoEngine = "dynoxide" | "moto";

/** Where the Dynoxide binary is, or why there is none. */
export function findDynoxide(): { path: string } | { missing: string } {
  const fromEnv = process.env.DYNOXIDE_BIN;
  if (fromEnv) {
    return existsSync(fromEnv) ? { path: fromEnv } : { missing: `DYNOXIDE_BIN=${fromEnv} does not exist` };
  }
  try {
    const pkg = require.resolve("@dynoxide/linux-x64/package.json");
    const bin = join(pkg, "..", "dynoxide");
    if (existsSync(bin)) return { path: bin };
  } catch {
    // not installed on this platform; try PATH
  }
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const bin = join(dir, "dynoxide");
    if (dir && existsSync(bin)) return { path: bin };
  }
  return {
    missing:
      `no Dynoxide binary for ${process.platform}-${process.arch}: @dynoxide/linux-x64 ships only ` +
      "linux-x64. Build one with `cargo install dynoxide-rs --locked` and set DYNOXIDE_BIN to it",
  };
}

function versionOf(bin: string): string {
  return execFileSync(bin, ["--version"])
    .toString()
    .trim()
    .replace(/^dynoxide\s+/, "");
}

/**
 * Which DynamoDB engine local runs use. `DYNAMODB_ENGINE=moto` forces moto's (slow: every Query
 * scans the table); without a Dynoxide binary it is the fallback, announced by a warning on stderr,
 * never silently.
 */
export function chooseDynamoEngine(log: (line: string) => void): { engine: DynamoEngine; bin?: string } {
  if (process.env.DYNAMODB_ENGINE === "moto") {
    log("DYNAMODB_ENGINE=moto: DynamoDB is moto's (every Query scans the table; expect slow queries)");
    return { engine: "moto" };
  }
  const found = findDynoxide();
  if ("missing" in found) {
    if (process.env.DYNAMODB_ENGINE === "dynoxide") throw new Error(found.missing);
    log(`WARNING: ${found.missing}.`);
    log("WARNING: falling back to moto's DynamoDB, which is much slower (every Query scans the table).");
    return { engine: "moto" };
  }
  const version = versionOf(found.path);
  const allowed = process.env.DYNOXIDE_ALLOW_VERSION ?? DYNOXIDE_VERSION;
  if (version !== allowed) {
    throw new Error(
      `${found.path} is Dynoxide ${version}; the project is tested on ${DYNOXIDE_VERSION} ` +
        `(set DYNOXIDE_ALLOW_VERSION=${version} to run it anyway)`,
    );
  }
  return { engine: "dynoxide", bin: found.path };
}

export interface DynoxideServer {
  endpoint: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts Dynoxide in memory on a loopback port and waits until it answers HTTP. */
export async function startDynoxide(
  bin: string,
  options: { port?: number; quiet?: boolean } = {},
): Promise<DynoxideServer> {
  const port = options.port ?? (await freePort());
  const child = spawn(bin, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
    // Its stderr says why it stopped; it also greets and says goodbye there, so `quiet` drops it.
    stdio: ["ignore", "ignore", options.quiet ? "ignore" : "pipe"],
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (line.trim() && !/^Dynoxide listening on|^Shutting down/.test(line))
        process.stderr.write(`dynoxide: ${line}\n`);
    }
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = await serveChild(child, {
    name: "dynoxide",
    endpoint,
    // Any answer (an unsigned request gets a 400) means it is listening.
    ready: async () =>
      (await fetch(endpoint, { method: "POST", body: "{}" })).headers.get("x-dynoxide-version") !== null,
    timeoutMs: 20_000,
    everyMs: 50,
  });
  return { endpoint, process: child, stop };
}
