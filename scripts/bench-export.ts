import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { build } from "esbuild";
import { loadConfig } from "../functions/shared/config.js";
import { keyIdOf } from "../functions/shared/core/api-keys.js";
import { createExport } from "../functions/shared/core/exports.js";
import { makeDeps } from "../functions/shared/deps.js";
import { exportQueue } from "../functions/shared/export-deps.js";
import { localClients, localEnv, processEnvFor, provision, seedWorkspace } from "./lib/bootstrap.js";
import { bulkLoad } from "./lib/bulk-load.js";
import { startEngines } from "./lib/engines.js";
import {
  type ChildRequest,
  type ChildResult,
  RESULT_PREFIX,
  syntheticRecord,
} from "./lib/export-rss-child.js";
import { ROOT } from "./lib/moto.js";

/**
 * `npm run bench:export`: peak RSS of on-demand export runs — the real `runExport` pipeline
 * (EventStore.stream → encoder → optional gzip → S3 multipart upload into moto's Object Lock
 * bucket, job item in moto's control table) — one child process per run, so that the child's
 * `process.resourceUsage().maxRSS` is that run's peak alone.
 *
 * - BENCH_EXPORT_EVENTS (default 250,000): ndjson, json, csv and ndjson+gzip from the synthetic
 *   source (scripts/lib/export-rss-child.ts): moto's Query reads the whole partition per page, so
 *   streaming 250,000 events back out of moto takes about an hour.
 * - BENCH_EXPORT_DDB_EVENTS (default 25,000; 0 skips): the same events bulk-loaded into moto and
 *   exported through the real DynamoDB event store, beside a synthetic run of the same size.
 * - BENCH_EXPORT_FORMATS (default "ndjson,json,csv,ndjson+gzip"): the synthetic runs, any of
 *   ndjson, json, csv, each optionally with +gzip.
 * - BENCH_EXPORT_CAPPED_OLD_SPACE_MB (default 40; 0 skips): one more ndjson run with
 *   --max-old-space-size at that, to separate live memory from V8's collection headroom.
 * - BENCH_EXPORT_NODE_OPTIONS: node flags for the children (e.g. --max-old-space-size=160).
 *
 * Prints a table and writes docs/benchmarks-export.md. Nothing fails on a threshold: numbers, not
 * verdicts (the table says whether each peak is under the issue's 200 MB).
 */
const EVENTS = Number(process.env.BENCH_EXPORT_EVENTS ?? 250_000);
const DDB_EVENTS = Number(process.env.BENCH_EXPORT_DDB_EVENTS ?? 25_000);
const FORMATS = (process.env.BENCH_EXPORT_FORMATS ?? "ndjson,json,csv,ndjson+gzip")
  .split(",")
  .map((name) => name.trim())
  .filter(Boolean);
for (const name of FORMATS)
  if (!/^(ndjson|json|csv)(\+gzip)?$/.test(name))
    throw new Error(`BENCH_EXPORT_FORMATS: unknown format ${name}`);
/** One more ndjson run with V8's old generation capped: how much of the peak is live data. */
const CAPPED_OLD_SPACE_MB = Number(process.env.BENCH_EXPORT_CAPPED_OLD_SPACE_MB ?? 40);
const CHILD_NODE_OPTIONS = (process.env.BENCH_EXPORT_NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean);
const LIMIT_MB = 200;
const MiB = 2 ** 20;

process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

interface RunSpec {
  /** Extra node flags for this run's child. */
  nodeOptions?: string[];
  label: string;
  source: "synthetic" | "dynamodb";
  workspaceId: string;
  format: "ndjson" | "json" | "csv";
  gzip: boolean;
  events: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** The commit measured, and whether the service's code differed from it. */
function revision(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "functions"], { cwd: ROOT }).toString();
    return `commit ${head}${dirty.trim() ? " + uncommitted changes in functions/" : ""}`;
  } catch {
    return "commit unknown";
  }
}

/** The child, bundled as the Lambda is (ESM, minified, SDK included) and run with plain node. */
async function bundleChild(dir: string): Promise<string> {
  const outfile = join(dir, "export-rss-child.mjs");
  await build({
    entryPoints: [join(ROOT, "scripts/lib/export-rss-child.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    mainFields: ["module", "main"],
    minify: true,
    logLevel: "warning",
    banner: {
      js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);",
    },
  });
  return outfile;
}

function runChild(bundle: string, request: ChildRequest, nodeOptions: string[] = []): Promise<ChildResult> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // tsx's loader must not ride along into the measured process
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...CHILD_NODE_OPTIONS, ...nodeOptions, bundle, JSON.stringify(request)],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) reject(new Error(`export child exited with ${code}\n${err}\n${out}`));
      else resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as ChildResult);
    });
  });
}

const f = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => f(bytes / MiB, 1);

const started = performance.now();
const workDir = mkdtempSync(join(tmpdir(), "bench-export-"));
const engines = await startEngines();
try {
  const env = localEnv(engines, "benchexport");
  Object.assign(process.env, processEnvFor(env));
  await provision(env);
  const clients = localClients(env);
  const bundle = await bundleChild(workDir);
  const newestAt = new Date(Date.now() - 60_000);
  const expiresAt = Math.floor(Date.now() / 1000) + 365 * 86_400;

  const seeded = {
    synthetic: await seedWorkspace(
      env,
      "bench-synthetic",
      { reader: ["events:read"] },
      { plan: "enterprise" },
    ),
    dynamodb: await seedWorkspace(env, "bench-dynamodb", { reader: ["events:read"] }, { plan: "enterprise" }),
  };

  if (DDB_EVENTS > 0) {
    const loadStarted = performance.now();
    const records = Array.from({ length: DDB_EVENTS }, (_, i) =>
      syntheticRecord(i, seeded.dynamodb.id, newestAt.getTime(), expiresAt),
    );
    await bulkLoad(clients.document, env.eventsTable, records);
    log(
      `bulk-loaded ${f(DDB_EVENTS)} events into moto in ${f((performance.now() - loadStarted) / 1000, 1)} s`,
    );
  }

  const runs: RunSpec[] = [
    ...FORMATS.map((name) => {
      const gzip = name.endsWith("+gzip");
      const format = name.replace("+gzip", "") as RunSpec["format"];
      return {
        label: gzip ? `${format} + gzip` : format,
        source: "synthetic" as const,
        workspaceId: seeded.synthetic.id,
        format,
        gzip,
        events: EVENTS,
      };
    }),
    ...(CAPPED_OLD_SPACE_MB > 0
      ? [
          {
            label: `ndjson, old space ≤ ${CAPPED_OLD_SPACE_MB} MB`,
            source: "synthetic" as const,
            workspaceId: seeded.synthetic.id,
            format: "ndjson" as const,
            gzip: false,
            events: EVENTS,
            nodeOptions: [`--max-old-space-size=${CAPPED_OLD_SPACE_MB}`],
          },
        ]
      : []),
    ...(DDB_EVENTS > 0
      ? [
          {
            label: "ndjson",
            source: "synthetic" as const,
            workspaceId: seeded.synthetic.id,
            format: "ndjson" as const,
            gzip: false,
            events: DDB_EVENTS,
          },
          {
            label: "ndjson",
            source: "dynamodb" as const,
            workspaceId: seeded.dynamodb.id,
            format: "ndjson" as const,
            gzip: false,
            events: DDB_EVENTS,
          },
        ]
      : []),
  ];

  // The API side: the job is created by createExport itself and reaches the worker through SQS.
  const apiDeps = makeDeps({ config: loadConfig(), client: clients.document });
  const queue = exportQueue(apiDeps.config);
  const results: { spec: RunSpec; result: ChildResult }[] = [];
  const lockModes = new Set<string>();
  for (const spec of runs) {
    const token = seeded[spec.source].keys.reader;
    const created = await createExport(
      { ...apiDeps, exportQueue: queue },
      { workspaceId: spec.workspaceId, keyId: keyIdOf(token) ?? "unknown", scopes: ["events:read"] },
      { sourceIp: "127.0.0.1", userAgent: "bench-export", method: "POST", path: "/v1/exports" },
      { format: spec.format, gzip: spec.gzip },
    );
    const message = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: env.exportQueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
    );
    const received = message.Messages?.[0];
    const { exportId } = JSON.parse(received?.Body ?? "{}") as { exportId?: string };
    if (exportId !== created.id) throw new Error(`queue handed ${exportId}, expected ${created.id}`);
    await clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: env.exportQueueUrl, ReceiptHandle: received?.ReceiptHandle }),
    );

    log(
      `${spec.source} ${spec.label}, ${f(spec.events)} events${spec.nodeOptions ? ` (${spec.nodeOptions.join(" ")})` : ""}…`,
    );
    const result = await runChild(
      bundle,
      {
        exportId,
        source: spec.source,
        events: spec.source === "synthetic" ? spec.events : undefined,
        newestAt: newestAt.toISOString(),
      },
      spec.nodeOptions,
    );

    // What the worker left behind: a ready job with the right count, and a locked object of that size.
    const job = await apiDeps.control.getExportJob(exportId);
    if (job?.status !== "ready" || job.eventCount !== spec.events || !job.objectKey)
      throw new Error(`export ${exportId} ended ${job?.status} with ${job?.eventCount} events`);
    const head = await clients.s3.send(
      new HeadObjectCommand({ Bucket: env.exportBucket, Key: job.objectKey }),
    );
    if (head.ContentLength !== job.bytes)
      throw new Error(`object ${job.objectKey}: ${head.ContentLength} bytes, the job says ${job.bytes}`);
    // Reported, not required: moto does not carry Object Lock onto multipart uploads (see the doc).
    lockModes.add(head.ObjectLockMode ?? "none");
    log(
      `  peak RSS ${f(result.maxRssKiB / 1024, 1)} MB (baseline ${mb(result.baseline.rss)} MB), ` +
        `${f(result.durationMs / 1000, 1)} s, ${mb(job.bytes ?? 0)} MB`,
    );
    results.push({ spec, result });
  }

  const rows = results.map(({ spec, result: r }) => {
    const peakMb = r.maxRssKiB / 1024;
    const seconds = r.durationMs / 1000;
    return [
      spec.label,
      spec.source === "synthetic" ? "synthetic" : "DynamoDB (moto)",
      f(spec.events),
      mb(r.baseline.rss),
      f(peakMb, 1),
      f(peakMb - r.baseline.rss / MiB, 1),
      peakMb < LIMIT_MB ? "yes" : "**no**",
      mb(r.peak.heapUsed),
      mb(r.peak.heapTotal),
      mb(r.peak.external),
      f(seconds, 1),
      r.sourceMs === undefined ? "—" : f(r.sourceMs / 1000, 1),
      f((r.cpuUserMs + r.cpuSystemMs) / 1000, 1),
      mb(r.bytes ?? 0),
      f((r.bytes ?? 0) / (r.eventCount || 1)),
      f((r.eventCount ?? 0) / seconds),
    ];
  });
  const table = [
    "| format | source | events | baseline RSS (MB) | peak RSS (MB) | peak − baseline (MB) | under 200 MB | peak heap used (MB) | peak heap total (MB) | peak external (MB) | duration (s) | of which source (s) | CPU (s) | file (MB) | bytes/event | events/s |",
    "|---|---|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

  const byKey = (source: string, events: number) =>
    results.find(
      (x) =>
        x.spec.source === source &&
        x.spec.events === events &&
        x.spec.format === "ndjson" &&
        !x.spec.gzip &&
        !x.spec.nodeOptions,
    )?.result;
  const syntheticSmall = byKey("synthetic", DDB_EVENTS);
  const dynamo = byKey("dynamodb", DDB_EVENTS);
  const growth = (r: ChildResult) => r.maxRssKiB / 1024 - r.baseline.rss / MiB;
  const signed = (n: number) => `${n >= 0 ? "+" : "−"}${f(Math.abs(n), 1)} MB`;
  const adapterNote =
    syntheticSmall && dynamo
      ? `At ${f(DDB_EVENTS)} events, the export through the DynamoDB adapter peaked at ` +
        `${f(dynamo.maxRssKiB / 1024, 1)} MB (${f(growth(dynamo), 1)} MB over its baseline), the synthetic source ` +
        `at ${f(syntheticSmall.maxRssKiB / 1024, 1)} MB (${f(growth(syntheticSmall), 1)} MB over its baseline): ` +
        `${signed((dynamo.maxRssKiB - syntheticSmall.maxRssKiB) / 1024)} in peak and ` +
        `${signed(growth(dynamo) - growth(syntheticSmall))} in growth through DynamoDB. Same events, same pipeline, ` +
        "only the source differs: the adapter's page buffers (up to 1,000 items per shard, 4 shards) and the " +
        "SDK's response parsing are what it adds, on top of or within the heap headroom the pipeline already has."
      : "";

  const uncapped = byKey("synthetic", EVENTS);
  const capped = results.find((x) => x.spec.nodeOptions)?.result;
  const headroomNote =
    uncapped && capped
      ? `With V8's old generation capped at ${CAPPED_OLD_SPACE_MB} MB (\`--max-old-space-size\`), the same ` +
        `${f(EVENTS)}-event NDJSON export completes with a peak of ${f(capped.maxRssKiB / 1024, 1)} MB against ` +
        `${f(uncapped.maxRssKiB / 1024, 1)} MB uncapped: what the pipeline keeps alive fits in that heap, and ` +
        "the rest of the uncapped peak is collection headroom. Uncapped, V8 sizes its heap from the machine " +
        "(or the Lambda's memory), not from the live data, so the peak creeps up with the run's length even " +
        "though nothing accumulates (to see it: BENCH_EXPORT_EVENTS=1000000 " +
        "BENCH_EXPORT_FORMATS=ndjson,ndjson+gzip BENCH_EXPORT_DDB_EVENTS=0, with and without " +
        `BENCH_EXPORT_NODE_OPTIONS=--max-old-space-size=${CAPPED_OLD_SPACE_MB}).`
      : "";
  const cpu = cpus();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${f(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
  const lockNote = lockModes.has("none")
    ? "moto (5.2.5) does not carry Object Lock onto objects completed by CompleteMultipartUpload " +
      "(its complete_multipart_upload stores the object without the upload's lock mode or the bucket's " +
      "default retention), so the multipart files here report no lock; on S3 the lock headers of " +
      "CreateMultipartUpload apply. The bench reports this rather than failing on it."
    : "Every file reported COMPLIANCE retention.";
  const doc = `# Export memory benchmark

Run: ${new Date().toISOString()} · ${machine} · ${revision()} · ${f((performance.now() - started) / 60_000, 1)} min in all${CHILD_NODE_OPTIONS.length ? ` · child node flags: \`${CHILD_NODE_OPTIONS.join(" ")}\`` : ""}

\`npm run bench:export\` (scripts/bench-export.ts) measures the peak resident memory of one on-demand
export run: the real \`runExport(deps, exportId)\` — \`EventStore.stream()\` → the format's encoder
→ gzip when asked → S3 multipart upload (8 MiB parts) into moto's Object Lock bucket, with the job
item (and its checkpoints) in moto's control table and the \`audit.exported\` event appended at the
end. The job is created by \`createExport\` and its id taken off the SQS queue, as the worker gets it.

Each run is a fresh child process (scripts/lib/export-rss-child.ts, bundled with esbuild as the
Lambda is, run with plain \`node\`) that wires the worker's own dependencies (\`jobDeps()\`,
\`archiveStore()\`, \`exportQueue()\`), so \`process.resourceUsage().maxRSS\` is that run's peak
alone, cold start included. *Baseline* is the child's RSS after imports and wiring, before
\`runExport\`. *Peak heap used*, *heap total* (what V8 has reserved) and *external* (Buffers and
other memory outside the JS heap) are the highest \`process.memoryUsage()\` values sampled every
25 ms, each its own maximum, not simultaneous; short-lived spikes between samples are missed, the
peak RSS is not. After each run the bench checks that the job is \`ready\` with the expected count
and that the stored object has the job's byte count. MB = 2^20 bytes. The issue's bound is
${LIMIT_MB} MB; nothing here fails on it.

**Which rows are synthetic, and why.** Rows marked *synthetic* feed the pipeline from an in-process
\`EventStore\` whose \`stream()\` builds each event as it is pulled (validated with the catalogue's
schema and hashed by \`buildEvent\`, as the service stores it; ~400–900 bytes as NDJSON, contexts
with quotes, commas, newlines, CR LF, tabs, non-ASCII and formula-like cells) and holds none of
them; every other store call (the \`audit.exported\` append) still goes to moto, as do S3 and the
control table. moto's DynamoDB Query costs O(partition size) per page, so reading ${f(EVENTS)}
events back out of moto takes about an hour; the synthetic source isolates encoder, gzip and
multipart upload, which is where the export's size matters. The *DynamoDB (moto)* row exports
${f(DDB_EVENTS)} events bulk-loaded into moto (scripts/lib/bulk-load.ts, the same generator) through the
real \`DynamoEventStore\` (\`stream()\`'s k-way merge over the 4 write shards, one page of up to
1,000 items per shard), beside a synthetic run of the same size, so the adapter's own memory shows
as the difference. *Of which source* is the time the synthetic generator spent building events (zod
validation, canonical JSON, SHA-256), included in *duration*; subtract it for the pipeline alone.

${adapterNote}

${headroomNote}

${lockNote}

Run to run, the peak of one configuration varied by up to 2 MB at 25,000 events and by up to about
12 MB at 250,000 when checked (GC timing), and an occasional child starts some 10 MB higher than
the usual 56 MB baseline (the capped row always does); *peak − baseline* is the steadier figure, and
differences smaller than that between rows are noise.
These are moto numbers on a shared 2-core machine (moto runs beside the child): durations and
events/s compare formats, not AWS throughput. The pipeline waits for each part's upload before
reading on, so a slower S3 makes it slower, not bigger. The Lambda runs Node 22 on arm64 with
1,024 MB; this run is Node ${process.versions.node} on ${process.arch}.

${table}
`;
  writeFileSync(join(ROOT, "docs/benchmarks-export.md"), doc);
  console.log(table);
  for (const note of [adapterNote, headroomNote]) if (note) console.log(`\n${note}`);
  console.log("\nwritten to docs/benchmarks-export.md");
} finally {
  await engines.stop();
  rmSync(workDir, { recursive: true, force: true });
}
