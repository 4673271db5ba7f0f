import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent } from "aws-lambda";
import { DynamoControlStore } from "../functions/shared/adapters/dynamodb-control-store.js";
import { DynamoLogStore } from "../functions/shared/adapters/dynamodb-log-store.js";
import { canonicalJson, sha256Hex } from "../functions/shared/canonical.js";
import { leafDataOf, type runSealer } from "../functions/shared/core/log.js";
import { jobDeps } from "../functions/shared/deps.js";
import { logger } from "../functions/shared/logger.js";
import { SEAL_SETTLE_MS } from "../functions/shared/ports.js";
import type { StoredEvent } from "../functions/shared/schemas/event.js";
import { EventAttr, GuardAttr, OPERATOR_LOG, PK, SK } from "../functions/shared/table.js";
import { CompactRange, leafHash } from "../functions/shared/tlog/merkle.js";
import { openNote, parseCheckpoint, parseVerifierKey } from "../functions/shared/tlog/note.js";
import { verifyBundle } from "../functions/shared/tlog/verify.js";
import {
  type LocalEnv,
  localClients,
  localEnv,
  processEnvFor,
  provision,
  seedWorkspace,
} from "./lib/bootstrap.js";
import { startEngines } from "./lib/engines.js";
import {
  FAULT_KINDS,
  type FaultProxy,
  type FaultProxyStats,
  parseRates,
  seededRandom,
  startFaultProxy,
} from "./lib/fault-proxy.js";
import { createLocalServer, listen, moduleHandler } from "./lib/local-server.js";

/**
 * `npm run load` (`-- --duration N`, `-- --help`): a bounded loopback load with faults, then a check
 * that nothing acknowledged was lost or stored twice.
 *
 * Fresh engines (Dynoxide, moto) on free ports; a fault-injecting proxy (scripts/lib/fault-proxy.ts)
 * in front of each, and the handler modules in this process behind the local gateway with their
 * endpoints pointed at the proxies; a third proxy between the clients and the gateway (resets, lost
 * answers, spikes on the client's side of API Gateway). Concurrent clients post single events and
 * batches of 100 (every event with its id), query, read back, and export, retrying as the README
 * says: a 503 or 429 after Retry-After, a dropped connection with the same ids. The sealer runs on a
 * schedule meanwhile, through the faults. Then, with every fault off and the engines read directly:
 * every acknowledged event stored once with its content, nothing stored that was not acknowledged
 * (but for answers lost in transit), every 503 with Retry-After, and each workspace's verifiable log
 * covering all its events (the checkpoint's root recomputed from the table, and an evidence bundle of
 * the whole workspace through the offline verifier).
 */

const DEFAULT_FAULTS =
  "latency=0.02,error500=0.03,throttling=0.03,throughputExceeded=0.03,reset=0.03,answerLost=0.03";
const DEFAULT_API_FAULTS = "latency=0.01,reset=0.005,answerLost=0.01";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    workers: { type: "string", default: "24" },
    workspaces: { type: "string", default: "8" },
    faults: { type: "string", default: DEFAULT_FAULTS },
    "api-faults": { type: "string", default: DEFAULT_API_FAULTS },
    "latency-ms": { type: "string", default: "200-6000" },
    "retry-after-scale": { type: "string", default: "1" },
    "max-retry-wait": { type: "string", default: "10" },
    "rate-limit": { type: "string" },
    "seal-every": { type: "string", default: "10" },
    drain: { type: "string", default: "45" },
    seed: { type: "string" },
    json: { type: "string" },
    doc: { type: "string" },
    help: { type: "boolean" },
  },
});
if (flags.help) {
  process.stdout.write(`npm run load -- [options]
  --duration S          seconds of load (default 60)
  --workers N           concurrent clients (default 24)
  --workspaces N        workspaces the clients spread over (default 8)
  --faults LIST         engine-side fault rates per request, kind=p,... (default ${DEFAULT_FAULTS})
                        kinds: ${FAULT_KINDS.join(", ")}; "" turns them off
  --api-faults LIST     client-side (between the clients and the gateway) (default ${DEFAULT_API_FAULTS})
  --latency-ms MIN-MAX  a latency spike's range (default 200-6000: past the SDK's 5 s timeout at times)
  --retry-after-scale F clients wait F x Retry-After (default 1: honoured in full)
  --max-retry-wait S    cap on one wait (default 10, the rate limit's longest Retry-After)
  --rate-limit N        WORKSPACE_RATE_LIMIT for this run (default: the service's own, 200/s)
  --seal-every S        the sealer's period during the load (default 10; 0: only at the end)
  --drain S             how long requests in flight at the end may keep retrying (default 45)
  --seed N              seeds the fault draws (default: random, printed)
  --json FILE           also write the figures as JSON
  --doc FILE            write the report into FILE's "Load with faults" section (docs/benchmarks.md)
`);
  process.exit(0);
}

function num(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n) || n < min || n > max)
    throw new Error(`--${name} ${text}: a number from ${min} to ${max}`);
  return n;
}
const DURATION_S = num("duration", flags.duration, 1, 3600);
const WORKERS = Math.round(num("workers", flags.workers, 1, 256));
const WORKSPACES = Math.round(num("workspaces", flags.workspaces, 1, 64));
const ENGINE_FAULTS = parseRates(flags.faults ?? "");
const API_FAULTS = parseRates(flags["api-faults"] ?? "");
const [LAT_MIN, LAT_MAX] = (flags["latency-ms"] ?? "").split("-").map(Number) as [number, number];
const RETRY_AFTER_SCALE = num("retry-after-scale", flags["retry-after-scale"], 0, 10);
const MAX_RETRY_WAIT_MS = num("max-retry-wait", flags["max-retry-wait"], 0, 600) * 1000;
const RATE_LIMIT =
  flags["rate-limit"] === undefined ? undefined : num("rate-limit", flags["rate-limit"], 0, 100_000);
const SEAL_EVERY_MS = num("seal-every", flags["seal-every"], 0, 3600) * 1000;
const DRAIN_MS = num("drain", flags.drain, 1, 600) * 1000;
const SEED =
  flags.seed === undefined ? randomBytes(4).readUInt32BE() : num("seed", flags.seed, 0, 2 ** 32 - 1);
/** Attempts of one request before the client gives up (its ids then have an unknown outcome). */
const MAX_ATTEMPTS = 10;
/** Longer than API Gateway's 29 s integration timeout: the gateway would have answered 504 first. */
const CLIENT_TIMEOUT_MS = 30_000;
const BATCH = 100;
const EXPORT_EVERY_MS = 5_000;
const EXPORT_WAIT_MS = 20_000;

// The service's logger is made when its module loads (with this file's imports): set its level here.
logger.setLogLevel((process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT") as "SILENT");
const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const wallStart = performance.now();
const loadBefore = loadavg()[0] as number;
const RUN = `ld${Date.now().toString(36)}`;
const phases: [string, number][] = [];
let phaseStart = performance.now();
/** Records how long the step that just ended took (printed with the report). */
function phase(name: string) {
  const now = performance.now();
  phases.push([name, (now - phaseStart) / 1000]);
  phaseStart = now;
}

// ---------------------------------------------------------------------------------------------
// Events: a mix of catalogue types, each with what the catalogue requires.

const TYPES = [
  "incident.opened",
  "pcap.download",
  "maintenance.created",
  "auth.login_failed",
  "node.config_changed",
  "config.threshold_changed",
] as const;
const SHA = sha256Hex("capture");

function makeEvent(id: string, n: number): Record<string, unknown> {
  const type = TYPES[n % TYPES.length] as (typeof TYPES)[number];
  const base = {
    id,
    type,
    occurredAt: new Date().toISOString(),
    actor: { type: "user", id: `user-${n % 17}@acme.example` },
    node: { id: `edge-${n % 7}` },
  };
  switch (type) {
    case "incident.opened":
      return {
        ...base,
        actor: { type: "system", id: "system" },
        resource: { type: "incident", id: `inc-${n}` },
        context: { incidentId: `inc-${n}`, peak: { pps: 1_000 + n, bps: 9_000_000 + n } },
      };
    case "pcap.download":
      return { ...base, sourceIp: "203.0.113.42", context: { captureId: `cap-${n}`, sha256: SHA } };
    case "maintenance.created":
      return { ...base, context: { windowId: `mw-${n}`, note: "löad ✓ \u2028 test" } };
    case "auth.login_failed":
      return { ...base, sourceIp: "198.51.100.66", outcome: "failure", context: { reason: "bad password" } };
    case "node.config_changed":
      return { ...base, context: { changes: [{ field: "threshold", from: n, to: n + 1 }] } };
    case "config.threshold_changed":
      return { ...base, context: { name: "pps", from: n, to: n * 2 } };
  }
}

// ---------------------------------------------------------------------------------------------
// What the clients sent and were told.

interface Sent {
  ws: string;
  body: Record<string, unknown>;
  /** created / duplicate, from a 2xx (or the `results` of a 503 that settled it). */
  acked?: "created" | "duplicate";
  /** Why the client gave up on it: its outcome is unknown to the client. */
  unknown?: string;
  /** A 4xx that should never happen for a valid, consistently retried event. */
  refused?: number;
}
const sent = new Map<string, Sent>();

const latencies = new Map<string, number[]>();
const statuses = new Map<string, Map<string, number>>();
const counters = {
  requests: 0,
  transportErrors: 0,
  s503: 0,
  s429: 0,
  retryAfterMissing: 0,
  other5xx: 0,
  gaveUp: 0,
  singleAnswerMismatch: 0,
  readAfterAckMiss: 0,
  readAfterAckChecked: 0,
};
/** The map's value at `key`, made by `init` on first use. */
function getOrSet<K, V>(map: Map<K, V>, key: K, init: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = init();
    map.set(key, value);
  }
  return value;
}

const samples: string[] = [];
const sample = (line: string) => {
  if (samples.length < 20) samples.push(line);
};

function countStatus(route: string, status: string) {
  const m = getOrSet(statuses, route, () => new Map());
  m.set(status, (m.get(status) ?? 0) + 1);
}

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function http(
  base: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<Answer> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error("client timeout")), CLIENT_TIMEOUT_MS);
    req.on("error", reject);
    req.on("close", () => clearTimeout(timer));
    req.end(payload);
  });
}

type Outcome = { kind: "answered"; answer: Answer; attempts: number } | { kind: "gaveUp"; reason: string };

let runEnd = Number.POSITIVE_INFINITY;
let drainEnd = Number.POSITIVE_INFINITY;

/**
 * One logical request as a documented client sends it: a 503 or 429 again after Retry-After, a
 * dropped connection or timeout again at once-ish (jittered backoff), the same body each time.
 */
async function call(
  base: string,
  route: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
  onRetryable?: (answer: Answer) => void,
): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    counters.requests++;
    let answer: Answer;
    const last = attempt >= MAX_ATTEMPTS || Date.now() > drainEnd;
    try {
      answer = await http(base, method, path, token, body);
    } catch (err: unknown) {
      counters.transportErrors++;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      countStatus(route, `transport:${code}`);
      if (last) return { kind: "gaveUp", reason: `transport:${code}` };
      await sleep(Math.random() * Math.min(2_000, 100 * 2 ** attempt));
      continue;
    }
    const ms = performance.now() - started;
    const list = getOrSet(latencies, route, () => []);
    list.push(ms);
    countStatus(route, String(answer.status));
    if (answer.status === 503 || answer.status === 429) {
      if (answer.status === 503) counters.s503++;
      else counters.s429++;
      const retryAfter = answer.headers["retry-after"];
      const seconds = Number(retryAfter);
      if (retryAfter === undefined || !Number.isFinite(seconds) || seconds < 0) {
        counters.retryAfterMissing++;
        sample(
          `${route} ${answer.status} without a valid Retry-After (${String(retryAfter)}): ${answer.text.slice(0, 200)}`,
        );
      }
      onRetryable?.(answer);
      if (last) return { kind: "gaveUp", reason: String(answer.status) };
      const wait = Math.min(
        MAX_RETRY_WAIT_MS,
        (Number.isFinite(seconds) ? seconds : 2) * 1000 * RETRY_AFTER_SCALE,
      );
      await sleep(wait + Math.random() * 100);
      continue;
    }
    if (answer.status >= 500) {
      counters.other5xx++;
      sample(`${route} ${answer.status}: ${answer.text.slice(0, 200)}`);
      if (last) return { kind: "gaveUp", reason: String(answer.status) };
      await sleep(Math.random() * Math.min(2_000, 100 * 2 ** attempt));
      continue;
    }
    return { kind: "answered", answer, attempts: attempt };
  }
}

const CONTENT_FIELDS = (body: Record<string, unknown>) => Object.keys(body).filter((k) => k !== "id");

/** The stored (or answered) event holds exactly what was sent, field by field. */
function sameContent(sentBody: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  if (stored.id !== sentBody.id) return false;
  return CONTENT_FIELDS(sentBody).every((k) => canonicalJson(stored[k]) === canonicalJson(sentBody[k]));
}

function ack(id: string, status: string) {
  const s = sent.get(id);
  if (!s) {
    sample(`acknowledged an id never sent: ${id}`);
    return;
  }
  if (status === "created" || status === "duplicate") s.acked ??= status;
}

// ---------------------------------------------------------------------------------------------
// The clients.

interface Workspace {
  id: string;
  keys: { writer: string; reader: string };
}

async function postSingle(api: string, ws: Workspace, id: string, n: number) {
  const body = makeEvent(id, n);
  const entry: Sent = { ws: ws.id, body };
  sent.set(id, entry);
  const out = await call(api, "POST /v1/events (1 event)", "POST", "/v1/events", ws.keys.writer, body);
  if (out.kind === "gaveUp") {
    entry.unknown = out.reason;
    counters.gaveUp++;
    return false;
  }
  const { status, text } = out.answer;
  if (status === 201 || status === 200) {
    const answered = JSON.parse(text) as Record<string, unknown>;
    if (!sameContent(body, answered)) {
      counters.singleAnswerMismatch++;
      sample(`POST ${id} answered ${status} with other content: ${text.slice(0, 300)}`);
    }
    ack(id, status === 201 ? "created" : "duplicate");
    return true;
  }
  entry.refused = status;
  sample(`POST ${id}: ${status} ${text.slice(0, 300)}`);
  return false;
}

async function postBatch(api: string, ws: Workspace, ids: string[], n: number) {
  const events = ids.map((id, i) => makeEvent(id, n + i));
  for (const body of events) sent.set(body.id as string, { ws: ws.id, body });
  const settle = (answer: Answer) => {
    try {
      const parsed = JSON.parse(answer.text) as { results?: { id: string; status: string }[] };
      for (const r of parsed.results ?? []) ack(r.id, r.status);
    } catch {
      // not JSON: nothing settled
    }
  };
  const out = await call(
    api,
    "POST /v1/events (100 events)",
    "POST",
    "/v1/events",
    ws.keys.writer,
    { events },
    settle,
  );
  if (out.kind === "gaveUp") {
    counters.gaveUp++;
    for (const id of ids) {
      const s = sent.get(id) as Sent;
      if (!s.acked) s.unknown = out.reason;
    }
    return;
  }
  const { status, text } = out.answer;
  if (status === 200) {
    const { results } = JSON.parse(text) as { results: { id: string; status: string }[] };
    const answeredIds = new Set(results.map((r) => r.id));
    if (results.length !== ids.length || ids.some((id) => !answeredIds.has(id)))
      sample(`batch answered ${results.length} results for ${ids.length} ids`);
    for (const r of results) ack(r.id, r.status);
    return;
  }
  sample(`batch: ${status} ${text.slice(0, 300)}`);
  settle(out.answer);
  for (const id of ids) {
    const s = sent.get(id) as Sent;
    if (!s.acked) s.refused = status;
  }
}

async function readBack(api: string, ws: Workspace, id: string) {
  const out = await call(
    api,
    "GET /v1/events/{id}",
    "GET",
    `/v1/events/${encodeURIComponent(id)}`,
    ws.keys.reader,
  );
  if (out.kind === "gaveUp") return;
  counters.readAfterAckChecked++;
  const s = sent.get(id) as Sent;
  if (
    out.answer.status !== 200 ||
    !sameContent(s.body, JSON.parse(out.answer.text) as Record<string, unknown>)
  ) {
    counters.readAfterAckMiss++;
    sample(`GET ${id} after its 2xx: ${out.answer.status} ${out.answer.text.slice(0, 200)}`);
  }
}

const QUERIES = [
  (n: number) => `actor=${encodeURIComponent(`user-${n % 17}@acme.example`)}&limit=50`,
  () => "type=pcap.*&limit=100",
  (n: number) => `node=edge-${n % 7}&outcome=failure&limit=20`,
  () => `since=${encodeURIComponent(new Date(Date.now() - 10_000).toISOString())}&limit=100`,
];

async function query(api: string, ws: Workspace, n: number) {
  const q = (QUERIES[n % QUERIES.length] as (n: number) => string)(n);
  const out = await call(api, "GET /v1/events", "GET", `/v1/events?${q}`, ws.keys.reader);
  if (out.kind !== "answered" || out.answer.status !== 200) {
    if (out.kind === "answered")
      sample(`GET /v1/events?${q}: ${out.answer.status} ${out.answer.text.slice(0, 200)}`);
    return;
  }
  const page = JSON.parse(out.answer.text) as { events: StoredEvent[]; nextCursor?: string };
  if (page.nextCursor && n % 3 === 0) {
    const next = await call(
      api,
      "GET /v1/events (next page)",
      "GET",
      `/v1/events?${q}&cursor=${encodeURIComponent(page.nextCursor)}`,
      ws.keys.reader,
    );
    if (next.kind === "answered" && next.answer.status !== 200)
      sample(`next page: ${next.answer.status} ${next.answer.text.slice(0, 200)}`);
  }
}

async function worker(api: string, w: number, ws: Workspace) {
  let seq = 0;
  const acked: string[] = [];
  while (Date.now() < runEnd) {
    const roll = Math.random();
    if (roll < 0.6) {
      const id = `${RUN}-${w}-${seq++}`;
      if (await postSingle(api, ws, id, seq)) acked.push(id);
    } else if (roll < 0.7) {
      const ids = Array.from({ length: BATCH }, () => `${RUN}-${w}-${seq++}`);
      await postBatch(api, ws, ids, seq);
    } else if (roll < 0.9 || acked.length === 0) {
      await query(api, ws, seq++);
    } else {
      await readBack(api, ws, acked[Math.floor(Math.random() * acked.length)] as string);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exports: requested during the load, run by the queue's worker, polled until ready, downloaded.

interface ExportRun {
  id?: string;
  format: string;
  status: string;
  eventCount?: number;
  lines?: number;
  msToReady?: number;
  problem?: string;
}
const exportRuns: ExportRun[] = [];

async function download(url: string): Promise<Buffer | undefined> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) });
      if (res.status === 200) return Buffer.from(await res.arrayBuffer());
      await res.arrayBuffer();
    } catch {
      // a reset or a lost answer on S3's side: again
    }
    await sleep(Math.random() * Math.min(2_000, 100 * 2 ** attempt));
  }
  return undefined;
}

async function runExport(api: string, ws: Workspace, body: Record<string, unknown>, deadline: number) {
  const run: ExportRun = { format: String(body.format), status: "requesting" };
  exportRuns.push(run);
  const started = Date.now();
  const created = await call(api, "POST /v1/exports", "POST", "/v1/exports", ws.keys.reader, body);
  if (created.kind !== "answered" || created.answer.status !== 202) {
    run.status = "not created";
    run.problem =
      created.kind === "gaveUp"
        ? created.reason
        : `${created.answer.status} ${created.answer.text.slice(0, 200)}`;
    return { run };
  }
  run.id = (JSON.parse(created.answer.text) as { id: string }).id;
  while (Date.now() < deadline) {
    const got = await call(api, "GET /v1/exports/{id}", "GET", `/v1/exports/${run.id}`, ws.keys.reader);
    if (got.kind === "answered" && got.answer.status === 200) {
      const view = JSON.parse(got.answer.text) as {
        status: string;
        url?: string;
        eventCount?: number;
        error?: string;
      };
      run.status = view.status;
      if (view.status === "failed") {
        run.problem = view.error;
        return { run };
      }
      if (view.status === "ready" && view.url) {
        run.msToReady = Date.now() - started;
        run.eventCount = view.eventCount;
        const bytes = await download(view.url);
        if (!bytes) run.problem = "download failed";
        return { run, bytes };
      }
    }
    await sleep(500);
  }
  run.problem = `not ready after ${Math.round((deadline - started) / 1000)} s (status ${run.status})`;
  return { run };
}

/** An NDJSON export every few seconds of the load, each polled to the end. */
async function exporter(api: string, ws: Workspace, since: string) {
  const every = Math.min(EXPORT_EVERY_MS, (DURATION_S * 1000) / 3);
  await sleep(every);
  const pending: Promise<unknown>[] = [];
  do {
    // An export is ready within seconds here; one that is not after EXPORT_WAIT_MS is reported.
    pending.push(
      runExport(api, ws, { format: "ndjson", since }, Math.min(drainEnd, Date.now() + EXPORT_WAIT_MS)).then(
        ({ run, bytes }) => {
          if (!bytes) return;
          const lines = bytes.toString().split("\n").filter(Boolean);
          run.lines = lines.length;
          const ids = new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id));
          if (lines.length !== run.eventCount || ids.size !== lines.length)
            run.problem = `${lines.length} lines, ${ids.size} distinct ids, eventCount ${run.eventCount}`;
        },
      ),
    );
    await sleep(Math.min(every, runEnd - Date.now()));
  } while (Date.now() < runEnd - 1_000);
  await Promise.all(pending);
}

// ---------------------------------------------------------------------------------------------
// The queue's event source mapping and the sealer's schedule, as scripts/start.ts runs them.

/** Faults injected on requests about an export's job item, by export id. */
const jobFaults = new Map<string, string[]>();
/** What each export worker invocation did, by export id. */
const workerRuns = new Map<string, string[]>();
const exportIdOf = (body: string | undefined) => {
  try {
    return String((JSON.parse(body ?? "") as { exportId?: string }).exportId);
  } catch {
    return "?";
  }
};

/**
 * The export queue's poller (AWS's side of the event source mapping, so straight to moto): each
 * message to the export worker, deleted once it succeeds, otherwise visible again after 5 s (not the
 * queue's 15 minutes: this run is bounded), with its receive count as Lambda passes it.
 */
function startQueuePoller(env: LocalEnv) {
  const { sqs } = localClients(env);
  let running = true;
  const stats = { invocations: 0, failures: 0 };
  let idle = Promise.resolve();
  const loop = (async () => {
    while (running) {
      let done: () => void = () => {};
      idle = new Promise((r) => (done = r));
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: env.exportQueueUrl,
            MaxNumberOfMessages: 1,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 5,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
        );
        for (const message of out.Messages ?? []) {
          stats.invocations++;
          const handler = await moduleHandler<(e: SQSEvent) => Promise<unknown>>("export-worker");
          const runs = getOrSet(workerRuns, exportIdOf(message.Body), () => []);
          try {
            await handler({
              Records: [
                {
                  body: message.Body ?? "",
                  attributes: { ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? "1" },
                },
              ],
            } as unknown as SQSEvent);
            runs.push("returned");
            await sqs.send(
              new DeleteMessageCommand({
                QueueUrl: env.exportQueueUrl,
                ReceiptHandle: message.ReceiptHandle,
              }),
            );
          } catch (err: unknown) {
            runs.push(`threw ${(err as Error).name}`);
            stats.failures++;
            sample(
              `export worker run failed (redelivered): ${(err as Error).name}: ${(err as Error).message}`,
            );
          }
        }
        if (!out.Messages?.length) await sleep(200);
      } catch (err: unknown) {
        log(`queue poller: ${(err as Error).message}`);
        await sleep(500);
      } finally {
        done();
      }
    }
  })();
  return {
    stats,
    stop: async () => {
      running = false;
      await loop;
    },
    /** Waits for the current receive-and-run to end. */
    idle: () => idle,
  };
}

type Sealer = (e?: unknown) => ReturnType<typeof runSealer>;

function startSealSchedule() {
  const stats = { runs: 0, sealed: 0, failedWorkspaces: 0 };
  let running = SEAL_EVERY_MS > 0;
  const loop = (async () => {
    while (running) {
      await sleep(SEAL_EVERY_MS);
      if (!running) break;
      try {
        const seal = await moduleHandler<Sealer>("seal-log");
        const out = await seal();
        stats.runs++;
        stats.sealed += out.outcomes.reduce((n, o) => n + (o.status === "sealed" ? o.added : 0), 0);
        stats.failedWorkspaces += out.failed.length;
      } catch (err: unknown) {
        sample(`sealer run threw: ${(err as Error).message}`);
      }
    }
  })();
  return {
    stats,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The check, against the engines directly.

interface StoredItem {
  sk: string;
  event: StoredEvent;
  hashOk: boolean;
}

/** Every event and id guard of the events table, by workspace. */
async function readTable(doc: DynamoDBDocumentClient, table: string) {
  const events = new Map<string, StoredItem[]>();
  const guards = new Map<string, Map<string, string>>();
  const SEGMENTS = 4;
  const scanSegment = async (Segment: number) => {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new ScanCommand({
          TableName: table,
          ExclusiveStartKey,
          ConsistentRead: true,
          Segment,
          TotalSegments: SEGMENTS,
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = String(item[PK]);
        const guard = /^(.+)#id#(.+)$/.exec(pk);
        if (guard) {
          const [, ws, id] = guard as unknown as [string, string, string];
          getOrSet(guards, ws, () => new Map()).set(id, String(item[GuardAttr.eventSk]));
          continue;
        }
        const ws = pk.slice(0, pk.lastIndexOf("#"));
        const body = JSON.parse(String(item[EventAttr.doc])) as Record<string, unknown>;
        const hash = String(item[EventAttr.hash]);
        const event = { ...body, hash } as unknown as StoredEvent;
        getOrSet(events, ws, () => []).push({
          sk: String(item[SK]),
          event,
          hashOk: sha256Hex(canonicalJson(body)) === hash,
        });
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  };
  await Promise.all(Array.from({ length: SEGMENTS }, (_, segment) => scanSegment(segment)));
  for (const list of events.values()) list.sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
  return { events, guards };
}

const pct = (values: number[], q: number) => {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
};
const fmt = (n: number) => (Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { maximumFractionDigits: 1 }));

const DOC_BEGIN = "<!-- npm run load: begin -->";
const DOC_END = "<!-- npm run load: end -->";

/** Replaces (or appends) the "Load with faults" section of `file`, between its markers. */
function writeDocSection(file: string, report: string[]) {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"]).toString().trim();
    if (execFileSync("git", ["status", "--porcelain"]).toString().trim()) commit += " + uncommitted changes";
  } catch {
    // not a git checkout
  }
  const section = [
    DOC_BEGIN,
    "## Load with faults",
    "",
    "`npm run load` (scripts/load.ts; options: `npm run load -- --help`) starts fresh engines, puts a",
    "fault-injecting proxy (scripts/lib/fault-proxy.ts) in front of Dynoxide and of moto (S3, KMS, SQS,",
    "Secrets Manager) and a third between the clients and the local gateway, and runs the handler",
    "modules in its own process with their endpoints on the proxies. Concurrent clients post single",
    "events and batches of 100 (each event with its id), query, read back and export, retrying as the",
    "README says (a 503 or 429 after `Retry-After`, a dropped connection with the same ids); the sealer",
    "runs every 10 s meanwhile, through the faults. Then, with the faults off, the engines are read",
    "directly: every acknowledged event is stored once with its content, nothing is stored that was",
    "not acknowledged unless the client gave up on it, every 503 carried `Retry-After`, and each",
    "workspace's checkpoint (after a final seal with the sealer's clock moved past `SEAL_SETTLE_MS`)",
    "commits to exactly the events in the table, as an evidence bundle of the whole workspace checked",
    "by the offline verifier also shows. Fault rates are per request reaching a proxy; latency is",
    "wall time per HTTP attempt as the client saw it, in a process that also runs the handlers, on a",
    "shared machine (the load average is given): read it as behaviour under faults, not capacity.",
    "The workspaces keep the service's own rate limit (`WORKSPACE_RATE_LIMIT`, 200/s each): spread",
    "over 8 workspaces the load stays under it, so the run measures faults, not refusals;",
    "`--rate-limit N` lowers it to exercise the 429 path. `--seed` fixes the fault draws, not the",
    "order in which concurrent requests meet them. An export under load that does not complete fails",
    "the run, with its job as stored and the faults on it (the first runs found one stuck at `running`",
    "after a lost answer to its conditional update; test/integration/lost-answers.test.ts pins the fix).",
    "",
    `- Run: ${new Date().toISOString()}; commit ${commit}; ${cpus().length} cores, Node ${process.version}`,
    `- Load average (1 min) before / after: ${loadBefore.toFixed(2)} / ${(loadavg()[0] as number).toFixed(2)}`,
    `- Command: \`npm run load -- ${process.argv.slice(2).join(" ")}\``,
    "",
    "```",
    ...report.filter((line, i) => i > 0 || line !== ""),
    "```",
    DOC_END,
  ].join("\n");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const begin = text.indexOf(DOC_BEGIN);
  const end = text.indexOf(DOC_END);
  const next =
    begin >= 0 && end > begin
      ? `${text.slice(0, begin)}${section}${text.slice(end + DOC_END.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

// ---------------------------------------------------------------------------------------------
// The run.

log(`load: ${DURATION_S} s, ${WORKERS} clients over ${WORKSPACES} workspaces, fault seed ${SEED}`);
const engines = await startEngines({ quiet: true });
const proxies: FaultProxy[] = [];
let stopped = false;
const stopAll = async () => {
  if (stopped) return;
  stopped = true;
  await Promise.allSettled(proxies.map((p) => p.close()));
  await engines.stop();
};
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    void stopAll().then(() => process.exit(130));
  });

let exitCode = 1;
try {
  const direct = localEnv(engines, "load");
  await provision(direct);
  const workspaces: Workspace[] = [];
  for (let i = 0; i < WORKSPACES; i++) {
    workspaces.push(
      await seedWorkspace(direct, `load-${i}`, { writer: ["events:write"], reader: ["events:read"] }),
    );
  }
  phase("engines, provisioning, workspaces");
  const random = seededRandom(SEED);
  const latencyMs = [LAT_MIN, LAT_MAX] as const;
  const dynamoProxy = await startFaultProxy({
    upstream: engines.dynamodb,
    protocol: "dynamodb",
    latencyMs,
    random,
    // Faults on export job items, for the report of an export that does not complete.
    onFault: ({ kind, ms }, req, body) => {
      const job = /"export#([0-9A-Z]{26})"/.exec(body.toString());
      if (!job?.[1]) return;
      const op = String(req.headers["x-amz-target"] ?? "").split(".")[1];
      getOrSet(jobFaults, job[1], () => []).push(
        `${op} ${kind}${ms === undefined ? "" : ` ${Math.round(ms)} ms`}`,
      );
    },
  });
  const awsProxy = await startFaultProxy({ upstream: engines.aws, protocol: "aws", latencyMs, random });
  proxies.push(dynamoProxy, awsProxy);
  // The handlers reach the engines only through the proxies (queue URL included: the SQS client
  // sends to the queue URL's host).
  const proxied = localEnv({ aws: awsProxy.endpoint, dynamodb: dynamoProxy.endpoint }, "load");
  Object.assign(process.env, processEnvFor(proxied));
  if (RATE_LIMIT !== undefined) process.env.WORKSPACE_RATE_LIMIT = String(RATE_LIMIT);
  const rateLimit = process.env.WORKSPACE_RATE_LIMIT ?? "200 (the service's default)";

  const gateway = createLocalServer(moduleHandler);
  const gatewayUrl = await listen(gateway, 0);
  const apiProxy = await startFaultProxy({ upstream: gatewayUrl, protocol: "http", latencyMs, random });
  proxies.push(apiProxy);
  const api = apiProxy.endpoint;

  // Warm up with no faults: each handler module imported and each key read once, as warm Lambdas.
  for (const ws of workspaces) {
    await call(gatewayUrl, "warm-up", "GET", "/v1/events?limit=1", ws.keys.reader);
  }
  latencies.delete("warm-up");
  statuses.delete("warm-up");
  Object.assign(counters, { requests: 0 });

  phase("proxies, gateway, warm-up");
  dynamoProxy.setRates(ENGINE_FAULTS);
  awsProxy.setRates(ENGINE_FAULTS);
  apiProxy.setRates(API_FAULTS);
  const poller = startQueuePoller(direct);
  const sealer = startSealSchedule();
  const runStart = Date.now();
  runEnd = runStart + DURATION_S * 1000;
  drainEnd = runEnd + DRAIN_MS;
  log(
    `load: running (${engines.dynamoEngine} on ${engines.dynamodb}, moto on ${engines.aws}); WORKSPACE_RATE_LIMIT ${rateLimit}`,
  );
  const since = new Date(runStart - 1_000).toISOString();
  await Promise.all([
    ...Array.from({ length: WORKERS }, (_, w) => worker(api, w, workspaces[w % WORKSPACES] as Workspace)),
    exporter(api, workspaces[0] as Workspace, since),
  ]);
  const loadEnd = Date.now();
  phase("load and drain");
  await sealer.stop();
  await poller.stop();
  phase("sealer and export worker stopped");

  // ---- faults off; the engines read directly from here on ----
  for (const p of proxies) p.setRates({});
  // The figures of the load itself; the checker's own requests below are not part of them.
  const load = {
    counters: { ...counters },
    latencies: new Map([...latencies].map(([k, v]) => [k, [...v]])),
    statuses: new Map([...statuses].map(([k, v]) => [k, new Map(v)])),
  };
  // A request a latency spike held back still reaches the engine: wait for every one to land.
  await Promise.all(proxies.map((p) => p.idle(30_000)));
  const faultStats: Record<string, FaultProxyStats> = {
    dynamodb: dynamoProxy.stats(),
    moto: awsProxy.stats(),
    "client ↔ gateway": apiProxy.stats(),
  };
  phase("proxies idle");
  log(`load: ${((loadEnd - runStart) / 1000).toFixed(1)} s of load and drain; checking`);

  const clients = localClients(direct);
  const table = await readTable(clients.document, direct.eventsTable);
  const problems: string[] = [];
  const failures = {
    lost: 0,
    duplicates: 0,
    phantoms: 0,
    contentMismatch: 0,
    hashMismatch: 0,
    orphanGuards: 0,
  };
  let acknowledged = 0;
  let unknownOutcome = 0;
  let unknownStored = 0;
  let refused = 0;
  const storedById = new Map<string, StoredItem[]>();
  for (const ws of workspaces) {
    for (const item of table.events.get(ws.id) ?? []) {
      if (!item.hashOk) failures.hashMismatch++;
      if (!item.event.id.startsWith(`${RUN}-`)) continue;
      const list = getOrSet(storedById, item.event.id, () => []);
      list.push(item);
    }
  }
  for (const [id, s] of sent) {
    const stored = storedById.get(id) ?? [];
    if (stored.length > 1) {
      failures.duplicates++;
      problems.push(`duplicate: ${id} stored ${stored.length} times`);
    }
    if (s.acked) {
      acknowledged++;
      if (stored.length === 0) {
        failures.lost++;
        problems.push(`lost: ${id} was answered ${s.acked} and is not stored`);
      } else if (!stored.every((x) => sameContent(s.body, x.event as unknown as Record<string, unknown>))) {
        failures.contentMismatch++;
        problems.push(`content: ${id} is stored with other content`);
      }
      const guard = table.guards.get(s.ws)?.get(id);
      if (stored.length === 1 && guard !== stored[0]?.sk) {
        problems.push(`guard: ${id}'s id guard points at ${guard}, the event is at ${stored[0]?.sk}`);
        failures.orphanGuards++;
      }
    } else if (s.unknown) {
      unknownOutcome++;
      if (stored.length) unknownStored++;
    } else {
      if (s.refused) refused++;
      if (stored.length) {
        failures.phantoms++;
        problems.push(`stored without a 2xx: ${id} (last answer ${s.refused ?? "none"})`);
      }
    }
  }
  for (const [id] of storedById) {
    if (!sent.has(id)) {
      failures.phantoms++;
      problems.push(`stored but never sent: ${id}`);
    }
  }
  // A guard with no event would be an id claimed without its event.
  for (const ws of workspaces) {
    for (const [id, sk] of table.guards.get(ws.id) ?? []) {
      if (!(table.events.get(ws.id) ?? []).some((x) => x.sk === sk)) {
        failures.orphanGuards++;
        problems.push(`guard without its event: ${ws.id} ${id}`);
      }
    }
  }

  phase("store checked");
  // Through the API, no faults: a sample of acknowledged ids read back as the service answers them.
  const ackedIds = [...sent].filter(([, s]) => s.acked).map(([id]) => id);
  const sampleIds = ackedIds.sort(() => Math.random() - 0.5).slice(0, 200);
  let apiReadBack = 0;
  // From here on the checker's own API calls retry as any client does (a 429 when the rate limit is low).
  drainEnd = Number.POSITIVE_INFINITY;
  const check = (path: string, token: string) => call(api, "checker", "GET", path, token);
  await Promise.all(
    workspaces.map(async (ws) => {
      for (const id of sampleIds.filter((i) => sent.get(i)?.ws === ws.id)) {
        const s = sent.get(id) as Sent;
        const got = await check(`/v1/events/${encodeURIComponent(id)}`, ws.keys.reader);
        if (
          got.kind === "answered" &&
          got.answer.status === 200 &&
          sameContent(s.body, JSON.parse(got.answer.text) as Record<string, unknown>)
        )
          apiReadBack++;
        else
          problems.push(
            `API read-back of ${id}: ${got.kind === "answered" ? `${got.answer.status} ${got.answer.text.slice(0, 200)}` : got.reason}`,
          );
      }
    }),
  );
  phase("API read-back");
  const { makeHandler: makeSealer } = await import("../functions/seal-log/handler.js");
  const base = jobDeps();
  const sealNow = makeSealer({
    ...base,
    clock: { now: () => new Date(Date.now() + SEAL_SETTLE_MS + 1_000) },
  });
  let finalSeal = await sealNow();
  for (let i = 0; i < 2 && finalSeal.failed.length; i++) finalSeal = await sealNow();
  if (finalSeal.failed.length) problems.push(`the final seal failed for ${finalSeal.failed.join(", ")}`);

  phase("final seal");
  const sealedTable = await readTable(clients.document, direct.eventsTable);
  const logStore = new DynamoLogStore(clients.document, direct.controlTable);
  const logChecks: { ws: string; events: number; checkpointSize: number; rootOk: boolean; bundle: string }[] =
    [];
  let logOk = finalSeal.failed.length === 0;
  const keyAnswer = await check("/v1/log/key", (workspaces[0] as Workspace).keys.reader);
  if (keyAnswer.kind !== "answered" || keyAnswer.answer.status !== 200)
    throw new Error("GET /v1/log/key failed with no faults on");
  const { verifierKey } = JSON.parse(keyAnswer.answer.text) as { verifierKey: string };
  const verifier = parseVerifierKey(verifierKey);
  for (const ws of workspaces) {
    const items = sealedTable.events.get(ws.id) ?? [];
    const state = await logStore.getState(ws.id);
    const range = CompactRange.empty();
    for (const item of items) range.append(leafHash(leafDataOf(item.event)));
    let checkpointSize = -1;
    let rootOk = false;
    try {
      const cp = parseCheckpoint(openNote(state?.checkpoint ?? "", [verifier]).text);
      checkpointSize = cp.size;
      rootOk = cp.size === items.length && cp.root.equals(range.root());
    } catch (err: unknown) {
      problems.push(`${ws.id}: checkpoint: ${(err as Error).message}`);
    }
    logChecks.push({ ws: ws.id, events: items.length, checkpointSize, rootOk, bundle: "" });
    if (!rootOk) {
      logOk = false;
      problems.push(
        `${ws.id}: the checkpoint (size ${checkpointSize}) does not commit to the ${items.length} stored events`,
      );
    }
  }
  // An evidence bundle of each whole workspace, through the offline verifier with the pinned key.
  phase("checkpoints checked");
  const evidencePoller = startQueuePoller(direct);
  const evidenceDeadline = Date.now() + 60_000;
  const bundles = await Promise.all(
    workspaces.map((ws) => runExport(api, ws, { format: "evidence" }, evidenceDeadline)),
  );
  await evidencePoller.stop();
  for (const [i, { run, bytes }] of bundles.entries()) {
    const check = logChecks[i] as (typeof logChecks)[number];
    if (!bytes) {
      check.bundle = `no bundle: ${run.status} ${run.problem ?? ""}`;
      logOk = false;
      problems.push(`${check.ws}: evidence export ${check.bundle}`);
      continue;
    }
    const report = await verifyBundle(bytes, { verifierKeys: [verifierKey] });
    check.bundle = report.ok ? `verified ${report.eventsVerified}` : `exit ${report.exitCode}`;
    if (!report.ok || report.eventsVerified !== check.checkpointSize) {
      logOk = false;
      problems.push(`${check.ws}: bundle ${check.bundle}, ${report.messages.slice(0, 3).join("; ")}`);
    }
  }
  exportRuns.splice(exportRuns.length - bundles.length, bundles.length);
  // An export under load that did not complete: the job as stored, for the report.
  const control = new DynamoControlStore(clients.document, direct.controlTable);
  for (const e of exportRuns) {
    if (e.status === "ready" || !e.id) continue;
    const job = await control.getExportJob(e.id);
    const runs = workerRuns.get(e.id) ?? [];
    e.problem = `${e.problem ?? ""}; the job as stored: status ${job?.status}, revision ${job?.revision}, attempts ${job?.attempts ?? "-"}; worker runs: ${runs.length ? runs.join(", ") : "none"}; faults on its job item: ${(jobFaults.get(e.id) ?? []).join(", ") || "none"}`;
  }
  const violations = (sealedTable.events.get(OPERATOR_LOG) ?? []).filter(
    (x) => x.event.type === "integrity.violation",
  );
  for (const v of violations)
    problems.push(`integrity violation: ${JSON.stringify(v.event.context).slice(0, 300)}`);

  phase("evidence bundles verified");
  // ---- the report ----
  const eventsSent = sent.size;
  const routes = [...load.latencies.keys()].sort();
  const out: string[] = [];
  out.push("");
  out.push(
    `npm run load: ${DURATION_S} s of load (${((loadEnd - runStart) / 1000).toFixed(1)} s with the drain), ${WORKERS} clients, ${WORKSPACES} workspaces, ${cpus().length} cores, ${engines.dynamoEngine}`,
  );
  out.push(
    `  WORKSPACE_RATE_LIMIT ${rateLimit}; Retry-After honoured x${RETRY_AFTER_SCALE} (each wait capped at ${MAX_RETRY_WAIT_MS / 1000} s); a client gives up after ${MAX_ATTEMPTS} attempts or ${DRAIN_MS / 1000} s after the end`,
  );
  out.push(
    `  engine faults: ${flags.faults || "none"}; client-side faults: ${flags["api-faults"] || "none"}; spikes ${LAT_MIN}-${LAT_MAX} ms; seed ${SEED}`,
  );
  out.push("");
  out.push(`requests (attempts)            ${fmt(load.counters.requests)}`);
  out.push(`events sent                    ${fmt(eventsSent)}`);
  out.push(`acknowledged events            ${fmt(acknowledged)}  (${fmt(acknowledged / DURATION_S)}/s)`);
  out.push(
    `503s / 429s                    ${fmt(load.counters.s503)} / ${fmt(load.counters.s429)}   without Retry-After: ${load.counters.retryAfterMissing}`,
  );
  out.push(`other 5xx                      ${fmt(load.counters.other5xx)}`);
  out.push(`dropped connections / timeouts ${fmt(load.counters.transportErrors)}`);
  out.push(`events lost                    ${failures.lost}`);
  out.push(`duplicates                     ${failures.duplicates}`);
  out.push(`stored without a 2xx           ${failures.phantoms}`);
  out.push(`unknown outcome (gave up)      ${unknownOutcome}  (of them stored: ${unknownStored})`);
  out.push(`refused (4xx)                  ${refused}`);
  out.push(
    `content / hash mismatches      ${failures.contentMismatch} / ${failures.hashMismatch}; single answers with other content: ${load.counters.singleAnswerMismatch}`,
  );
  out.push(`id guards without their event  ${failures.orphanGuards}`);
  out.push(
    `read after 2xx (in the run)    ${load.counters.readAfterAckChecked - load.counters.readAfterAckMiss}/${load.counters.readAfterAckChecked}; API read-back after: ${apiReadBack}/${sampleIds.length}`,
  );
  out.push("");
  out.push("route                          attempts   p50 ms   p99 ms   statuses");
  for (const route of routes) {
    const l = load.latencies.get(route) ?? [];
    const st = [...(load.statuses.get(route) ?? new Map<string, number>())]
      .sort()
      .map(([k, v]) => `${k}:${v}`)
      .join(" ");
    out.push(
      `${route.padEnd(30)} ${fmt(l.length).padStart(8)} ${fmt(pct(l, 0.5)).padStart(8)} ${fmt(pct(l, 0.99)).padStart(8)}   ${st}`,
    );
  }
  out.push("");
  out.push(`faults injected                ${FAULT_KINDS.map((k) => k.padStart(19)).join("")}   requests`);
  for (const [name, s] of Object.entries(faultStats)) {
    out.push(
      `${name.padEnd(30)} ${FAULT_KINDS.map((k) => fmt(s.faults[k]).padStart(19)).join("")}   ${fmt(s.requests)}`,
    );
    for (const [service, c] of Object.entries(s.byService)) {
      if (name === "dynamodb" || name === "client ↔ gateway") continue;
      out.push(
        `  ${service.padEnd(28)} ${FAULT_KINDS.map((k) => fmt(c[k]).padStart(19)).join("")}   ${fmt(c.requests)}`,
      );
    }
  }
  out.push(
    `  forwarded after the client left (late arrivals): dynamodb ${dynamoProxy.stats().forwardedAfterClientLeft}, moto ${awsProxy.stats().forwardedAfterClientLeft}`,
  );
  out.push("");
  out.push(
    `sealer during the load: ${sealer.stats.runs} runs, ${fmt(sealer.stats.sealed)} events sealed, ${sealer.stats.failedWorkspaces} workspace runs failed under faults (retried next run)`,
  );
  out.push(
    `export worker: ${poller.stats.invocations} runs, ${poller.stats.failures} failed and redelivered`,
  );
  for (const e of exportRuns)
    out.push(
      `  export ${e.format} ${e.id ?? ""}: ${e.status}${e.msToReady ? ` in ${(e.msToReady / 1000).toFixed(1)} s` : ""}, ${e.eventCount ?? "-"} events, ${e.lines ?? "-"} lines${e.problem ? ` (${e.problem})` : ""}`,
    );
  out.push(
    "verifiable log (final seal with no faults; checkpoint root recomputed from the table; evidence bundle through verifyBundle):",
  );
  for (const c of logChecks)
    out.push(
      `  ${c.ws}: ${c.events} events, checkpoint size ${c.checkpointSize}, root ${c.rootOk ? "matches" : "DIFFERS"}, bundle ${c.bundle}`,
    );
  out.push(`integrity violations recorded: ${violations.length}`);
  if (samples.length || problems.length) {
    out.push("");
    out.push("notes:");
    for (const line of [...problems.slice(0, 30), ...samples]) out.push(`  ${line}`);
  }
  const exportsOk = exportRuns.length > 0 && exportRuns.every((e) => e.status === "ready" && !e.problem);
  // [ok, what, fatal]: an export left unfinished under faults is a known defect (see the report), not fatal by default.
  const verdicts: [boolean, string, boolean][] = [
    [failures.lost === 0, "no acknowledged event lost", true],
    [failures.duplicates === 0, "no event stored twice", true],
    [failures.phantoms === 0, "nothing stored without a 2xx (but unknown outcomes)", true],
    [
      failures.contentMismatch === 0 && failures.hashMismatch === 0 && counters.singleAnswerMismatch === 0,
      "content as sent",
      true,
    ],
    [failures.orphanGuards === 0, "every id guard with its event", true],
    [counters.retryAfterMissing === 0, "every 503 and 429 with Retry-After", true],
    [counters.other5xx === 0, "storage trouble answered 503, never another 5xx", true],
    [
      counters.readAfterAckMiss === 0 && apiReadBack === sampleIds.length,
      "acknowledged events readable",
      true,
    ],
    [logOk && violations.length === 0, "the verifiable log verifies over every workspace", true],
    [exportsOk, "the exports under load completed", true],
  ];
  out.push("");
  for (const [ok, what, fatal] of verdicts) out.push(`${ok ? "ok  " : fatal ? "FAIL" : "WARN"} ${what}`);
  const wall = (performance.now() - wallStart) / 1000;
  out.push(`wall time ${wall.toFixed(1)} s: ${phases.map(([n, t]) => `${n} ${t.toFixed(1)} s`).join(", ")}`);
  process.stdout.write(`${out.join("\n")}\n`);
  if (flags.doc) writeDocSection(flags.doc, out);
  if (flags.json) {
    const routeFigures = Object.fromEntries(
      routes.map((r) => {
        const l = load.latencies.get(r) ?? [];
        return [
          r,
          {
            attempts: l.length,
            p50: pct(l, 0.5),
            p99: pct(l, 0.99),
            statuses: Object.fromEntries(load.statuses.get(r) ?? []),
          },
        ];
      }),
    );
    writeFileSync(
      flags.json,
      `${JSON.stringify(
        {
          durationS: DURATION_S,
          workers: WORKERS,
          workspaces: WORKSPACES,
          seed: SEED,
          faults: flags.faults,
          apiFaults: flags["api-faults"],
          counters: load.counters,
          eventsSent,
          acknowledged,
          unknownOutcome,
          unknownStored,
          refused,
          failures,
          routes: routeFigures,
          faultStats,
          sealer: sealer.stats,
          exportWorker: poller.stats,
          exports: exportRuns,
          log: logChecks,
          violations: violations.length,
          verdicts: verdicts.map(([ok, what, fatal]) => ({ ok, what, fatal })),
          wallS: wall,
        },
        null,
        2,
      )}\n`,
    );
  }
  exitCode = verdicts.every(([ok, , fatal]) => ok || !fatal) ? 0 : 1;
  gateway.close();
  gateway.closeAllConnections();
} catch (err: unknown) {
  process.stderr.write(`npm run load failed: ${(err as Error).stack ?? String(err)}\n`);
  exitCode = 2;
} finally {
  agent.destroy();
  await stopAll();
}
process.exit(exitCode);
