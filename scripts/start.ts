import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Scope } from "../functions/shared/routes.js";
import { localClients, localEnv, processEnvFor, provision, seedWorkspace } from "./lib/bootstrap.js";
import { startEngines } from "./lib/engines.js";
import { createLocalServer, listen, moduleHandler } from "./lib/local-server.js";
import { ROOT } from "./lib/moto.js";
import { pollQueue } from "./lib/queue-workers.js";
import { sampleLogAsOfYesterday } from "./lib/sample.js";
import { startSchedules } from "./lib/scheduler.js";
import { type StreamHandler, startStreamWatch } from "./lib/stream-watch.js";

/**
 * `npm start`: Dynoxide (DynamoDB) and moto (S3 with Object Lock, SQS, Secrets Manager) on loopback ports, the tables
 * and bucket from the same definitions as the CDK stack, two workspaces with keys, the product
 * page's sample log in `demo` (whose nightly exports are also copied to a second moto bucket that
 * plays its own), the API on http://127.0.0.1:3000 (PORT overrides), the export queue's worker, and
 * the scheduled jobs (nightly export, failure-window flush) on the same schedules as the
 * EventBridge rules, and the tamper watch on the events table's stream.
 */
const port = Number(process.env.PORT ?? 3000);
const engines = await startEngines({
  motoPort: process.env.MOTO_PORT ? Number(process.env.MOTO_PORT) : undefined,
  dynamoPort: process.env.DYNAMODB_PORT ? Number(process.env.DYNAMODB_PORT) : undefined,
});
let stopping = false;
let stopWatch: (() => void) | undefined;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  stopWatch?.();
  await engines.stop();
  process.exit(code);
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(0));
void engines.exited.then(({ engine }) => {
  if (!stopping) {
    process.stderr.write(`${engine} exited; stopping\n`);
    void stop(1);
  }
});

try {
  const env = localEnv(engines);
  Object.assign(process.env, processEnvFor(env), {
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
  });
  await provision(env);

  const keys = { writer: ["events:write"], reader: ["events:read"], admin: ["admin"] } satisfies Record<
    string,
    Scope[]
  >;
  // demo is an enterprise workspace, so the nightly export has something to write locally.
  const demo = await seedWorkspace(env, "demo", keys, { plan: "enterprise" });
  const workspaces = [demo, await seedWorkspace(env, "other", keys)];

  const server = createLocalServer(moduleHandler);
  const baseUrl = await listen(server, port);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  startSchedules(moduleHandler, log);
  pollQueue(localClients(env).sqs, env.exportQueueUrl, () => moduleHandler("export-worker"), log);
  // Before the sample log goes in, so every change from here on passes the watch.
  const watch = await startStreamWatch({
    endpoint: env.dynamoEndpoint,
    region: env.region,
    tableName: env.eventsTable,
    handler: () => moduleHandler<StreamHandler>("tamper-watch"),
    log,
  });
  stopWatch = watch.stop;

  const seeded = await fetch(`${baseUrl}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${demo.keys.writer}`, "content-type": "application/json" },
    body: JSON.stringify({ events: sampleLogAsOfYesterday(new Date()) }),
  });
  if (seeded.status !== 200)
    throw new Error(`loading the sample log failed: ${seeded.status} ${await seeded.text()}`);

  // demo copies its nightly exports to a bucket of "its own": a plain moto bucket, set through the
  // API like a customer would (so the change is in demo's log, and the secret in Secrets Manager).
  const destination = await fetch(`${baseUrl}/v1/settings`, {
    method: "PUT",
    headers: { authorization: `Bearer ${demo.keys.admin}`, "content-type": "application/json" },
    body: JSON.stringify({
      exportDestination: {
        endpoint: engines.aws,
        region: env.region,
        bucket: env.customerBucket,
        prefix: "siem/",
        accessKeyId: "test",
        secretAccessKey: "test",
        forcePathStyle: true,
      },
    }),
  });
  if (destination.status !== 200)
    throw new Error(
      `setting demo's export destination failed: ${destination.status} ${await destination.text()}`,
    );

  mkdirSync(join(ROOT, ".local"), { recursive: true });
  const local = {
    endpoint: engines.aws,
    dynamoEndpoint: engines.dynamodb,
    eventsTable: env.eventsTable,
    controlTable: env.controlTable,
    exportBucket: env.exportBucket,
    customerBucket: env.customerBucket,
  };
  const credentials = { baseUrl, workspaces, local };
  const file = process.env.CREDENTIALS_FILE ?? ".local/credentials.json";
  writeFileSync(join(ROOT, file), `${JSON.stringify(credentials, null, 2)}\n`);

  console.log(
    `audit log API on ${baseUrl}  (${engines.dynamoEngine} DynamoDB on ${engines.dynamodb}, moto on ${engines.aws})`,
  );
  for (const ws of workspaces) {
    console.log(`  workspace ${ws.id}`);
    for (const [name, token] of Object.entries(ws.keys)) console.log(`    ${name.padEnd(7)} ${token}`);
  }
  // The Audit Log page, opened with demo's reader key in the fragment (the platform's dashboard would
  // mint a 15-minute viewer session instead: POST /v1/viewer-sessions).
  console.log(`Audit Log page: ${baseUrl}/dashboard/audit#token=${demo.keys.reader}`);
  console.log(`credentials written to ${file}; sample log loaded into demo. Ctrl-C stops.`);
} catch (err: unknown) {
  process.stderr.write(`npm start failed: ${(err as Error).stack ?? String(err)}\n`);
  await stop(1);
}
