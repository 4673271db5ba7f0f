import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { checkpointJson } from "./checkpoint.js";
import { type ConnectionFlags, DEFAULT_BASE_URL, PROJECT_ROOT, resolveConnection } from "./config.js";
import { eventsCommand, PAGE_MAX } from "./events.js";
import { CliError, EXIT, EXIT_CODES_HELP } from "./exit.js";
import { EXPORT_FORMATS, type ExportOptions, exportCommand, exportSummary } from "./export.js";
import { addFilterOptions, apiFilters, type FilterFlags } from "./filters.js";
import { EventWriter, type Format, printable } from "./format.js";
import { ApiClient } from "./http.js";
import { emit, type Io } from "./io.js";
import { exportProgress } from "./progress.js";
import { TAIL_TABLE_WIDTHS, tailCommand } from "./tail.js";
import { VERIFY_EXIT_HELP, type VerifyFlags, VerifyUsageError, verifyCommand } from "./verify.js";

export const VERSION = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** Tables show the newest 100 by default; `--json`/`--ndjson` every match. */
export const TABLE_DEFAULT_MAX = 100;

const CONFIG_HELP = `Configuration (flags win over the environment):
  --base-url / AUDIT_LOG_URL   the API; default: the credentials file's baseUrl when the key
                               comes from it, else ${DEFAULT_BASE_URL}
  --key / AUDIT_LOG_KEY        an API key with events:read; default: the reader key of
                               --workspace (default: the first) in the local runtime's
                               .local/credentials.json (written by npm start)
  --credentials / AUDIT_LOG_CREDENTIALS   another credentials file`;

/** What commander hands an API command's action: filters, connection, and its own flags. */
type ApiFlags = FilterFlags & ConnectionFlags & { retries: number } & Record<string, unknown>;

function integer(min: number, max: number) {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("not a whole number");
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${min}–${max}`);
    return n;
  };
}

function seconds(min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!value.trim() || !Number.isFinite(n) || n < min)
      throw new InvalidArgumentError(`must be a number of seconds ≥ ${min}`);
    return Math.round(n * 1000);
  };
}

function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option("--base-url <url>", "the API's base URL (AUDIT_LOG_URL)")
    .option("--key <key>", "API key with events:read (AUDIT_LOG_KEY)")
    .option("-w, --workspace <id>", "workspace whose reader key to take from the credentials file")
    .option("--credentials <file>", "the local runtime's credentials file (AUDIT_LOG_CREDENTIALS)")
    .addOption(
      new Option("--retries <n>", "retries of a 429/503 that asks to retry (Retry-After)")
        .argParser(integer(0, 10))
        .default(3),
    );
}

/** The commander program, fresh per run (tests run several in one process). */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const stderrLine = (text: string) => io.stderr.write(`audit-log: ${printable(text)}\n`);
  const client = (flags: ConnectionFlags & { retries: number }, userAgent: string) => {
    const conn = resolveConnection(flags, io.env, io.cwd);
    return new ApiClient({
      ...conn,
      userAgent,
      io,
      retries: flags.retries,
      onRetry: stderrLine,
    });
  };
  const ua = (command: string) => `audit-log/${VERSION} (${command})`;

  const program = new Command("audit-log")
    .description("Query, follow, export and verify the audit log from a terminal.")
    .version(VERSION, "-V, --version")
    .enablePositionalOptions()
    .showHelpAfterError("(audit-log --help shows the usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .addHelpText("after", `\n${CONFIG_HELP}\n\n${EXIT_CODES_HELP}\n`);

  const events = addConnectionOptions(
    addFilterOptions(
      program.command("events").description("List events, newest first, following cursors (GET /v1/events)."),
    ),
  )
    .addOption(new Option("--json", "one JSON array").conflicts("ndjson"))
    .option("--ndjson", "one JSON event per line")
    .addOption(
      new Option(
        "-m, --max <n>",
        `stop after n events (default: ${TABLE_DEFAULT_MAX} for a table, all for --json/--ndjson)`,
      )
        .argParser(integer(1, Number.MAX_SAFE_INTEGER))
        .conflicts("all"),
    )
    .option("--all", "every matching event, also as a table")
    .addOption(
      new Option("--page-size <n>", "events per request (the API's limit)")
        .argParser(integer(1, PAGE_MAX))
        .default(PAGE_MAX),
    )
    .action(async (flags: ApiFlags) => {
      const format: Format = flags.json ? "json" : flags.ndjson ? "ndjson" : "table";
      const max =
        (flags.max as number | undefined) ??
        (flags.all || format !== "table" ? undefined : TABLE_DEFAULT_MAX);
      const filters = apiFilters(flags, io.now());
      const api = client(flags, ua("events"));
      await eventsCommand(
        api,
        { filters, max, pageSize: flags.pageSize as number },
        new EventWriter(io.stdout, format),
        io.stdout,
      );
    });
  events.addHelpText(
    "after",
    "\nExamples:\n  audit-log events --type pcap.download --since 2026-03-02\n  audit-log events --category auth --outcome failure --since 24h --ndjson",
  );

  addConnectionOptions(
    addFilterOptions(
      program
        .command("tail")
        .description(
          "Show the newest events, then follow new ones as they are recorded (like tail -f); Ctrl-C stops.",
        ),
      { since: false, until: false },
    ),
  )
    .option("--ndjson", "one JSON event per line instead of a table")
    .addOption(
      new Option("-l, --lines <n>", "newest events to show first")
        .argParser(integer(0, PAGE_MAX))
        .default(10),
    )
    .addOption(
      new Option("-i, --interval <seconds>", "between polls").argParser(seconds(0.05)).default(2000, "2"),
    )
    .addOption(
      new Option(
        "--lookback <seconds>",
        "each poll re-reads this far back and drops what it showed (late writes)",
      )
        .argParser(seconds(0))
        .default(5000, "5"),
    )
    .option("--show-own-queries", "also show the audit.queried events this tail's own polls leave")
    .action(async (flags: ApiFlags) => {
      const filters = apiFilters(flags, io.now());
      // Unique to this run, so its own audit.queried events can be told from every other read.
      const userAgent = `${ua("tail")} run/${randomBytes(6).toString("hex")}`;
      const api = client(flags, userAgent);
      const format: Format = flags.ndjson ? "ndjson" : "table";
      await tailCommand(
        api,
        {
          filters,
          lines: flags.lines as number,
          intervalMs: flags.interval as number,
          lookbackMs: flags.lookback as number,
          hideOwnQueries: !flags.showOwnQueries,
          userAgent,
          onFollow: () => stderrLine(`following ${api.baseUrl} (Ctrl-C stops)`),
          onTransientError: stderrLine,
        },
        new EventWriter(io.stdout, format, TAIL_TABLE_WIDTHS),
        io,
      );
    });

  addConnectionOptions(
    addFilterOptions(
      program
        .command("export")
        .description(
          "Create an export (POST /v1/exports), show its progress, download it and check its SHA-256 and size.",
        ),
    ),
  )
    .addOption(new Option("-f, --format <format>", "file format").choices(EXPORT_FORMATS).default("csv"))
    .option("--gzip", "gzip the file (evidence bundles always are)")
    .addOption(
      new Option(
        "--trusted-size <n>",
        "evidence only: size of a checkpoint you hold (adds a consistency proof)",
      ).argParser(integer(1, Number.MAX_SAFE_INTEGER)),
    )
    .option("--out <file>", "where to write it (default: the export's file name, here)")
    .option("--force", "replace --out if it exists")
    .option("--id <exportId>", "wait for and download an export created before, instead of creating one")
    .addOption(
      new Option("-i, --interval <seconds>", "between status polls")
        .argParser(seconds(0.05))
        .default(1000, "1"),
    )
    .addOption(
      new Option("--timeout <seconds>", "stop waiting after this long")
        .argParser(seconds(1))
        .default(3_600_000, "3600"),
    )
    .action(async (flags: ApiFlags) => {
      const filters = apiFilters(flags, io.now());
      if (flags.id && (Object.keys(filters).length || flags.trustedSize !== undefined))
        throw new CliError(
          "--id downloads an existing export: its filters were set when it was created",
          EXIT.usage,
        );
      const api = client(flags, ua("export"));
      const options: ExportOptions = {
        format: flags.format as ExportOptions["format"],
        gzip: !!flags.gzip,
        filters,
        force: !!flags.force,
        intervalMs: flags.interval as number,
        timeoutMs: flags.timeout as number,
        ...(flags.id ? { id: flags.id as string } : {}),
        ...(flags.out ? { out: flags.out as string } : {}),
        ...(flags.trustedSize !== undefined ? { trustedSize: flags.trustedSize as number } : {}),
      };
      const result = await exportCommand(api, options, exportProgress(io.stderr), io);
      await emit(io.stdout, `${exportSummary(result)}\n`);
    });

  program
    .command("verify")
    .description(
      "Verify an evidence bundle or a nightly day offline against a pinned verifier key (docs/evidence.md).",
    )
    .usage(
      "<bundle.evidence.ndjson.gz> --key KEY [options]\n       audit-log verify day <manifest.json> <events.ndjson.gz> --key KEY [options]",
    )
    .argument("<files...>", "a bundle, or: day <manifest.json> <events.ndjson.gz>")
    .option(
      "--key <key>",
      "pinned verifier key (name+hex+base64; GET /v1/log/key), or @FILE with one a line; repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--origin <origin>", "the checkpoint origin to require")
    .option("--state <file>", "trusted state: read before, written after (unless --no-update)")
    .option("--consistency <file>", "the JSON of GET /v1/log/consistency?from=<trusted size>&to=<size>")
    .option("--require-pinned", "exit 7 unless the trusted state already covers every event checked")
    .option("--no-update", "do not write the state file")
    .option("--json", "print the report as JSON")
    .addHelpText("after", `\n${VERIFY_EXIT_HELP}\n`)
    .action(async (files: string[], flags: VerifyFlags) => {
      setExit(await verifyCommand(files, flags, io));
    });

  addConnectionOptions(
    program
      .command("checkpoint")
      .description("Print the workspace's latest signed checkpoint (GET /v1/log/checkpoint)."),
  )
    .option("--json", "parsed: origin, size, root, extensions, signatures, and the note")
    .action(async (flags: ConnectionFlags & { retries: number; json?: boolean }) => {
      const note = await client(flags, ua("checkpoint")).text("GET", "/v1/log/checkpoint");
      await emit(io.stdout, flags.json ? `${JSON.stringify(checkpointJson(note), null, 2)}\n` : note);
    });

  return program;
}

/**
 * Runs `audit-log` with `argv` (without node and the script) and returns the exit code; errors are
 * one line on stderr (`audit-log: …`).
 */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (err: unknown) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      io.stderr.write(`audit-log: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof VerifyUsageError) {
      io.stderr.write(`audit-log verify: ${err.message}\n(audit-log verify --help shows the usage)\n`);
      return EXIT.usage;
    }
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code === "string" && typeof e.path === "string") {
      io.stderr.write(`audit-log: ${e.message}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`audit-log: internal error: ${e?.stack ?? String(err)}\n`);
    return EXIT.usage;
  }
}
