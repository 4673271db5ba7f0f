import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { serveChild } from "./child-server.js";

/**
 * moto in server mode, from a project-local venv (`.venv/`). The venv is made and pip-installed
 * from the pinned requirements on first use, and again whenever those files change.
 */
export const ROOT = resolve(import.meta.dirname, "../..");
const VENV = join(ROOT, ".venv");
const REQUIREMENTS = join(ROOT, "scripts/moto-requirements.txt");
const CONSTRAINTS = join(ROOT, "scripts/moto-constraints.txt");
const VENV_PYTHON = join(VENV, "bin", "python");
const MOTO_SERVER = join(ROOT, "scripts/moto_server.py");

function python(): string {
  for (const candidate of ["python3", "python"]) {
    try {
      const version = execFileSync(candidate, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .toString()
        .trim();
      const [major, minor] = version.split(".").map(Number);
      if ((major ?? 0) === 3 && (minor ?? 0) >= 10) return candidate;
    } catch {
      // try the next name
    }
  }
  throw new Error("Python 3.10+ is required (python3 on PATH) to run moto, the local AWS engine");
}

/**
 * A project-local Python venv installed from pinned requirements (and constraints, for the
 * transitive pins): made on first use, and again whenever those files change.
 */
export function ensureVenv(
  venv: { dir: string; requirements: string; constraints: string; label: string },
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): void {
  const hash = createHash("sha256").update(readFileSync(venv.requirements));
  if (existsSync(venv.constraints)) hash.update(readFileSync(venv.constraints));
  const digest = hash.digest("hex");
  const stamp = join(venv.dir, ".requirements-sha256");
  if (
    existsSync(join(venv.dir, "bin", "python")) &&
    existsSync(stamp) &&
    readFileSync(stamp, "utf8") === digest
  )
    return;
  log(`setting up ${venv.label} in ${venv.dir} (first run only)…`);
  if (!existsSync(join(venv.dir, "bin", "pip")))
    execFileSync(python(), ["-m", "venv", venv.dir], { stdio: "inherit" });
  const constraints = existsSync(venv.constraints) ? ["-c", venv.constraints] : [];
  execFileSync(
    join(venv.dir, "bin", "pip"),
    ["install", "--quiet", "--disable-pip-version-check", "-r", venv.requirements, ...constraints],
    { stdio: "inherit" },
  );
  writeFileSync(stamp, digest);
}

/** Creates or refreshes moto's venv; returns quickly when it is already up to date. */
export function ensureMoto(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  ensureVenv({ dir: VENV, requirements: REQUIREMENTS, constraints: CONSTRAINTS, label: "moto" }, log);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export interface MotoServer {
  endpoint: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts moto (scripts/moto_server.py) on a loopback port and waits until it answers. */
export async function startMoto(options: { port?: number; quiet?: boolean } = {}): Promise<MotoServer> {
  ensureMoto();
  const port = options.port ?? (await freePort());
  const child = spawn(VENV_PYTHON, [MOTO_SERVER, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: options.quiet === false ? "inherit" : "ignore",
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "false" },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = await serveChild(child, {
    name: "moto_server",
    endpoint,
    ready: async () => (await fetch(`${endpoint}/moto-api/`)).ok,
    timeoutMs: 60_000,
    everyMs: 100,
  });
  return { endpoint, port, process: child, stop };
}
