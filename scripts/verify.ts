import { parseArgs } from "node:util";
import { VERIFY_EXIT_HELP, verifyCommand } from "../bin/cli/verify.js";
import { EXIT_CODES } from "../functions/shared/tlog/verify.js";

/**
 * The offline verifier (docs/evidence.md):
 *
 *   npm run verify -- <bundle.ndjson.gz> --key <verifier key | @file> [options]
 *   npm run verify -- day <manifest.json> <events.ndjson.gz> --key <verifier key | @file> [options]
 *
 * and the same as one file, `npm run build:verify` → dist/audit-log-verify.mjs, which runs with
 * plain `node` and no network. It imports node: built-ins and the pure verifier core only. The work
 * is `audit-log verify`'s (bin/cli/verify.ts); this file reads the arguments without commander.
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

${VERIFY_EXIT_HELP}
`;

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
  return verifyCommand(
    positionals,
    {
      key: values.key,
      origin: values.origin,
      state: values.state,
      consistency: values.consistency,
      requirePinned: values["require-pinned"],
      update: !values["no-update"],
      json: values.json,
    },
    { stdout: process.stdout, cwd: process.cwd() },
  );
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err: unknown) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`audit-log-verify: ${message}\n(--help shows the usage)\n`);
  process.exitCode = EXIT_CODES.usage;
}
