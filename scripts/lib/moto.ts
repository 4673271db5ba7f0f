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
const STAMP = join(VENV, ".requirements-sha256");
const VENV_PYTHON = join(VENV, "bin", "python");
const MOTO_SERVER = join(ROOT, "scripts/moto_server.py");

function requirementsDigest(): string {
  const hash = createHash("sha256").update(readFileSync(REQUIREMENTS));
  if (existsSync(CONSTRAINTS)) hash.update(readFileSync(CONSTRAINTS));
  return hash.digest("hex");
}

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

/** Creates or refreshes the venv; returns quickly when it is already up to date. */
export function ensureMoto(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  const digest = requirementsDigest();
  if (existsSync(VENV_PYTHON) && existsSync(STAMP) && readFileSync(STAMP, "utf8") === digest) return;
  log("setting up moto in .venv (first run only; about a minute)…");
  if (!existsSync(join(VENV, "bin", "pip")))
    execFileSync(python(), ["-m", "venv", VENV], { stdio: "inherit" });
  const pip = join(VENV, "bin", "pip");
  const constraints = existsSync(CONSTRAINTS) ? ["-c", CONSTRAINTS] : [];
  execFileSync(
    pip,
    ["install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS, ...constraints],
    {
      stdio: "inherit",
    },
  );
  writeFileSync(STAMP, digest);
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
