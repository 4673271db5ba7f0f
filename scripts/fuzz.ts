import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureVenv, freePort, ROOT } from "./lib/moto.js";

/**
 * `npm run fuzz`: Schemathesis against the local runtime (`npm start`, on its own ports), from the
 * API's own OpenAPI document, once with each of demo's keys (reader, writer, admin): no 5xx, and
 * every answer as documented (status code, content type, headers, body schema). Left out, because
 * they test rules this API breaks on purpose: positive_data_acceptance (cross-field and
 * clock-relative rules, e.g. `until` after `since`, `occurredAt` at most 7 days old, are not JSON
 * Schema), missing_required_header and ignored_auth (after 10 failed keys in a minute a source gets
 * 429, documented, not 401), unsupported_method (an unknown method answers 404, as API Gateway
 * does). `--quick` is the short run CI does.
 * Exits non-zero when any check fails; the seed is printed, so a failure can be replayed.
 */
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    examples: { type: "string" },
    seed: { type: "string" },
  },
});
const maxExamples = values.examples ?? (values.quick ? "5" : "150");
// The quick run is the same every time; a long one explores (its seed is printed).
const seed = values.seed ?? (values.quick ? "20261201" : undefined);

const venv = join(ROOT, ".venv-fuzz");
ensureVenv({
  dir: venv,
  requirements: join(ROOT, "scripts/fuzz-requirements.txt"),
  constraints: join(ROOT, "scripts/fuzz-constraints.txt"),
  label: "schemathesis",
});

const port = await freePort();
const credentialsFile = ".local/fuzz-credentials.json";
rmSync(join(ROOT, credentialsFile), { force: true });
const server = spawn(join(ROOT, "node_modules/.bin/tsx"), ["scripts/start.ts"], {
  cwd: ROOT,
  env: {
    ...process.env,
    PORT: String(port),
    CREDENTIALS_FILE: credentialsFile,
    POWERTOOLS_LOG_LEVEL: "ERROR",
  },
  stdio: ["ignore", "pipe", "inherit"],
  detached: true,
});
const stopServer = () => {
  try {
    if (server.pid) process.kill(-server.pid, "SIGINT");
  } catch {
    // already gone
  }
};
process.on("exit", stopServer);
await new Promise<void>((resolve, reject) => {
  let out = "";
  server.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("Ctrl-C stops")) resolve();
  });
  server.once("exit", (code) => reject(new Error(`the local runtime exited (${code}) before it served`)));
});

const credentials = JSON.parse(readFileSync(join(ROOT, credentialsFile), "utf8")) as {
  baseUrl: string;
  workspaces: { id: string; keys: Record<string, string> }[];
};
const demo = credentials.workspaces[0];
if (!demo) throw new Error("no workspace in the local credentials");
let failed = false;
for (const role of ["reader", "writer", "admin"]) {
  const args = [
    "run",
    `${credentials.baseUrl}/v1/openapi.json`,
    "--header",
    `Authorization: Bearer ${demo.keys[role]}`,
    "--checks",
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
    "--max-examples",
    maxExamples,
    "--phases",
    values.quick ? "examples,fuzzing" : "examples,coverage,fuzzing",
    "--workers",
    "2",
    "--no-color",
    ...(seed ? ["--seed", seed] : []),
  ];
  console.log(`\n==> schemathesis as demo's ${role} key (max ${maxExamples} examples per operation)`);
  const run = spawnSync(join(venv, "bin", "st"), args, { stdio: "inherit", cwd: ROOT });
  if (run.status !== 0) failed = true;
}
stopServer();
if (failed) {
  console.error("\nfuzz: a check failed (above)");
  process.exit(1);
}
console.log("\nfuzz: every check passed for the reader, writer and admin keys");
