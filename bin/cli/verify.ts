import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import {
  type ConsistencyInput,
  EXIT_CODES,
  parseTrustedState,
  type TrustedState,
  type VerifyReport,
  verifyBundle,
  verifyDay,
} from "../../functions/shared/tlog/verify.js";
import { emit, type Io } from "./io.js";

/**
 * `audit-log verify`, and `npm run verify` / dist/audit-log-verify.mjs (scripts/verify.ts, which
 * parses the same arguments with node:util and calls this): the offline verifier
 * (functions/shared/tlog/verify.ts, docs/evidence.md). This file only reads the files, writes the
 * state file and prints the report; every check is the core's. It imports node: built-ins and the
 * verifier core only, so the single-file build stays dependency-free. Its exit codes are the verifier's.
 */
export interface VerifyFlags {
  key?: string[];
  origin?: string;
  state?: string;
  consistency?: string;
  requirePinned?: boolean;
  /** commander's `--no-update`. */
  update?: boolean;
  json?: boolean;
}

export const VERIFY_EXIT_HELP = `Exit codes (the offline verifier's):
  0 verified                       4 an event's content does not match its hash
  1 usage or I/O error             5 a proof fails (inclusion / range / multi-leaf; missing or extra event)
  2 malformed evidence             6 not consistent with the trusted checkpoint
  3 checkpoint signature / origin  7 verified, but the tail is not pinned and --require-pinned was given`;

/** A usage or I/O problem of `verify`: exit 1, as the verifier's CLI. */
export class VerifyUsageError extends Error {}

function keysFrom(values: readonly string[], cwd: string): string[] {
  return values.flatMap((v) => {
    if (!v.startsWith("@")) return [v.trim()];
    const file = resolve(cwd, v.slice(1));
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err: unknown) {
      throw new VerifyUsageError(`cannot read the key file ${file}: ${(err as Error).message}`);
    }
    const keys = text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    if (!keys.length) throw new VerifyUsageError(`the key file ${file} holds no key`);
    return keys;
  });
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err: unknown) {
    throw new VerifyUsageError(`cannot read the ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new VerifyUsageError(`the ${what} ${file} is not JSON`);
  }
}

/** Written beside the target and renamed over it, so a crash never leaves half a state file. */
function writeState(file: string, state: TrustedState): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The report for a person: the verdict first, then what was checked, each failure, each note. */
export function humanReport(report: VerifyReport, stateLine: string): string {
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
  if (report.trusted)
    out.push(
      `  trusted checkpoint (size ${report.trusted.size}): ${report.trusted.consistent ? "consistent" : "NOT consistent"}`,
    );
  out.push(`  tail pinned: ${report.tailPinned ? "yes" : "no"}`);
  for (const m of report.messages) out.push(`  ✗ ${m}`);
  for (const n of report.notes) out.push(`  · ${n}`);
  out.push(`  state: ${stateLine}`);
  return out.join("\n");
}

/** Runs the verifier on `verify <bundle>` or `verify day <manifest> <events>`; returns its exit code. */
export async function verifyCommand(
  positionals: readonly string[],
  flags: VerifyFlags,
  io: Pick<Io, "stdout" | "cwd">,
): Promise<number> {
  const day = positionals[0] === "day";
  // Files are opened relative to `io.cwd`; messages name them as they were given.
  const given = day ? positionals.slice(1) : positionals;
  const files = given.map((f) => resolve(io.cwd, f));
  if (files.length !== (day ? 2 : 1))
    throw new VerifyUsageError(day ? "day needs <manifest.json> <events.ndjson.gz>" : "name one bundle file");
  if (!flags.key?.length) throw new VerifyUsageError("pin at least one verifier key with --key");
  const verifierKeys = keysFrom(flags.key, io.cwd);
  const stateFile = flags.state === undefined ? undefined : resolve(io.cwd, flags.state);
  let trusted: TrustedState | undefined;
  if (stateFile && existsSync(stateFile)) {
    try {
      trusted = parseTrustedState(readJson(stateFile, "state file"));
    } catch (err: unknown) {
      throw new VerifyUsageError(`${flags.state}: ${(err as Error).message}`);
    }
  }
  const consistency = flags.consistency
    ? (readJson(resolve(io.cwd, flags.consistency), "consistency file") as ConsistencyInput)
    : undefined;
  files.forEach((f, i) => {
    if (!existsSync(f)) throw new VerifyUsageError(`no such file: ${given[i]}`);
  });
  const options = {
    verifierKeys,
    ...(flags.origin !== undefined ? { origin: flags.origin } : {}),
    ...(trusted ? { trusted } : {}),
    ...(consistency ? { consistency } : {}),
    requirePinned: !!flags.requirePinned,
  };
  const report = day
    ? await verifyDay(files[0] as string, files[1] as string, options)
    : await verifyBundle(files[0] as string, options);

  const noUpdate = flags.update === false;
  let stateLine: string;
  let written = false;
  const stateName = flags.state;
  if (!stateFile) stateLine = "none kept (pass --state FILE to pin this checkpoint for the next run)";
  else if (!report.newTrusted) stateLine = `${stateName} not written (verification failed)`;
  else if (!report.stateChanged) stateLine = `${stateName} unchanged (size ${report.newTrusted.size})`;
  else if (noUpdate) stateLine = `${stateName} not written (--no-update)`;
  else {
    try {
      writeState(stateFile, report.newTrusted);
    } catch (err: unknown) {
      throw new VerifyUsageError(`cannot write the state file ${stateName}: ${(err as Error).message}`);
    }
    written = true;
    stateLine = `${stateName} written (size ${report.newTrusted.size})`;
  }
  await emit(
    io.stdout,
    flags.json
      ? `${JSON.stringify({ ...report, state: { file: stateName ?? null, written } }, null, 2)}\n`
      : `${humanReport(report, stateLine)}\n`,
  );
  return report.exitCode;
}

export { EXIT_CODES as VERIFY_EXIT_CODES };
