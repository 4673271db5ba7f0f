import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { gunzipSync } from "node:zlib";
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import {
  dynamoDocumentClient,
  JOB_REQUEST_TIMEOUT_MS,
  newDocumentClient,
  secretsClient,
} from "../functions/shared/adapters/clients.js";
import {
  DynamoEventStore,
  EVENTS_PER_TRANSACTION,
  eventItem,
} from "../functions/shared/adapters/dynamodb-event-store.js";
import { FixedClock } from "../functions/shared/clock.js";
import { loadConfig } from "../functions/shared/config.js";
import { buildEvent, contentHashOf } from "../functions/shared/core/events.js";
import { MAX_SEAL_PER_RUN, sealWorkspace } from "../functions/shared/core/log.js";
import { makeDeps } from "../functions/shared/deps.js";
import { logDeps } from "../functions/shared/log-deps.js";
import { type EventRecord, SEAL_SETTLE_MS } from "../functions/shared/ports.js";
import { type EventInput, postEventsRequestSchema } from "../functions/shared/schemas/event.js";
import { checkpointKeyAlias, Keys, logNameOf, PK } from "../functions/shared/table.js";
import { consistencySpans, inclusionSpans, multiProofSpans } from "../functions/shared/tlog/merkle.js";
import { verifyBundle } from "../functions/shared/tlog/verify.js";
import { localClients, localEnv, processEnvFor, provision, seedWorkspace } from "./lib/bootstrap.js";
import { bulkLoad } from "./lib/bulk-load.js";
import { bundleFunctions } from "./lib/bundle.js";
import { DYNOXIDE_VERSION } from "./lib/dynoxide.js";
import { startEngines } from "./lib/engines.js";
import { createLocalServer, type LambdaHandler, listen, moduleHandler } from "./lib/local-server.js";
import { ROOT } from "./lib/moto.js";
import { pollQueue } from "./lib/queue-workers.js";
import { seededRandom } from "./lib/random.js";
import { SEAL_PARTS, type SealPart, SealTimes, timedLogDeps } from "./lib/seal-timing.js";

/**
 * `npm run bench`: fresh engines (Dynoxide for DynamoDB, moto for the rest) and the local gateway
 * running the real handler modules in this process, then, in one run:
 * 1. DynamoDB requests per POST (one event, a batch of 100) and per filtered list, cold (first
 *    request of a key) and warm, counted by SDK middleware on the handlers' own client, with the
 *    sequential round trips on each critical path;
 * 2. ingest events/s over HTTP beside the raw engine doing the same transactions;
 * 3. p50/p99 of filtered pages of 100 over a bulk-loaded corpus beside the same Queries sent raw;
 * 4. the verifiable log, on that corpus: sealing events/s (a first seal and an incremental one, with
 *    where the time goes), an evidence bundle made by the service's export and verified offline
 *    beside raw SHA-256 of its bytes, proof sizes, and the time from 2xx to covered by a checkpoint
 *    (the every-minute schedule simulated on a frozen clock, with the real sealer and handler);
 * 5. CPU µs per event for validate + canonicalise + hash beside JSON.parse + SHA-256;
 * 6. per function: bundle size and cold init (fresh Node processes importing the bundle);
 * 7. goals (not thresholds: nothing fails) with the measured values.
 * Prints it all and writes docs/benchmarks.md. Sizes: flags or BENCH_* variables (see OPTIONS).
 */
const OPTIONS = {
  singles: {
    env: "BENCH_SINGLES",
    default: 2_000,
    help: "single-event POSTs (and as many raw transactions)",
  },
  concurrency: { env: "BENCH_CONCURRENCY", default: 16, help: "requests in flight for single events" },
  batches: { env: "BENCH_BATCHES", default: 100, help: "POSTs of 100 events (and as many raw pairs)" },
  "batch-concurrency": { env: "BENCH_BATCH_CONCURRENCY", default: 4, help: "batches in flight" },
  rounds: { env: "BENCH_ROUNDS", default: 2, help: "ingest alternates service and raw this many times" },
  corpus: {
    env: "BENCH_CORPUS",
    default: 100_000,
    min: 5_000,
    help: "events bulk-loaded for the queries (1 in 28 matches pcap.* + failure: at least 5,000)",
  },
  queries: { env: "BENCH_QUERIES", default: 400, help: "timed queries per shape (each: HTTP, then raw)" },
  "cpu-events": { env: "BENCH_CPU_EVENTS", default: 20_000, help: "events per CPU round" },
  "init-runs": { env: "BENCH_INIT_RUNS", default: 10, help: "fresh processes per bundle and mode" },
  "seal-events": {
    env: "BENCH_SEAL_EVENTS",
    default: 50_000,
    help: "corpus events in the timed first seal (at most the corpus less the increment)",
  },
  "seal-increment": {
    env: "BENCH_SEAL_INCREMENT",
    default: 1_000,
    help: "corpus events in the timed incremental seal on top of them",
  },
  "bundle-events": {
    env: "BENCH_BUNDLE_EVENTS",
    default: 100_000,
    help: "corpus events in the evidence bundle that is verified (at most the corpus)",
  },
  "latency-minutes": {
    env: "BENCH_LATENCY_MINUTES",
    default: 30,
    help: "simulated minutes of the every-minute sealer for 2xx → checkpoint",
  },
  "latency-events": {
    env: "BENCH_LATENCY_EVENTS",
    default: 1_200,
    help: "events posted at uniformly random times over those minutes",
  },
} as const;
type OptionName = keyof typeof OPTIONS;

const { values: flags } = parseArgs({
  options: {
    ...(Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: "string" }])) as Record<
      OptionName,
      { type: "string" }
    >),
    out: { type: "string" },
    help: { type: "boolean" },
  },
});
if (flags.help) {
  for (const [name, o] of Object.entries(OPTIONS)) {
    process.stdout.write(`--${name} (${o.env}, default ${o.default}): ${o.help}\n`);
  }
  process.stdout.write("--out FILE (default docs/benchmarks.md)\n");
  process.exit(0);
}
function option(name: OptionName): number {
  const o = OPTIONS[name];
  const text = flags[name] ?? process.env[o.env];
  const n = text === undefined ? o.default : Number(text);
  const min = "min" in o ? o.min : 1;
  if (!Number.isInteger(n) || n < min || n > 10_000_000) {
    throw new Error(`--${name} / ${o.env}: ${text} (an integer from ${min} to 10,000,000)`);
  }
  return n;
}
const SINGLES = option("singles");
const CONCURRENCY = option("concurrency");
const BATCHES = option("batches");
const BATCH_CONCURRENCY = option("batch-concurrency");
const ROUNDS = Math.min(option("rounds"), SINGLES, BATCHES);
const CORPUS = option("corpus");
const QUERIES = option("queries");
const CPU_EVENTS = option("cpu-events");
const INIT_RUNS = option("init-runs");
const SEAL_INCREMENT = Math.min(option("seal-increment"), CORPUS - 1);
const SEAL_FIRST = Math.min(option("seal-events"), CORPUS - SEAL_INCREMENT);
const BUNDLE_EVENTS = Math.min(option("bundle-events"), CORPUS);
const LATENCY_MINUTES = option("latency-minutes");
const LATENCY_EVENTS = option("latency-events");
const OUT = flags.out
  ? isAbsolute(flags.out)
    ? flags.out
    : join(process.cwd(), flags.out)
  : join(ROOT, "docs/benchmarks.md");
const BATCH_SIZE = 100;
const WARM_REPEATS = 3;
/** Corpus event i is recorded this long before event i - 1. */
const CORPUS_SPACING_MS = 800;
/** Timed runs of the verifier and of the raw hash over the bundle (the median is reported). */
const VERIFY_RUNS = 3;
/** Tree sizes of the computed proof sizes. */
const PROOF_TREE_SIZES = [1_000, 100_000, 1_000_000];

process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
const log = (line: string) => process.stderr.write(`${line}\n`);
const benchStarted = performance.now();
const loadBefore = loadavg();

// ---------------------------------------------------------------------------------------------
// Events: a realistic mix (12 catalogue types, 3 of them pcap.*; 20 actors, 10 nodes; 1 in 7 a failure).

const TYPES = [
  "incident.opened",
  "pcap.started",
  "node.config_changed",
  "auth.login",
  "pcap.uploaded",
  "config.threshold_changed",
  "maintenance.started",
  "pcap.download",
  "incident.resolved",
  "node.added",
  "apikey.created",
  "auth.login_failed",
] as const;
const SHA = createHash("sha256").update("capture").digest("hex");

function contextOf(type: (typeof TYPES)[number], i: number): Record<string, unknown> {
  switch (type) {
    case "incident.opened":
    case "incident.resolved":
      return { incidentId: `inc-${i % 997}`, peak: { pps: 1_840_000 + i, bps: 9_420_000_000 } };
    case "pcap.started":
      return { captureId: `cap-${i}` };
    case "pcap.uploaded":
    case "pcap.download":
      return { captureId: `cap-${i}`, sha256: SHA, bytes: 48_213_004 };
    case "node.config_changed":
      return { changes: [{ field: "mitigation.mode", from: "monitor", to: "block" }] };
    case "config.threshold_changed":
      return { name: "pps", from: 100_000, to: 250_000 };
    case "maintenance.started":
      return { windowId: `mw-${i % 50}` };
    case "apikey.created":
      return { keyId: `k-${i % 30}` };
    case "auth.login_failed":
      return { reason: "bad_password" };
    default:
      return {};
  }
}

/** Event `i` as a producer posts it (no occurredAt: it defaults to recordedAt). */
function eventInput(i: number, prefix: string): Record<string, unknown> {
  const type = TYPES[i % TYPES.length] as (typeof TYPES)[number];
  const user = i % 20;
  return {
    id: `${prefix}-${i}`,
    type,
    actor: { type: "user", id: `user-${user}@acme.example`, name: `User ${user}` },
    node: { id: `edge-${i % 10}` },
    ...(type.startsWith("incident.") ? { resource: { type: "incident", id: `inc-${i % 997}` } } : {}),
    sourceIp: `203.0.113.${i % 250}`,
    userAgent: "ddos-console/4.2",
    outcome: i % 7 === 3 ? "failure" : "success",
    context: contextOf(type, i),
  };
}

function validInput(body: unknown): EventInput {
  const parsed = postEventsRequestSchema.safeParse(body);
  if (!parsed.success || parsed.data.batch)
    throw new Error(`bench event is invalid: ${JSON.stringify(body)}`);
  return parsed.data.events[0] as EventInput;
}

function recordOf(i: number, prefix: string, workspaceId: string, recordedAt: string, expiresAt: number) {
  const input = validInput(eventInput(i, prefix));
  const id = input.id ?? `${prefix}-${i}`;
  return {
    workspaceId,
    event: buildEvent(input, id, recordedAt),
    contentHash: contentHashOf(input),
    expiresAt,
  };
}

/**
 * The TransactWriteItems inputs DynamoEventStore.append() builds for these records (per record the
 * id guard and the event item, both conditional), taken from the store itself with a client that
 * keeps each command's input and answers success instead of sending it: the raw runs send exactly
 * what the service sends, whatever the store's items look like today.
 */
async function transactionsOf(
  tableName: string,
  records: EventRecord[],
  /** The store's clock (its append deadline counts from the records' recordedAt on it). */
  now?: () => Date,
): Promise<TransactWriteCommandInput[]> {
  const inputs: TransactWriteCommandInput[] = [];
  const capture = {
    send: async (command: { input: unknown }) => {
      if (!(command instanceof TransactWriteCommand)) throw new Error("append sent something else");
      inputs.push(command.input as TransactWriteCommandInput);
      return {};
    },
  };
  const store = new DynamoEventStore({
    client: capture as unknown as DynamoDBDocumentClient,
    tableName,
    now,
  });
  const results = await store.append(records);
  if (results.some((r) => r.status !== "created")) throw new Error("capturing append did not create");
  return inputs;
}

// ---------------------------------------------------------------------------------------------
// Measuring helpers.

interface Sent {
  service: "dynamodb" | "secrets";
  command: string;
  start: number;
  end: number;
  input: unknown;
}

/** Every request the handlers' module-scope SDK clients send, in the `initialize` step (outside retries). */
class RequestLog {
  sent: Sent[] = [];
  total = 0;
  byCommand = new Map<string, number>();
  keep = false;
  inputs = false;

  record(entry: Sent): void {
    this.total++;
    this.byCommand.set(entry.command, (this.byCommand.get(entry.command) ?? 0) + 1);
    if (this.keep) this.sent.push(entry);
  }

  /** Keeps the requests `fn` causes (one request at a time only), with a copy of each input if asked. */
  async during(fn: () => Promise<void>, inputs = false): Promise<Sent[]> {
    this.sent = [];
    this.keep = true;
    this.inputs = inputs;
    try {
      await fn();
      return this.sent;
    } finally {
      this.keep = false;
      this.inputs = false;
      this.sent = [];
    }
  }

  snapshot(): Map<string, number> {
    return new Map(this.byCommand);
  }
}

const shortName = (command: string) => command.replace(/Command$/, "");

/** Requests by command, e.g. `GetItem ×2 + TransactWriteItems`. */
function describeSent(sent: Sent[]): string {
  const counts = new Map<string, number>();
  for (const s of sent) {
    const name = `${s.service === "secrets" ? "SecretsManager " : ""}${shortName(s.command)}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(" + ") || "none";
}

/** The longest chain of requests each starting after the previous one ended: the sequential round trips. */
function sequentialRoundTrips(sent: Sent[]): number {
  const sorted = [...sent].sort((a, b) => a.start - b.start);
  const depth: number[] = [];
  sorted.forEach((s, i) => {
    let d = 1;
    for (let j = 0; j < i; j++) {
      if ((sorted[j] as Sent).end <= s.start) d = Math.max(d, (depth[j] as number) + 1);
    }
    depth.push(d);
  });
  return Math.max(0, ...depth);
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU ms a process has used (utime + stime from /proc), or NaN. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
  } catch {
    return Number.NaN;
  }
}

interface Phase {
  seconds: number;
  /** CPU of this Node process (the gateway, handlers, SDK, and the HTTP load generator). */
  nodeCpuMs: number;
  /** CPU of the DynamoDB engine process. */
  engineCpuMs: number;
}

function addPhase(a: Phase, b: Phase): Phase {
  return {
    seconds: a.seconds + b.seconds,
    nodeCpuMs: a.nodeCpuMs + b.nodeCpuMs,
    engineCpuMs: a.engineCpuMs + b.engineCpuMs,
  };
}
const NO_PHASE: Phase = { seconds: 0, nodeCpuMs: 0, engineCpuMs: 0 };

/** Runs `fn(i)` for i in [from, to) with `concurrency` in flight; wall time and the CPU both processes used. */
async function pool(
  from: number,
  to: number,
  concurrency: number,
  enginePid: number | undefined,
  fn: (i: number) => Promise<void>,
): Promise<Phase> {
  let next = from;
  const cpu = process.cpuUsage();
  const engineBefore = processCpuMs(enginePid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, to - from) }, async () => {
      while (next < to) await fn(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    seconds,
    nodeCpuMs: (used.user + used.system) / 1000,
    engineCpuMs: processCpuMs(enginePid) - engineBefore,
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** HTTP/1.1 with keep-alive over loopback; bodies are serialised before any timing starts. */
function httpClient(baseUrl: string, maxSockets: number) {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: string, path: string, token: string, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(body);
      const req = httpRequest(
        {
          host: hostname,
          port,
          method,
          path,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          );
          res.on("error", reject);
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
      req.on("error", reject);
      req.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

async function transactRaw(
  client: DynamoDBDocumentClient,
  input: TransactWriteCommandInput,
): Promise<number> {
  // Bounded like the store's: a transaction that loses a race is sent again, at most 5 times.
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new TransactWriteCommand(input));
      return attempt - 1;
    } catch (err: unknown) {
      const raced =
        err instanceof Error &&
        err.name === "TransactionCanceledException" &&
        ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some(
          (r) => r.Code === "TransactionConflict" || r.Code === "ThrottlingError",
        );
      if (!raced || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 25 * 2 ** (attempt - 1)));
    }
  }
}

const f = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a";
const plural = (n: number, one: string, many = `${one}s`) => `${f(n)} ${n === 1 ? one : many}`;
const ratio = (a: number, b: number) => `${f(a / b, 2)}×`;
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

// ---------------------------------------------------------------------------------------------
// The engines, the gateway and the service's own clients.

const engines = await startEngines();
const enginePid = (engines.processes.dynamodb ?? engines.processes.moto).pid;
const requestLog = new RequestLog();
let counts: string[][] = [];
let singleWarmTrips = Number.NaN;
let singleWarmRequests = Number.NaN;
let ingestRows: string[][] = [];
let diagnosticRows: string[][] = [];
let ingest = { single: Number.NaN, singleRaw: Number.NaN, batch: Number.NaN, batchRaw: Number.NaN };
let queryRows: string[][] = [];
/** Per query shape, medians (ms): total, Queries, audit write, the rest, raw. */
const queryParts: string[][] = [];
let queryGoals: { label: string; service: number; raw: number }[] = [];
let corpusLoad = { seconds: Number.NaN, events: 0 };
/** The verifiable log (section 4). */
interface SealRun {
  label: string;
  added: number;
  size: number;
  ms: number;
  parts: Map<SealPart, number>;
  calls: Map<SealPart, number>;
  nodeCpuMs: number;
  engineCpuMs: number;
  motoCpuMs: number;
}
const sealRuns: SealRun[] = [];
let logSectionSeconds = Number.NaN;
let bundleInfo = {
  events: 0,
  gzBytes: 0,
  bytes: 0,
  exportSeconds: Number.NaN,
  treeSize: 0,
  rangeHashes: 0,
  range: "",
};
let verifyTimes = { verifyMs: Number.NaN, verifyCpuMs: Number.NaN, gunzipMs: Number.NaN, shaMs: Number.NaN };
let proofMeasuredRows: string[][] = [];
let proofComputedRows: string[][] = [];
let latency = {
  events: 0,
  ticks: 0,
  p50: Number.NaN,
  p99: Number.NaN,
  max: Number.NaN,
  min: Number.NaN,
  runP50: Number.NaN,
  runP99: Number.NaN,
  postP50: Number.NaN,
};
let queryShapesDoc = "";
let rawBatchShape = "";
/** Node CPU µs per event (or request) in each ingest phase. */
let nodeUs = {
  single: Number.NaN,
  singleRaw: Number.NaN,
  plumbing: Number.NaN,
  batch: Number.NaN,
  batchRaw: Number.NaN,
};
try {
  const env = localEnv(engines, "bench");
  Object.assign(process.env, processEnvFor(env));
  await provision(env);
  const ingestWs = await seedWorkspace(env, "bench-ingest", { writer: ["events:write"] });
  const corpusWs = await seedWorkspace(env, "bench-corpus", {
    reader: ["events:read"],
    coldReader: ["events:read"],
  });
  const coldSingleWs = await seedWorkspace(env, "bench-cold-single", { writer: ["events:write"] });
  const coldBatchWs = await seedWorkspace(env, "bench-cold-batch", { writer: ["events:write"] });

  // The handlers' module-scope clients (functions/shared/adapters/clients.ts): this process runs
  // the handlers, so middleware added here sees every request they send.
  dynamoDocumentClient().middlewareStack.add(
    (next, context) => async (args) => {
      const start = performance.now();
      try {
        return await next(args);
      } finally {
        requestLog.record({
          service: "dynamodb",
          command: String(context.commandName),
          start,
          end: performance.now(),
          input: requestLog.inputs ? structuredClone(args.input) : undefined,
        });
      }
    },
    { step: "initialize", name: "benchCount" },
  );
  secretsClient().middlewareStack.add(
    (next, context) => async (args) => {
      const start = performance.now();
      try {
        return await next(args);
      } finally {
        requestLog.record({
          service: "secrets",
          command: String(context.commandName),
          start,
          end: performance.now(),
          input: undefined,
        });
      }
    },
    { step: "initialize", name: "benchCount" },
  );
  /** A second client with the service's settings, for the raw runs (not counted). */
  const raw = newDocumentClient();

  // Each handler module is imported once, as a Lambda container does: moduleHandler's import() on
  // every request would add the module loader's (tsx's) resolve hooks, ~40 µs, to each request.
  const handlers = new Map<string, Promise<LambdaHandler>>();
  const server = createLocalServer((name) => {
    const handler = handlers.get(name) ?? moduleHandler(name);
    handlers.set(name, handler);
    return handler;
  });
  const baseUrl = await listen(server, 0);
  const http = httpClient(baseUrl, Math.max(CONCURRENCY, BATCH_CONCURRENCY) + 4);

  // The query corpus, loaded straight into the table (the same items the service writes). Event
  // i is 800 ms older than event i - 1; the verifiable log (section 4) seals it oldest first.
  const corpusNewest = Date.now() - 60_000;
  const corpusExpiresAt = Math.floor(Date.now() / 1000) + 90 * 86_400;
  const corpusAt = (i: number) => new Date(corpusNewest - i * CORPUS_SPACING_MS).toISOString();
  const corpusRecord = (i: number) => recordOf(i, "corpus", corpusWs.id, corpusAt(i), corpusExpiresAt);
  {
    const started = performance.now();
    const CHUNK = 10_000;
    for (let from = 0; from < CORPUS; from += CHUNK) {
      const records: EventRecord[] = [];
      for (let i = from; i < Math.min(CORPUS, from + CHUNK); i++) records.push(corpusRecord(i));
      await bulkLoad(raw, env.eventsTable, records);
    }
    corpusLoad = { seconds: (performance.now() - started) / 1000, events: CORPUS };
    log(`bench: ${f(CORPUS)} corpus events loaded in ${f(corpusLoad.seconds, 1)} s`);
  }

  const QUERY_SHAPES = [
    { label: "type=pcap.*&outcome=failure", query: "type=pcap.*&outcome=failure&limit=100" },
    {
      label: "actor=user-7@acme.example",
      query: `actor=${encodeURIComponent("user-7@acme.example")}&limit=100`,
    },
  ];
  const list = async (token: string, query: string) => {
    const res = await http.send("GET", `/v1/events?${query}`, token);
    if (res.status !== 200) throw new Error(`GET /v1/events?${query}: ${res.status} ${res.text}`);
    const body = JSON.parse(res.text) as { events: unknown[] };
    if (body.events.length !== 100) throw new Error(`GET /v1/events?${query}: ${body.events.length} events`);
  };
  const singleBody = (i: number, prefix: string) => JSON.stringify(eventInput(i, prefix));
  const batchBody = (b: number, prefix: string) =>
    JSON.stringify({
      events: Array.from({ length: BATCH_SIZE }, (_, i) => eventInput(b * BATCH_SIZE + i, prefix)),
    });
  const post = async (token: string, body: string, expected: number) => {
    const res = await http.send("POST", "/v1/events", token, body);
    if (res.status !== expected) throw new Error(`POST /v1/events: ${res.status} ${res.text.slice(0, 500)}`);
  };

  // 1. Requests per request, cold and warm, one at a time.
  {
    const nextOf = (
      key: string,
      prefix: string,
      body: (n: number, prefix: string) => string,
      status: number,
    ) => {
      let n = 1;
      return () => post(key, body(n++, prefix), status);
    };
    const shapes: { label: string; cold?: () => Promise<void>; warm: () => Promise<void> }[] = [
      {
        label: "POST one event",
        cold: () => post(coldSingleWs.keys.writer, singleBody(0, "count-single"), 201),
        warm: nextOf(coldSingleWs.keys.writer, "count-single", singleBody, 201),
      },
      {
        label: `POST a batch of ${BATCH_SIZE}`,
        cold: () => post(coldBatchWs.keys.writer, batchBody(0, "count-batch"), 200),
        warm: nextOf(coldBatchWs.keys.writer, "count-batch", batchBody, 200),
      },
      ...QUERY_SHAPES.map((shape, k) => ({
        label: `GET /v1/events?${shape.label} (page of 100)`,
        // The first list of the run: a new key, a workspace not read yet, the cursor secret not fetched.
        ...(k === 0 ? { cold: () => list(corpusWs.keys.coldReader, shape.query) } : {}),
        warm: () => list(corpusWs.keys.coldReader, shape.query),
      })),
    ];
    counts = [];
    for (const [k, shape] of shapes.entries()) {
      const cold = shape.cold ? await requestLog.during(shape.cold) : undefined;
      const warm: Sent[][] = [];
      for (let r = 0; r < WARM_REPEATS; r++) warm.push(await requestLog.during(shape.warm));
      const warmNames = [...new Set(warm.map(describeSent))];
      const warmTrips = [...new Set(warm.map(sequentialRoundTrips))];
      if (k === 0) {
        singleWarmTrips = Math.max(...warmTrips);
        singleWarmRequests = Math.max(...warm.map((w) => w.filter((s) => s.service === "dynamodb").length));
      }
      counts.push([
        shape.label,
        cold ? describeSent(cold) : "(the same cold reads as above)",
        cold ? String(sequentialRoundTrips(cold)) : "",
        warmNames.join(" / "),
        warmTrips.join(" / "),
      ]);
    }
  }

  // The Queries the store sends for each shape (warm), to be sent raw: the same inputs, each
  // partition's pages in order (a page's ExclusiveStartKey is the previous page's end), the
  // partitions side by side, as the store's first fill() does.
  const rawPlans: {
    shape: (typeof QUERY_SHAPES)[number];
    chains: QueryCommandInput[][];
    requests: number;
    trips: number;
  }[] = [];
  for (const shape of QUERY_SHAPES) {
    const sent = (await requestLog.during(() => list(corpusWs.keys.reader, shape.query), true)).filter(
      (s) => s.command === "QueryCommand",
    );
    const chains = new Map<string, QueryCommandInput[]>();
    for (const s of sent) {
      const input = s.input as QueryCommandInput;
      const pk = JSON.stringify(input.ExpressionAttributeValues?.[":pk"]);
      if (typeof input.ExpressionAttributeValues?.[":pk"] !== "string") {
        throw new Error(`captured Query input is not in document form: ${pk}`);
      }
      chains.set(pk, [...(chains.get(pk) ?? []), input]);
    }
    rawPlans.push({
      shape,
      chains: [...chains.values()],
      requests: sent.length,
      trips: sequentialRoundTrips(sent),
    });
  }
  queryShapesDoc = rawPlans
    .map(
      (p) =>
        `\`${p.shape.label}\`: ${plural(p.requests, "Query", "Queries")} over ${plural(p.chains.length, "partition")} ` +
        `(pages per partition: ${p.chains.map((c) => c.length).join(" + ")}; index ${p.chains[0]?.[0]?.IndexName ?? "none"}, ` +
        `Limit ${p.chains[0]?.[0]?.Limit}, filter \`${p.chains[0]?.[0]?.FilterExpression}\`), ` +
        `${p.trips} sequential in the service`,
    )
    .join("; ");

  // 2. Ingest. Service and raw alternate in ROUNDS slices, so drift (table growth, other work on
  // the machine) falls on both. Warm-up first: keep-alive sockets, the JIT, the key cache.
  {
    for (let i = 0; i < 20; i++) await post(ingestWs.keys.writer, singleBody(i, "warm-single"), 201);
    for (let b = 0; b < 2; b++) await post(ingestWs.keys.writer, batchBody(b, "warm-batch"), 200);
    const expiresAt = Math.floor(Date.now() / 1000) + 90 * 86_400;
    const now = new Date().toISOString();
    const singleBodies = Array.from({ length: SINGLES }, (_, i) => singleBody(i, "single"));
    const singleRaw: TransactWriteCommandInput[] = [];
    for (let i = 0; i < SINGLES; i++) {
      const [input, ...more] = await transactionsOf(env.eventsTable, [
        recordOf(i, "raw-single", "bench-raw", now, expiresAt),
      ]);
      if (!input || more.length > 0) throw new Error("one event is not one transaction");
      singleRaw.push(input);
    }
    const batchBodies = Array.from({ length: BATCHES }, (_, b) => batchBody(b, "batch"));
    const batchRaw: TransactWriteCommandInput[][] = [];
    for (let b = 0; b < BATCHES; b++) {
      const records = Array.from({ length: BATCH_SIZE }, (_, i) =>
        recordOf(b * BATCH_SIZE + i, "raw-batch", "bench-raw", now, expiresAt),
      );
      batchRaw.push(await transactionsOf(env.eventsTable, records));
    }
    const perBatch = batchRaw[0]?.length ?? 0;
    rawBatchShape = `${perBatch} × TransactWriteItems of ${f(BATCH_SIZE / perBatch)} events, side by side`;

    let single = NO_PHASE;
    let singleRawPhase = NO_PHASE;
    let batch = NO_PHASE;
    let batchRawPhase = NO_PHASE;
    let rawRetries = 0;
    const serviceRequests = { single: 0, batch: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const [s0, s1] = [Math.floor((SINGLES * round) / ROUNDS), Math.floor((SINGLES * (round + 1)) / ROUNDS)];
      const [b0, b1] = [Math.floor((BATCHES * round) / ROUNDS), Math.floor((BATCHES * (round + 1)) / ROUNDS)];
      let before = requestLog.total;
      single = addPhase(
        single,
        await pool(s0, s1, CONCURRENCY, enginePid, (i) =>
          post(ingestWs.keys.writer, singleBodies[i] as string, 201),
        ),
      );
      serviceRequests.single += requestLog.total - before;
      singleRawPhase = addPhase(
        singleRawPhase,
        await pool(s0, s1, CONCURRENCY, enginePid, async (i) => {
          rawRetries += await transactRaw(raw, singleRaw[i] as TransactWriteCommandInput);
        }),
      );
      before = requestLog.total;
      batch = addPhase(
        batch,
        await pool(b0, b1, BATCH_CONCURRENCY, enginePid, (b) =>
          post(ingestWs.keys.writer, batchBodies[b] as string, 200),
        ),
      );
      serviceRequests.batch += requestLog.total - before;
      batchRawPhase = addPhase(
        batchRawPhase,
        await pool(b0, b1, BATCH_CONCURRENCY, enginePid, async (b) => {
          const retries = await Promise.all((batchRaw[b] ?? []).map((input) => transactRaw(raw, input)));
          rawRetries += retries.reduce((a, n) => a + n, 0);
        }),
      );
      log(`bench: ingest round ${round + 1}/${ROUNDS} done`);
    }
    const batchEvents = BATCHES * BATCH_SIZE;
    ingest = {
      single: SINGLES / single.seconds,
      singleRaw: SINGLES / singleRawPhase.seconds,
      batch: batchEvents / batch.seconds,
      batchRaw: batchEvents / batchRawPhase.seconds,
    };

    // What the HTTP path alone costs here: the same single-event bodies at the same concurrency
    // to a gateway whose handler answers at once (no parsing, no DynamoDB).
    const canned: LambdaHandler = async () => ({
      statusCode: 201,
      headers: { "content-type": "application/json" },
      body: '{"ok":true}',
    });
    const plumbingServer = createLocalServer(async () => canned);
    const plumbingUrl = await listen(plumbingServer, 0);
    const plumbingHttp = httpClient(plumbingUrl, CONCURRENCY + 4);
    const plumbingN = Math.min(SINGLES, 2_000);
    const plumbing = await pool(0, plumbingN, CONCURRENCY, enginePid, async (i) => {
      const res = await plumbingHttp.send("POST", "/v1/events", "x", singleBodies[i]);
      if (res.status !== 201) throw new Error(`canned gateway: ${res.status}`);
    });
    plumbingHttp.close();
    await new Promise<void>((resolve) => plumbingServer.close(() => resolve()));

    ingestRows = [
      [
        `ingest, single events, c=${CONCURRENCY} (events/s)`,
        f(ingest.single),
        `TransactWriteItems (guard + event) per event: ${f(ingest.singleRaw)}`,
        ratio(ingest.single, ingest.singleRaw),
      ],
      [
        `ingest, batches of ${BATCH_SIZE}, c=${BATCH_CONCURRENCY} (events/s)`,
        f(ingest.batch),
        `${rawBatchShape}: ${f(ingest.batchRaw)}`,
        ratio(ingest.batch, ingest.batchRaw),
      ],
    ];
    const per = (ms: number, n: number) => f((ms * 1000) / n);
    nodeUs = {
      single: (single.nodeCpuMs * 1000) / SINGLES,
      singleRaw: (singleRawPhase.nodeCpuMs * 1000) / SINGLES,
      plumbing: (plumbing.nodeCpuMs * 1000) / plumbingN,
      batch: (batch.nodeCpuMs * 1000) / batchEvents,
      batchRaw: (batchRawPhase.nodeCpuMs * 1000) / batchEvents,
    };
    const busy = (ms: number, phase: Phase) => `${f(ms / (phase.seconds * 10))} %`;
    const row = (label: string, n: number, p: Phase, requests: string) => [
      label,
      f(n),
      f(p.seconds, 2),
      per(p.nodeCpuMs, n),
      busy(p.nodeCpuMs, p),
      Number.isFinite(p.engineCpuMs) && p !== plumbing ? per(p.engineCpuMs, n) : "–",
      Number.isFinite(p.engineCpuMs) && p !== plumbing ? busy(p.engineCpuMs, p) : "–",
      requests,
    ];
    diagnosticRows = [
      row(
        `single events over HTTP, c=${CONCURRENCY}`,
        SINGLES,
        single,
        f(serviceRequests.single / SINGLES, 2),
      ),
      row(`single events raw, c=${CONCURRENCY}`, SINGLES, singleRawPhase, "1.00"),
      row(
        `batches of ${BATCH_SIZE} over HTTP, c=${BATCH_CONCURRENCY}`,
        batchEvents,
        batch,
        f(serviceRequests.batch / batchEvents, 2),
      ),
      row(
        `batches of ${BATCH_SIZE} raw, c=${BATCH_CONCURRENCY}`,
        batchEvents,
        batchRawPhase,
        f(perBatch / BATCH_SIZE, 2),
      ),
      row(`HTTP only: canned handler, single bodies, c=${CONCURRENCY}`, plumbingN, plumbing, "0"),
    ];
    if (rawRetries > 0) log(`bench: raw transactions retried ${rawRetries} times after conflicts`);
  }
  queryRows = [];
  queryGoals = [];
  for (const plan of rawPlans) {
    const sendRaw = () =>
      Promise.all(
        plan.chains.map(async (chain) => {
          for (const input of chain) await raw.send(new QueryCommand(input));
        }),
      );
    for (let w = 0; w < 5; w++) {
      await list(corpusWs.keys.reader, plan.shape.query);
      await sendRaw();
    }
    const service: number[] = [];
    const rawMs: number[] = [];
    const parts = { queries: [] as number[], audit: [] as number[], rest: [] as number[] };
    for (let q = 0; q < QUERIES; q++) {
      let started = performance.now();
      const sent = await requestLog.during(() => list(corpusWs.keys.reader, plan.shape.query));
      const total = performance.now() - started;
      service.push(total);
      // Where this request's time went: the Queries (first sent to last answered), the audit write.
      const queries = sent.filter((x) => x.command === "QueryCommand");
      const queriesMs = Math.max(...queries.map((x) => x.end)) - Math.min(...queries.map((x) => x.start));
      const auditMs = sent
        .filter((x) => x.command === "TransactWriteItemsCommand")
        .reduce((sum, x) => sum + x.end - x.start, 0);
      parts.queries.push(queriesMs);
      parts.audit.push(auditMs);
      parts.rest.push(total - queriesMs - auditMs);
      started = performance.now();
      await sendRaw();
      rawMs.push(performance.now() - started);
    }
    queryParts.push([
      `\`${plan.shape.label}\``,
      f(median(service), 1),
      f(median(parts.queries), 1),
      f(median(parts.audit), 1),
      f(median(parts.rest), 1),
      f(median(rawMs), 1),
    ]);
    service.sort((a, b) => a - b);
    rawMs.sort((a, b) => a - b);
    for (const p of [50, 99]) {
      queryRows.push([
        `query p${p}, \`${plan.shape.label}\`, page of 100 (ms)`,
        f(percentile(service, p), 1),
        `${plan.requests} × Query${plan.chains.length > 1 ? ` (${plan.chains.length} partitions side by side)` : ""}: ${f(percentile(rawMs, p), 1)}`,
        ratio(percentile(service, p), percentile(rawMs, p)),
      ]);
    }
    queryGoals.push({
      label: plan.shape.label,
      service: percentile(service, 99),
      raw: percentile(rawMs, 99),
    });
    log(`bench: queries ${plan.shape.label} done`);
  }

  // 4. The verifiable log, on the corpus (sealed oldest first: leaf j is corpus event CORPUS - 1 - j).
  // Sealed as the sealer does it (sealWorkspace) at a `now` that lets exactly the leaves asked for
  // settle; then proofs from the API; an evidence bundle from the service's own export, verified
  // offline; last, the every-minute schedule on a frozen clock with the real sealer and handler
  // (its clock runs ahead of the real one, so nothing may use the real clock after it).
  {
    const sectionStarted = performance.now();
    const config = loadConfig();
    const jobClient = newDocumentClient(undefined, JOB_REQUEST_TIMEOUT_MS);
    const jobs = makeDeps({ config, client: jobClient });
    const sealTimes = new SealTimes();
    const sealDeps = timedLogDeps(logDeps(jobs, jobClient), sealTimes);
    const motoPid = engines.processes.moto.pid;
    /** recordedAt of leaf j; for j = CORPUS, a time after the corpus and before anything else. */
    const leafAt = (j: number) =>
      j < CORPUS ? corpusAt(CORPUS - 1 - j) : new Date(corpusNewest + 1).toISOString();
    /** The sealer's `now` at which leaves [0, j) have settled and leaf j has not. */
    const settledUpTo = (j: number) => new Date(Date.parse(leafAt(j)) + SEAL_SETTLE_MS);
    const timedSeal = async (label: string, now: Date): Promise<SealRun> => {
      sealTimes.reset();
      const cpu0 = process.cpuUsage();
      const engine0 = processCpuMs(enginePid);
      const moto0 = processCpuMs(motoPid);
      const started = performance.now();
      const outcome = await sealWorkspace(sealDeps, corpusWs.id, now);
      const ms = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      if (outcome.status !== "sealed") throw new Error(`${label}: ${outcome.status}`);
      const run: SealRun = {
        label,
        added: outcome.added,
        size: outcome.size,
        ms,
        parts: new Map(sealTimes.ms),
        calls: new Map(sealTimes.calls),
        nodeCpuMs: (cpu.user + cpu.system) / 1000,
        engineCpuMs: processCpuMs(enginePid) - engine0,
        motoCpuMs: processCpuMs(motoPid) - moto0,
      };
      sealRuns.push(run);
      log(`bench: ${label}: ${f(outcome.added)} events in ${f(ms / 1000, 1)} s`);
      return run;
    };
    const first = await timedSeal(`first seal, ${f(SEAL_FIRST)} events`, settledUpTo(SEAL_FIRST));
    const increment = await timedSeal(
      `incremental, ${f(SEAL_INCREMENT)} on top`,
      settledUpTo(SEAL_FIRST + SEAL_INCREMENT),
    );
    if (first.size !== SEAL_FIRST || increment.size !== SEAL_FIRST + SEAL_INCREMENT) {
      throw new Error(`the seals gave trees of ${first.size} and ${increment.size} leaves`);
    }
    // The rest of the corpus, and the audit.queried events of section 3 that have settled.
    const restNow = new Date();
    const rest = await timedSeal("the rest", restNow);
    rest.label = `the rest, ${f(rest.added)} on top`;
    // Beyond one run's MAX_SEAL_PER_RUN (a corpus over 100,000 events), the next runs go on.
    for (let added = rest.added; added >= MAX_SEAL_PER_RUN; ) {
      const more = await sealWorkspace(sealDeps, corpusWs.id, restNow);
      added = more.status === "sealed" ? more.added : 0;
    }

    // GET /v1/events/{id}/proof finds an event by its id guard, which the bulk loader does not
    // write: the guard of one corpus event, as the store writes it (DynamoEventStore.append's own
    // item, as for the raw runs), for an event halfway into the tree.
    const proofLeaf = Math.floor(CORPUS / 2);
    const proofRecord = corpusRecord(CORPUS - 1 - proofLeaf);
    const guardPk = Keys.guardPk(corpusWs.id, proofRecord.event.id);
    const stampedAt = () => new Date(proofRecord.event.recordedAt);
    const guard = (await transactionsOf(env.eventsTable, [proofRecord], stampedAt))
      .flatMap((t) => t.TransactItems ?? [])
      .find((t) => t.Put?.Item?.[PK] === guardPk)?.Put?.Item;
    if (!guard) throw new Error("the store's transaction holds no id guard");
    await raw.send(new PutCommand({ TableName: env.eventsTable, Item: guard }));
    const getJson = async <T>(path: string) => {
      const res = await http.send("GET", path, corpusWs.keys.reader);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text.slice(0, 500)}`);
      return { bytes: Buffer.byteLength(res.text), body: JSON.parse(res.text) as T };
    };
    const proof = await getJson<{ index: number; treeSize: number; inclusion: string[]; checkpoint: string }>(
      `/v1/events/${encodeURIComponent(proofRecord.event.id)}/proof`,
    );
    if (proof.body.index !== proofLeaf) throw new Error(`the proof is for leaf ${proof.body.index}`);
    const consistency = await getJson<{ to: number; proof: string[]; checkpoint: string }>(
      `/v1/log/consistency?from=${SEAL_FIRST}`,
    );
    const { verifierKey } = (await getJson<{ verifierKey: string }>("/v1/log/key")).body;

    // The evidence bundle: the service's own export of the newest BUNDLE_EVENTS corpus events,
    // written by the export worker's handler fed from the queue as npm start feeds it.
    const exportStarted = performance.now();
    const created = await http.send(
      "POST",
      "/v1/exports",
      corpusWs.keys.reader,
      JSON.stringify({
        format: "evidence",
        since: corpusAt(BUNDLE_EVENTS - 1),
        until: new Date(corpusNewest + 1).toISOString(),
      }),
    );
    if (created.status !== 202) throw new Error(`POST /v1/exports: ${created.status} ${created.text}`);
    const exportId = (JSON.parse(created.text) as { id: string }).id;
    const worker = (await import("../functions/export-worker/handler.js")).handler;
    const stopWorker = pollQueue(localClients(env).sqs, env.exportQueueUrl, async () => worker, log);
    let job: Awaited<ReturnType<typeof jobs.control.getExportJob>>;
    try {
      for (;;) {
        job = await jobs.control.getExportJob(exportId);
        if (job?.status === "ready" || job?.status === "failed") break;
        if (performance.now() - exportStarted > 15 * 60_000)
          throw new Error("the evidence export took 15 min");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      stopWorker();
    }
    if (job?.status !== "ready") throw new Error(`evidence export: ${job?.status} ${job?.error ?? ""}`);
    const exportSeconds = (performance.now() - exportStarted) / 1000;
    const { url } = (await getJson<{ url: string }>(`/v1/exports/${exportId}`)).body;
    const bundle = Buffer.from(await (await fetch(url)).arrayBuffer());

    // Verified offline (no network: bytes in, a report out), beside the raw hash of the same bytes.
    const verifyMs: number[] = [];
    const verifyCpuMs: number[] = [];
    let verified: Awaited<ReturnType<typeof verifyBundle>> | undefined;
    for (let r = 0; r < VERIFY_RUNS; r++) {
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      verified = await verifyBundle(bundle, { verifierKeys: [verifierKey] });
      verifyMs.push(performance.now() - started);
      const cpu = process.cpuUsage(cpu0);
      verifyCpuMs.push((cpu.user + cpu.system) / 1000);
      if (!verified.ok || verified.eventsVerified !== BUNDLE_EVENTS) {
        throw new Error(
          `the bundle did not verify (${verified.outcome}, ${verified.eventsVerified} events): ${verified.messages.slice(0, 3).join("; ")}`,
        );
      }
    }
    const gunzipMs: number[] = [];
    const shaMs: number[] = [];
    let ndjson = Buffer.alloc(0);
    let digests = 0;
    for (let r = 0; r < VERIFY_RUNS; r++) {
      let started = performance.now();
      ndjson = gunzipSync(bundle);
      gunzipMs.push(performance.now() - started);
      started = performance.now();
      digests += createHash("sha256").update(ndjson).digest().length;
      shaMs.push(performance.now() - started);
    }
    if (digests !== 32 * VERIFY_RUNS) throw new Error("SHA-256 gave no digest");
    const trailerLine = ndjson.subarray(ndjson.lastIndexOf(10, ndjson.length - 2) + 1).toString();
    const trailer = JSON.parse(trailerLine) as { proof: string[] };
    const range = verified?.range;
    bundleInfo = {
      events: verified?.events ?? 0,
      gzBytes: bundle.length,
      bytes: ndjson.length,
      exportSeconds,
      treeSize: verified?.checkpoint?.size ?? 0,
      rangeHashes: trailer.proof.length,
      range: range ? `[${f(range.start)}, ${f(range.end)})` : "none",
    };
    verifyTimes = {
      verifyMs: median(verifyMs),
      verifyCpuMs: median(verifyCpuMs),
      gunzipMs: median(gunzipMs),
      shaMs: median(shaMs),
    };
    log(`bench: evidence bundle of ${f(bundleInfo.events)} events verified in ${f(verifyTimes.verifyMs)} ms`);

    // Proof sizes: computed with the tree library for the sizes asked, and as the API answers here.
    const rng = seededRandom(6962);
    const draw = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo));
    const CONSISTENCY_SAMPLES = 200;
    const RANGE_SAMPLES = 16;
    const hashBytes = (hashes: number) => `${hashes} × 32 = ${f(hashes * 32)} B`;
    const computed = PROOF_TREE_SIZES.map((n) => {
      let longestConsistency = 0;
      for (let k = 0; k < CONSISTENCY_SAMPLES; k++) {
        longestConsistency = Math.max(longestConsistency, consistencySpans(draw(1, n), n).length);
      }
      const day = Math.floor(n / 10);
      let longestRange = 0;
      for (let k = 0; k < RANGE_SAMPLES; k++) {
        const start = draw(0, n - day + 1);
        const indexes = Array.from({ length: day }, (_, i) => start + i);
        longestRange = Math.max(longestRange, multiProofSpans(n, indexes).length);
      }
      return { inclusion: inclusionSpans(0, n).length, consistency: longestConsistency, range: longestRange };
    });
    proofComputedRows = [
      ["inclusion, the longest (leaf 0)", ...computed.map((c) => hashBytes(c.inclusion))],
      [
        `consistency, the longest of ${CONSISTENCY_SAMPLES} random older sizes`,
        ...computed.map((c) => hashBytes(c.consistency)),
      ],
      [
        `range proof of one day (a tenth of the leaves), the longest of ${RANGE_SAMPLES} random starts`,
        ...computed.map((c) => hashBytes(c.range)),
      ],
    ];
    proofMeasuredRows = [
      [
        `\`GET /v1/events/{id}/proof\`, leaf ${f(proofLeaf)}`,
        f(proof.body.treeSize),
        hashBytes(proof.body.inclusion.length),
        f(proof.bytes),
        f(Buffer.byteLength(proof.body.checkpoint)),
      ],
      [
        `\`GET /v1/log/consistency?from=${SEAL_FIRST}\``,
        `${f(SEAL_FIRST)} → ${f(consistency.body.to)}`,
        hashBytes(consistency.body.proof.length),
        f(consistency.bytes),
        f(Buffer.byteLength(consistency.body.checkpoint)),
      ],
      [
        `the bundle's range proof, leaves ${bundleInfo.range} (its trailer line)`,
        f(bundleInfo.treeSize),
        hashBytes(bundleInfo.rangeHashes),
        f(Buffer.byteLength(trailerLine)),
        "(in the header)",
      ],
    ];

    // 2xx → covered by a checkpoint. The schedule simulated on a frozen clock: posts at uniformly
    // random times (the real post-events handler over HTTP, the clock set to each post's time), and
    // the real sealer handler every 60 s (all workspaces, as deployed) at a random phase. An event's
    // 2xx is its post time plus the request's real duration; it is covered when the first run whose
    // state reaches it ends (its start plus the run's real duration).
    const latencyWs = await seedWorkspace(env, "bench-latency", { writer: ["events:write"] });
    const simStart = Math.ceil((Date.now() + 2 * 60_000) / 60_000) * 60_000;
    const clock = new FixedClock(new Date(simStart));
    const { makeHandler: makePostEvents } = await import("../functions/post-events/handler.js");
    const { makeHandler: makeSealer } = await import("../functions/seal-log/handler.js");
    const postHandler = makePostEvents(
      makeDeps({ config, client: newDocumentClient(), clock }),
    ) as unknown as LambdaHandler;
    const sealClient = newDocumentClient(undefined, JOB_REQUEST_TIMEOUT_MS);
    const sealBase = makeDeps({ config, client: sealClient, clock });
    const simLog = logDeps(sealBase, sealClient);
    const seal = makeSealer(sealBase, simLog);
    const simServer = createLocalServer(async (name) => {
      if (name !== "post-events") throw new Error(`${name} is not in the simulation`);
      return postHandler;
    });
    const simHttp = httpClient(await listen(simServer, 0), 2);
    // Whatever the sections above stored is sealed first, untimed: the timed runs then see a
    // steady state (every workspace up to date, new events only in the simulated one).
    for (let r = 0; r < 20; r++) {
      if (!(await seal()).outcomes.some((o) => o.status === "sealed")) break;
    }
    const draws = seededRandom(60);
    const arrivals = Array.from({ length: LATENCY_EVENTS }, () =>
      Math.floor(simStart + draws() * LATENCY_MINUTES * 60_000),
    ).sort((a, b) => a - b);
    const phase = Math.floor(draws() * 60_000);
    const posted: { key: string; ok: number; covered?: number }[] = [];
    const runMs: number[] = [];
    const postMs: number[] = [];
    let next = 0;
    let coveredCount = 0;
    for (let run = 0; coveredCount < LATENCY_EVENTS; run++) {
      if (run > LATENCY_MINUTES + 5) {
        throw new Error(`${LATENCY_EVENTS - coveredCount} events not covered after ${run} sealer runs`);
      }
      const tick = simStart + phase + run * 60_000;
      for (; next < LATENCY_EVENTS && (arrivals[next] as number) < tick; next++) {
        const at = arrivals[next] as number;
        clock.set(new Date(at));
        const started = performance.now();
        const res = await simHttp.send(
          "POST",
          "/v1/events",
          latencyWs.keys.writer,
          singleBody(next, "latency"),
        );
        const ms = performance.now() - started;
        if (res.status !== 201) throw new Error(`POST /v1/events: ${res.status} ${res.text.slice(0, 500)}`);
        const stored = JSON.parse(res.text) as { id: string; recordedAt: string };
        posted.push({ key: Keys.eventSk(stored.recordedAt, stored.id), ok: at + ms });
        postMs.push(ms);
      }
      clock.set(new Date(tick));
      const started = performance.now();
      await seal();
      const ms = performance.now() - started;
      runMs.push(ms);
      const state = await simLog.log.getState(latencyWs.id);
      for (const p of posted) {
        if (p.covered === undefined && state && p.key <= state.lastKey) {
          p.covered = tick + ms;
          coveredCount++;
        }
      }
    }
    simHttp.close();
    await new Promise<void>((resolve) => simServer.close(() => resolve()));
    const waits = posted.map((p) => ((p.covered as number) - p.ok) / 1000).sort((a, b) => a - b);
    runMs.sort((a, b) => a - b);
    latency = {
      events: posted.length,
      ticks: runMs.length,
      p50: percentile(waits, 50),
      p99: percentile(waits, 99),
      max: waits.at(-1) ?? Number.NaN,
      min: waits[0] ?? Number.NaN,
      runP50: percentile(runMs, 50),
      runP99: percentile(runMs, 99),
      postP50: median(postMs),
    };
    log(`bench: 2xx → checkpoint p50 ${f(latency.p50, 1)} s, p99 ${f(latency.p99, 1)} s`);
    logSectionSeconds = (performance.now() - sectionStarted) / 1000;
  }

  http.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
} finally {
  await engines.stop();
}

// ---------------------------------------------------------------------------------------------
// 5. CPU per event, in this process, the engines stopped.

const cpuTexts = Array.from({ length: CPU_EVENTS }, (_, i) => JSON.stringify(eventInput(i, "cpu")));
const cpuBodies = cpuTexts.map((t) => JSON.parse(t) as unknown);
const cpuInputs = cpuBodies.map(validInput);
const recordedAt = new Date().toISOString();
const cpuRecords = cpuInputs.map((input, i) => ({
  workspaceId: "bench-cpu",
  event: buildEvent(input, `cpu-${i}`, recordedAt),
  contentHash: contentHashOf(input),
  expiresAt: 2_000_000_000,
}));
/** Median over 5 rounds (after one warm-up) of CPU µs per event. */
function cpuPerEvent(fn: (i: number) => void): number {
  const round = () => {
    const before = process.cpuUsage();
    for (let i = 0; i < CPU_EVENTS; i++) fn(i);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / CPU_EVENTS;
  };
  round();
  return median(Array.from({ length: 5 }, round));
}
let sink = 0;
const cpu = {
  service: cpuPerEvent((i) => {
    const input = validInput(JSON.parse(cpuTexts[i] as string));
    sink += contentHashOf(input).length + buildEvent(input, `cpu-${i}`, recordedAt).hash.length;
  }),
  raw: cpuPerEvent((i) => {
    const text = cpuTexts[i] as string;
    sink += Object.keys(JSON.parse(text) as object).length;
    sink += createHash("sha256").update(text).digest("hex").length;
  }),
  jsonParse: cpuPerEvent((i) => {
    sink += Object.keys(JSON.parse(cpuTexts[i] as string) as object).length;
  }),
  zod: cpuPerEvent((i) => {
    sink += validInput(cpuBodies[i]).type.length;
  }),
  contentHash: cpuPerEvent((i) => {
    sink += contentHashOf(cpuInputs[i] as EventInput).length;
  }),
  buildEvent: cpuPerEvent((i) => {
    sink += buildEvent(cpuInputs[i] as EventInput, `cpu-${i}`, recordedAt).hash.length;
  }),
  eventItem: cpuPerEvent((i) => {
    sink += Object.keys(eventItem(cpuRecords[i] as EventRecord)).length;
  }),
};
if (sink === 0) log("bench: (unreachable)");
const cpuRows = [
  [
    "CPU per event: validate + canonicalise + hash (µs)",
    f(cpu.service, 1),
    `JSON.parse + SHA-256 of the same bytes: ${f(cpu.raw, 1)}`,
    ratio(cpu.service, cpu.raw),
  ],
];
const cpuBreakdown = [
  ["JSON.parse of the body", f(cpu.jsonParse, 1)],
  ["zod: postEventsRequestSchema (eventInputSchema)", f(cpu.zod, 1)],
  ["contentHashOf (canonical JSON + SHA-256 of the input)", f(cpu.contentHash, 1)],
  ["buildEvent (canonical JSON + SHA-256 of the stored form)", f(cpu.buildEvent, 1)],
  ["not in the measure above: eventItem (the store's canonical doc, shard hash, keys)", f(cpu.eventItem, 1)],
];

// ---------------------------------------------------------------------------------------------
// 6. Bundles and cold init: each function bundled as deployed, imported by fresh Node processes.

/** Imports the bundle, reports the import's duration and whether any socket was opened. */
const INIT_CHILD = [
  'import { subscribe } from "node:diagnostics_channel";',
  "let sockets = 0;",
  'subscribe("net.client.socket", () => { sockets++; });',
  "const started = performance.now();",
  "await import(process.argv[1]);",
  "const ms = performance.now() - started;",
  "setImmediate(() => process.stdout.write(JSON.stringify({ ms, sockets }), () => process.exit(0)));",
].join("\n");

/** What functions/shared/config.ts needs; the endpoint is a closed port, so a stray request fails at once. */
function initEnv(sourceMaps: boolean): NodeJS.ProcessEnv {
  return {
    EVENTS_TABLE: "audit-events-bench",
    CONTROL_TABLE: "audit-control-bench",
    CURSOR_SECRET_ID: "audit-log/bench/cursor-key",
    EXPORT_BUCKET: "audit-exports-bench",
    EXPORT_QUEUE_URL: "http://127.0.0.1:9/123456789012/audit-exports-bench",
    DESTINATION_SECRET_PREFIX: "audit-log/bench/destinations/",
    LOG_SIGNING_KEY_ID: checkpointKeyAlias("bench"),
    LOG_NAME: logNameOf("bench"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_EC2_METADATA_DISABLED: "true",
    POWERTOOLS_SERVICE_NAME: "audit-log",
    POWERTOOLS_LOG_LEVEL: "ERROR",
    ...(sourceMaps ? { NODE_OPTIONS: "--enable-source-maps" } : {}),
  };
}

function initOnce(file: string, sourceMaps: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", INIT_CHILD, pathToFileURL(file).href],
      {
        env: initEnv(sourceMaps),
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
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      try {
        const result = JSON.parse(out) as { ms: number; sockets: number };
        if (code !== 0) throw new Error(`exit ${code}`);
        if (result.sockets > 0) throw new Error(`${result.sockets} socket(s) opened while importing`);
        resolve(result.ms);
      } catch (e: unknown) {
        reject(new Error(`init of ${file}: ${(e as Error).message}\n${err}`));
      }
    });
  });
}

const bundleDir = mkdtempSync(join(tmpdir(), "audit-log-bench-bundles-"));
let bundleRows: string[][] = [];
try {
  const bundled = await bundleFunctions(bundleDir);
  bundleRows = [];
  for (const b of bundled) {
    const plain: number[] = [];
    const maps: number[] = [];
    for (let r = 0; r < INIT_RUNS; r++) {
      plain.push(await initOnce(b.file, false));
      maps.push(await initOnce(b.file, true));
    }
    bundleRows.push([
      b.handler,
      f(b.bytes / 1024, 1),
      f(b.mapBytes / 1024, 1),
      f(median(plain), 1),
      f(median(maps), 1),
    ]);
  }
  log(`bench: ${bundled.length} bundles measured`);
} finally {
  rmSync(bundleDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// 7. Goals and the document.

const met = (ok: boolean) => (ok ? "met" : "**not met**");
const firstSeal = sealRuns[0];
const firstSealRate = firstSeal ? firstSeal.added / (firstSeal.ms / 1000) : Number.NaN;
const goalRows = [
  [
    "ingest, single events",
    "≥ 0.8× the same-shape raw writes",
    ratio(ingest.single, ingest.singleRaw),
    met(ingest.single / ingest.singleRaw >= 0.8),
  ],
  [
    `ingest, batches of ${BATCH_SIZE}`,
    "≥ 0.8× the same-shape raw writes",
    ratio(ingest.batch, ingest.batchRaw),
    met(ingest.batch / ingest.batchRaw >= 0.8),
  ],
  ...queryGoals.map((q) => [
    `query p99, \`${q.label}\``,
    "≤ 1.5× raw",
    ratio(q.service, q.raw),
    met(q.service / q.raw <= 1.5),
  ]),
  ["CPU per event", "≤ 3× raw", ratio(cpu.service, cpu.raw), met(cpu.service / cpu.raw <= 3)],
  [
    "single POST, warm caches",
    "1 round trip",
    `${plural(singleWarmTrips, "sequential round trip")}, ${plural(singleWarmRequests, "DynamoDB request")}`,
    met(singleWarmTrips === 1 && singleWarmRequests === 1),
  ],
  [
    `sealing, first seal of ${f(SEAL_FIRST)} events`,
    `≥ ingest, batches of ${BATCH_SIZE} (the sealer keeps up with the fastest writes)`,
    `${f(firstSealRate)} vs ${f(ingest.batch)} events/s`,
    met(firstSealRate >= ingest.batch),
  ],
  [
    "2xx → covered by a checkpoint, p99",
    "< 2 min (issue 10)",
    `${f(latency.p99, 1)} s`,
    met(latency.p99 < 120),
  ],
];

function gitRevision(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["--no-optional-locks", "status", "--porcelain"], { cwd: ROOT })
      .toString()
      .trim();
    return `${head}${dirty ? " + uncommitted changes" : ""}`;
  } catch {
    return "unknown";
  }
}
function machine(): string {
  const info = (file: string, key: RegExp) => {
    try {
      return key.exec(readFileSync(file, "utf8"))?.[1]?.trim();
    } catch {
      return undefined;
    }
  };
  const model = info("/proc/cpuinfo", /^model name\s*:\s*(.+)$/m) ?? cpus()[0]?.model ?? "unknown CPU";
  const memKb = Number(info("/proc/meminfo", /^MemTotal:\s*(\d+)\s*kB$/m) ?? Number.NaN);
  return (
    `${model}, ${cpus().length} cores, ${f(memKb / 2 ** 20, 1)} GiB RAM, Node ${process.version}, ` +
    `${process.platform}/${process.arch}, DynamoDB engine ${engines.dynamoEngine === "dynoxide" ? `Dynoxide ${DYNOXIDE_VERSION}` : "moto (Dynoxide missing: the fallback)"}`
  );
}

const loadAfter = loadavg();
const minutes = (performance.now() - benchStarted) / 60_000;
const results = table(
  ["measure", "service (HTTP)", "raw engine, same requests", "service / raw"],
  [...ingestRows, ...queryRows, ...cpuRows],
);
const goals = table(["measure", "goal", "measured", "met?"], goalRows);
const countTable = table(
  ["request", "cold: requests", "cold: sequential", "warm: requests", "warm: sequential"],
  counts,
);
const diagnostics = table(
  [
    "phase",
    "events",
    "seconds",
    "Node CPU µs/event",
    "Node busy (of one core)",
    "engine CPU µs/event",
    "engine busy",
    "DynamoDB requests/event",
  ],
  diagnosticRows,
);
const sealTable = table(
  [
    "seal",
    "tree size after",
    "seconds",
    "events/s",
    ...SEAL_PARTS.map((p) => `${p} ms`),
    "the rest ms",
    "CPU s: this process / DynamoDB engine / moto",
  ],
  sealRuns.map((r) => {
    const share = (ms: number) => `${f(ms)} (${f((100 * ms) / r.ms)} %)`;
    const waited = [...r.parts.values()].reduce((a, b) => a + b, 0);
    return [
      r.label,
      f(r.size),
      f(r.ms / 1000, 2),
      f(r.added / (r.ms / 1000)),
      ...SEAL_PARTS.map((p) => `${share(r.parts.get(p) ?? 0)}, ${f(r.calls.get(p) ?? 0)}×`),
      share(r.ms - waited),
      `${f(r.nodeCpuMs / 1000, 1)} / ${f(r.engineCpuMs / 1000, 1)} / ${f(r.motoCpuMs / 1000, 1)}`,
    ];
  }),
);
const MB = 1e6;
const perSecond = (n: number, ms: number) => n / (ms / 1000);
const verifyTable = table(
  ["measure", "verifyBundle", "raw: node:crypto SHA-256 of the gunzipped bundle, once", "verify / raw"],
  [
    [
      "ms per run (median)",
      f(verifyTimes.verifyMs),
      f(verifyTimes.shaMs, 1),
      ratio(verifyTimes.verifyMs, verifyTimes.shaMs),
    ],
    [
      "events/s",
      f(perSecond(bundleInfo.events, verifyTimes.verifyMs)),
      f(perSecond(bundleInfo.events, verifyTimes.shaMs)),
      `${f(verifyTimes.shaMs / verifyTimes.verifyMs, 4)}×`,
    ],
    [
      "MB/s of NDJSON",
      f(perSecond(bundleInfo.bytes / MB, verifyTimes.verifyMs), 1),
      f(perSecond(bundleInfo.bytes / MB, verifyTimes.shaMs), 1),
      `${f(verifyTimes.shaMs / verifyTimes.verifyMs, 4)}×`,
    ],
  ],
);
const proofComputed = table(["proof", ...PROOF_TREE_SIZES.map((n) => `${f(n)} leaves`)], proofComputedRows);
const proofMeasured = table(
  ["answer", "tree size", "hashes", "JSON bytes", "of which the signed checkpoint"],
  proofMeasuredRows,
);
const expectedWait = (q: number) => SEAL_SETTLE_MS / 1000 + q * 60;
const latencyTable = table(
  ["measure", "simulated schedule, real sealer", "model: settle + uniform wait for the next run"],
  [
    ["2xx → covered, p50 (s)", f(latency.p50, 1), f(expectedWait(0.5), 1)],
    ["2xx → covered, p99 (s)", f(latency.p99, 1), f(expectedWait(0.99), 1)],
    [
      "2xx → covered, min / max (s)",
      `${f(latency.min, 1)} / ${f(latency.max, 1)}`,
      `${f(expectedWait(0), 1)} / ${f(expectedWait(1), 1)}`,
    ],
    ["sealer run, all workspaces, p50 / p99 (ms)", `${f(latency.runP50)} / ${f(latency.runP99)}`, "–"],
  ],
);
const bundles = table(
  ["function", "bundle KB", "map KB", "init ms", "init ms, --enable-source-maps"],
  bundleRows,
);

const doc = `# Benchmarks

- Run: ${new Date().toISOString()}, ${f(minutes, 1)} min
- Commit: ${gitRevision()}
- Machine: ${machine()}
- Load average (1 min) before / after: ${f(loadBefore[0] ?? Number.NaN, 2)} / ${f(loadAfter[0] ?? Number.NaN, 2)}.
  The machine is shared: other work (test suites, builds) may use its 2 cores during a run, which
  slows both columns of a comparison but not always equally. Compare ratios, and rerun before
  trusting a small difference.

\`npm run bench\` (sizes: \`npm run bench -- --help\`) starts fresh engines (Dynoxide for DynamoDB,
moto for S3, SQS, Secrets Manager and KMS) and the local gateway (scripts/lib/local-server.ts), which
runs the real handler modules (each imported once, as a Lambda container does) in the benchmark's
own process, over loopback. The HTTP load generator shares that process, and with it the CPU that
Lambda would give each invocation on its own. The raw columns send the same DynamoDB requests from
the same process with a client configured as the service's (no HTTP, no validation, no hashing).
Nothing here is DynamoDB's latency or throughput on AWS (see storage.md for that capacity model):
on loopback a round trip has no network in it, so sequential round trips cost less here than there.

## Goals

Goals, not thresholds: nothing fails when one is not met.

${goals}

## Service beside the raw engine

${results}

- Ingest: ${f(SINGLES)} single events at concurrency ${CONCURRENCY}, and ${f(BATCHES)} batches of ${BATCH_SIZE} at
  concurrency ${BATCH_CONCURRENCY} (the store sends a batch as transactions of up to ${EVENTS_PER_TRANSACTION} events side by side,
  so ${BATCH_CONCURRENCY * Math.ceil(BATCH_SIZE / EVENTS_PER_TRANSACTION)} transactions are in flight: more only queues on a 2-core machine). The raw run sends the very
  TransactWriteItems inputs DynamoEventStore.append() builds for the same events (taken from the store
  with a client that records instead of sending: per event the id guard and the event item, both
  \`attribute_not_exists(pk)\`), built before the clock starts. Service and raw alternate in ${ROUNDS}
  slices each.
- Query: ${f(QUERIES)} requests per shape, one at a time, each HTTP request followed by its raw twin,
  over ${f(corpusLoad.events)} bulk-loaded events (scripts/lib/bulk-load.ts, ${f(corpusLoad.seconds, 0)} s; 12 types, 3 of them
  \`pcap.*\`, 1 event in 7 a failure, 20 actors). Raw: the very Query inputs the store sent for that
  page (captured by middleware), each partition's pages in order, partitions side by side. ${queryShapesDoc}.
  **Each list also writes one \`audit.queried\` event** (a TransactWriteItems after the Queries), which the
  raw column does not.
- CPU: ${f(CPU_EVENTS)} single-event bodies, median of 5 rounds, in-process with the engines stopped;
  the service's own functions (JSON.parse, postEventsRequestSchema, contentHashOf, buildEvent).

## DynamoDB requests per request

DynamoDB requests (and the one Secrets Manager read of the cursor key), counted by SDK middleware
on the handlers' module-scope clients (functions/shared/adapters/clients.ts),
one request at a time. Cold: the first request of a new API key (and, for the first list, of a
workspace not read yet and the cursor secret not yet fetched); warm: the next ${WARM_REPEATS} (API key and
workspace records are cached 60 s). Sequential: the longest chain of requests each sent after the
previous one answered, i.e. the round trips on the critical path.

${countTable}

## Where the time goes

CPU used by this Node process (gateway, handlers, SDK, and the HTTP load generator) and by the
DynamoDB engine per event, from process.cpuUsage() and /proc. The last row sends the same
single-event bodies to a gateway whose handler answers at once: the cost of the HTTP path alone.

${diagnostics}

Single events over HTTP cost this process ${f(nodeUs.single - nodeUs.singleRaw)} µs more CPU per event than the raw
transactions (${f(nodeUs.single)} vs ${f(nodeUs.singleRaw)}; the raw figure is the SDK's own cost of one request: serialising,
signing, HTTP). Of that, the HTTP path alone (load generator + gateway) is ${f(nodeUs.plumbing)} µs and validation,
canonicalisation and hashing ${f(cpu.service + cpu.eventItem, 0)} µs including the store's eventItem, as measured in a
tight loop (below; interleaved with request handling the same steps cost more). The rest is the
handler around them: middy, authentication, parsing the body and building the response, promises
and GC. When this process is the busier one (near 100 % of a core: the JavaScript runs on one
thread), that difference sets the events/s; batches spread it over 100 events and the engine is
the limit.

A list request, medians (ms): the Queries (first sent to last answered, as the store's merge sends
them), the \`audit.queried\` write after them, and the rest (HTTP, validating the query, parsing the
items, sealing the cursor, the response):

${table(["shape", "service total", "Queries", "audit.queried write", "the rest", "raw Queries"], queryParts)}

CPU per event, by step (µs):

${table(["step", "µs/event"], cpuBreakdown)}

## Verifiable log

On the query corpus above (${f(CORPUS)} events, ${CORPUS_SPACING_MS} ms apart), in this process against the
same engines: events in Dynoxide, the sealer's state and anchors in the control table, tiles and
checkpoints in moto's Object Lock bucket, the checkpoint key in moto's KMS (ECC_NIST_P256). All of
it took ${f(logSectionSeconds, 0)} s of the run.

### Sealing

\`sealWorkspace\` (functions/shared/core/log.ts), the step the every-minute sealer runs per workspace,
on the corpus workspace at a \`now\` that lets exactly the leaves asked for settle
(\`SEAL_SETTLE_MS\` = ${f(SEAL_SETTLE_MS / 1000)} s): the oldest ${f(SEAL_FIRST)} events into an empty tree, then ${f(SEAL_INCREMENT)} on top
(reading the edge tiles back, rewriting the partial ones), then the rest of the workspace (the
corpus and the \`audit.queried\` events of the queries that had settled). One run each, timed by
wrapping the ports the sealer awaits (scripts/lib/seal-timing.ts); it awaits them one at a time, so
the parts add up to the run. Query: the ascending stream of the workspace's partitions (DynamoDB
pages of 1,000 and their unmarshalling). Tile puts: one write-once PutObject each (COMPLIANCE
retention, SHA-256 checksum). State + anchors: the state read and its conditional write, and one
anchor item per new level-0 tile. KMS: the public key (first use in this process) and one Sign.
The rest is this process's own work: the canonical JSON and SHA-256 of every leaf, node hashes,
tiles in memory.

${sealTable}

### Verifying an evidence bundle

The bundle is the service's own export: \`POST /v1/exports\` \`{"format": "evidence"}\` over the newest
${f(BUNDLE_EVENTS)} corpus events (since/until), written by the export worker's handler fed from moto's
SQS queue as \`npm start\` feeds it, in ${f(bundleInfo.exportSeconds, 1)} s from the POST to \`ready\`: ${f(bundleInfo.events)} events,
${f(bundleInfo.gzBytes / MB, 1)} MB gzip, ${f(bundleInfo.bytes / MB, 1)} MB of NDJSON, leaves ${bundleInfo.range} of a tree of ${f(bundleInfo.treeSize)}.
\`verifyBundle\` (functions/shared/tlog/verify.ts, the core of \`npm run verify\`) with the pinned key from
\`GET /v1/log/key\`, bytes in memory, median of ${VERIFY_RUNS} runs: gunzip checked member by member, every line
parsed, every event re-canonicalised and its hash recomputed, every leaf hash, the range proof up to
the signed root, the signature. Its CPU: ${f(verifyTimes.verifyCpuMs)} ms per run. Raw: one SHA-256 over the
gunzipped bytes; \`gunzipSync\` of the bundle alone takes ${f(verifyTimes.gunzipMs)} ms.

${verifyTable}

### Proof sizes

Computed with the tree library (functions/shared/tlog/merkle.ts), no storage: the hashes of each
proof, 32 bytes each.

${proofComputed}

Measured on the bench's tree (the corpus workspace after the seals above), as the API answers them.
The corpus is bulk-loaded without id guards, which \`GET /v1/events/{id}/proof\` looks events up by,
so the bench writes the guard of the one event it asks for (the store's own item, as for the raw runs).

${proofMeasured}

### From 2xx to covered by a checkpoint

Simulated, not waited for: the schedule runs on a frozen clock (FixedClock) that jumps from event
to event, with the real handlers on the real engines. ${f(latency.events)} single events posted over HTTP to the
real post-events handler at uniformly random times over ${LATENCY_MINUTES} simulated minutes (the clock set to each
post's time, so it is its \`recordedAt\`), and the real seal-log handler (runSealer: every workspace,
as deployed) every 60 s at a random phase, ${f(latency.ticks)} runs. An event's 2xx is its post time plus the
request's real duration (median ${f(latency.postP50, 1)} ms); it is covered at the end of the first run
whose checkpoint includes it (the run's start plus its real duration). Not in it: EventBridge's
jitter and a cold start of the sealer (about a second), and runs that take longer with many
workspaces.

${latencyTable}

## Bundles and cold init

Every function the stack deploys (lib/audit-log-stack.ts), bundled by scripts/lib/bundle.ts with
the options of lib/service-function.ts (ESM, minified, source map, SDK bundled). Init: median of
${INIT_RUNS} fresh Node ${process.version} processes importing the bundle (module evaluation and the
handler's module scope: config, clients; no request, no socket), without and with
\`NODE_OPTIONS=--enable-source-maps\` (what Lambda runs with). Lambda's own runtime start is not included.

${bundles}
`;

// The load run's section (npm run load -- --doc) is its own: kept as it was, after this one's.
const previous = (() => {
  try {
    return readFileSync(OUT, "utf8");
  } catch {
    return "";
  }
})();
const loadSection = /<!-- npm run load: begin -->[\s\S]*?<!-- npm run load: end -->\n?/.exec(previous)?.[0];
writeFileSync(OUT, loadSection ? `${doc}\n${loadSection}` : doc);
process.stdout.write(`${doc}\nwritten to ${OUT}\n`);
