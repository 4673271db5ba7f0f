import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { localEnv, processEnvFor } from "./lib/bootstrap.js";
import { ROOT } from "./lib/moto.js";

/**
 * `npm run export:nightly -- --date YYYY-MM-DD`: runs the nightly export job, the same handler
 * module the EventBridge rule invokes, against the local runtime (`npm start` must be running).
 * Without --date it exports yesterday (UTC), as the 00:15 run does.
 */
const { values } = parseArgs({ options: { date: { type: "string" } } });
const file = join(ROOT, process.env.CREDENTIALS_FILE ?? ".local/credentials.json");
if (!existsSync(file)) {
  console.error("export:nightly: no .local/credentials.json; start the local runtime with `npm start` first");
  process.exit(1);
}
const local = (
  JSON.parse(readFileSync(file, "utf8")) as { local?: { endpoint: string; dynamoEndpoint: string } }
).local;
if (!local) {
  console.error("export:nightly: .local/credentials.json has no `local` section; restart `npm start`");
  process.exit(1);
}
Object.assign(process.env, processEnvFor(localEnv({ aws: local.endpoint, dynamodb: local.dynamoEndpoint })), {
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
});
const { handler } = await import("../functions/nightly-export/handler.js");
const result = await handler({
  time: new Date().toISOString(),
  detail: values.date ? { day: values.date } : {},
});
for (const r of result.results) {
  const copy = !r.destination
    ? ""
    : r.destination.status === "failed"
      ? `  → own bucket: FAILED after ${r.destination.attempts} attempts: ${r.destination.error}`
      : `  → own bucket: ${r.destination.status}${r.destination.caughtUp ? ` (and ${r.destination.caughtUp.join(", ")})` : ""}`;
  console.log(
    `${r.day}  ${r.workspaceId.padEnd(20)} ${r.status.padEnd(8)} ${r.eventCount} events  ${r.manifestKey}${copy}`,
  );
}
if (result.results.length === 0) console.log(`${result.day}: no enterprise workspaces`);
