import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  type ConsistencyInput,
  EXIT_CODES,
  parseTrustedState,
  type TrustedState,
  type VerifyReport,
  verifyBundle,
  verifyDay,
} from "../functions/shared/tlog/verify.js";

/**
 * The offline verifier (docs/evidence.md):
 *
 *   npm run verify -- <bundle.ndjson.gz> --key <verifier key | @file> [options]
 *   npm run verify -- day <manifest.json> <events.ndjson.gz> --key <verifier key | @file> [options]
 *
 * and the same as one file, `npm run build:verify` → dist/audit-log-verify.mjs, which runs with
 * plain `node` and no network. It imports node: built-ins and the pure verifier core only.
 */
const USAGE = `usage:
  audit-log-verify <bundle.ndjson.gz> --key KEY [options]
  audit-log-verify day <manifest.json> <events.ndjson.gz> --key KEY [options]

options:
  --key KEY          pinned verifier key (name+hex+base64), or @FILE with one key a line; repeatable
  --origin ORIGIN    the checkpoint origin to require (GET /v1/log/key gives it)
  --state FILE       trusted state: read before, written after (unless --no-update); created on first use
  --consistency FILE the JSON of GET /v1/log/consistency?from=<trusted size>&to=<checkpoint size>
  --require-pinned   exit 7 unless the trusted state already covers every event checked
  --no-update        do not write the state file
  --json             print the report as JSON
  -h, --help         this text

exit codes:
  0 verified                       4 an event's content does not match its hash
  1 usage or I/O error             5 a proof fails (inclusion / range / multi-leaf; missing or extra event)
  2 malformed evidence             6 not consistent with the trusted checkpoint
  3 checkpoint signature / origin  7 verified, but the tail is not pinned and --require-pinned was given
`;

class UsageError extends Error {}

function keysFrom(values: readonly string[]): string[] {
  return values.flatMap((v) => {
    if (!v.startsWith("@")) return [v.trim()];
    const file = v.slice(1);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err: unknown) {
      throw new UsageError(`cannot read the key file ${file}: ${(err as Error).message}`);
    }
    const keys = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    if (!keys.length) throw new UsageError(`the key file ${file} holds no key`);
    return keys;
  });
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err: unknown) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`the ${what} ${file} is not JSON`);
  }
}

/** Written beside the target and renamed over it, so a crash never leaves half a state file. */
function writeState(file: string, state: TrustedState): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

function human(report: VerifyReport, stateLine: string): string {
  const out: string[] = [];
  const verdict =
    report.outcome === "verified"
      ? "VERIFIED"
      : report.outcome === "tailNotPinned"
        ? "VERIFIED, BUT THE TAIL IS NOT PINNED"
        : `FAILED (${report.outcome})`;
  out.push(`${verdict}: exit ${report.exitCode}`);
  if (report.workspace !== undefined) {
    const range = report.range ? `, range [${report.range.start}, ${report.range.end})` : "";
    out.push(
      `  ${report.kind} of workspace ${report.workspace}: ${report.events} events${range}, ${report.eventsVerified} verified`,
    );
  }
  const cp = report.checkpoint;
  if (cp) {
    const by = cp.signedBy.length ? `signed by ${cp.signedBy.join(", ")}` : "NOT signed by a pinned key";
    out.push(
      `  checkpoint: ${cp.origin}, size ${cp.size}, root ${cp.root}, ${by}${cp.time ? `, ${cp.time}` : ""}`,
    );
  }
  if (report.trusted) {
    out.push(
      `  trusted checkpoint (size ${report.trusted.size}): ${report.trusted.consistent ? "consistent" : "NOT consistent"}`,
    );
  }
  out.push(`  tail pinned: ${report.tailPinned ? "yes" : "no"}`);
  for (const m of report.messages) out.push(`  ✗ ${m}`);
  for (const n of report.notes) out.push(`  · ${n}`);
  out.push(`  state: ${stateLine}`);
  return out.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      key: { type: "string", multiple: true },
      origin: { type: "string" },
      state: { type: "string" },
      consistency: { type: "string" },
      "require-pinned": { type: "boolean" },
      "no-update": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_CODES.verified;
  }
  const day = positionals[0] === "day";
  const files = day ? positionals.slice(1) : positionals;
  if (files.length !== (day ? 2 : 1)) {
    throw new UsageError(day ? "day needs <manifest.json> <events.ndjson.gz>" : "name one bundle file");
  }
  if (!values.key?.length) throw new UsageError("pin at least one verifier key with --key");
  const verifierKeys = keysFrom(values.key);
  let trusted: TrustedState | undefined;
  if (values.state && existsSync(values.state)) {
    try {
      trusted = parseTrustedState(readJson(values.state, "state file"));
    } catch (err: unknown) {
      throw new UsageError(`${values.state}: ${(err as Error).message}`);
    }
  }
  const consistency = values.consistency
    ? (readJson(values.consistency, "consistency file") as ConsistencyInput)
    : undefined;
  for (const f of files) if (!existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const options = {
    verifierKeys,
    ...(values.origin !== undefined ? { origin: values.origin } : {}),
    ...(trusted ? { trusted } : {}),
    ...(consistency ? { consistency } : {}),
    requirePinned: !!values["require-pinned"],
  };
  const report = day
    ? await verifyDay(files[0] as string, files[1] as string, options)
    : await verifyBundle(files[0] as string, options);

  let stateLine: string;
  let written = false;
  if (!values.state) stateLine = "none kept (pass --state FILE to pin this checkpoint for the next run)";
  else if (!report.newTrusted) stateLine = `${values.state} not written (verification failed)`;
  else if (!report.stateChanged) stateLine = `${values.state} unchanged (size ${report.newTrusted.size})`;
  else if (values["no-update"]) stateLine = `${values.state} not written (--no-update)`;
  else {
    try {
      writeState(values.state, report.newTrusted);
    } catch (err: unknown) {
      throw new UsageError(`cannot write the state file ${values.state}: ${(err as Error).message}`);
    }
    written = true;
    stateLine = `${values.state} written (size ${report.newTrusted.size})`;
  }
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ ...report, state: { file: values.state ?? null, written } }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${human(report, stateLine)}\n`);
  }
  return report.exitCode;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err: unknown) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`audit-log-verify: ${message}\n(--help shows the usage)\n`);
  process.exitCode = EXIT_CODES.usage;
}
