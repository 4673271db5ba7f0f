import { pathToFileURL } from "node:url";
import { keyRange, positionOf } from "../../functions/shared/adapters/positions.js";
import { buildEvent, contentHashOf } from "../../functions/shared/core/events.js";
import { runExport } from "../../functions/shared/core/exports.js";
import { jobDeps } from "../../functions/shared/deps.js";
import { archiveStore, exportQueue } from "../../functions/shared/export-deps.js";
import type { EventQuery, EventRecord, EventStore } from "../../functions/shared/ports.js";
import { type StoredEvent, serviceEventInputSchema } from "../../functions/shared/schemas/event.js";
import { seededRandom } from "./random.js";

/**
 * One export run in a process of its own, for `npm run bench:export` (scripts/bench-export.ts), so
 * that `process.resourceUsage().maxRSS` is the peak of that run alone. The parent bundles this file
 * with esbuild (as the Lambda is bundled) and runs it with plain node:
 *
 *   node child.mjs '<ChildRequest JSON>'
 *
 * It wires the export worker's own dependencies (jobDeps, archiveStore and exportQueue, as
 * functions/export-worker/handler.ts does), records the RSS at rest (the cold start: imports and
 * wiring), then calls `runExport(deps, exportId)` on a job the parent created and prints one
 * `RESULT_PREFIX<ChildResult JSON>` line.
 *
 * With `source: "synthetic"`, the event store's `stream()` is an in-process generator of real
 * stored events (built by buildEvent, so fields and hashes are what the service stores); every
 * other EventStore call, including the `audit.exported` append at the end, still goes to DynamoDB
 * (moto). The generator is also what the parent bulk-loads for the `source: "dynamodb"` run.
 */

export const RESULT_PREFIX = "EXPORT_RSS_RESULT ";

export interface ChildRequest {
  exportId: string;
  source: "synthetic" | "dynamodb";
  /** Synthetic only: how many events stream() yields, newest first from `newestAt`. */
  events?: number;
  newestAt?: string;
  /** Milliseconds between sampling process.memoryUsage(). */
  sampleMs?: number;
}

export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface ChildResult {
  /** process.memoryUsage() after imports and wiring, before runExport (bytes). */
  baseline: MemorySample;
  /** resourceUsage().maxRSS (KiB) at the baseline: the cold start's own peak. */
  baselineMaxRssKiB: number;
  /** resourceUsage().maxRSS (KiB) after runExport: the process's peak, the run included. */
  maxRssKiB: number;
  /** Highest value of each field over the samples taken during the run (bytes; not simultaneous). */
  peak: MemorySample;
  samples: number;
  durationMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Synthetic only: time spent building events in the generator (inside durationMs). */
  sourceMs?: number;
  status?: string;
  eventCount?: number;
  bytes?: number;
  objectKey?: string;
}

// ---------------------------------------------------------------------------------------------
// Synthetic events: deterministic per index, realistic sizes (~300–800 bytes as NDJSON), contexts
// with quotes, commas, newlines, non-ASCII text and formula-like cells.

/** Seeded per event, so any index can be rebuilt alone. */
const rng = seededRandom;

const USERS = [
  { type: "user", id: "alice@acme.example", name: 'Alice "Al" Martin, SRE' },
  { type: "user", id: "bob@acme.example", name: "Bob O'Neil" },
  { type: "user", id: "zoë.müller@acme.example", name: "Zoë Müller" },
  { type: "user", id: '=HYPERLINK("http://evil.example")', name: "formula, injected" },
  { type: "user", id: "@carol", name: "Carol\nNewline" },
  { type: "service", id: "mitigation-controller" },
  { type: "system", id: "system" },
  { type: "api_key", id: "5f2c9a1e7b3d4c60" },
] as const;
const NODES = ["nyc-edge-01", "fra-edge-02", "sgp-edge-05", "sao-core-01", "lon-edge-07", "syd-edge-03"];
const AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "curl/8.5.0",
  "-cmd|' /C calc'!A0",
  'audit-sync/2.3 (+https://acme.example/bots; contact "ops")',
];
const WORDS = [
  "flood",
  "SYN,ACK",
  '"amplified"',
  "via NTP",
  "line one\nline two",
  "Zürich",
  "tenant's",
  "a,b,c",
  "=1+1",
  "carriage\r\nreturn",
  "threshold",
  "scrubbing",
  "BGP Flowspec",
  "🚨",
  "rate-limit",
  "upstream",
  "blackhole",
  "tab\tseparated",
];
const IPS = ["203.0.113.42", "198.51.100.66", "2001:db8::17", "192.0.2.200"];

function note(r: () => number, words: number): string {
  const out: string[] = [];
  for (let k = 0; k < words; k++) out.push(WORDS[Math.floor(r() * WORDS.length)] as string);
  return out.join(" ");
}

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
const hex = (r: () => number, n: number) =>
  Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join("");

/** The producer's input of synthetic event `i` (before validation). */
function rawInput(i: number): Record<string, unknown> {
  const r = rng(Math.imul(i + 1, 2_654_435_761));
  const actor = pick(r, USERS);
  const node = { id: pick(r, NODES) };
  const ip = pick(r, IPS);
  const words = 2 + Math.floor(r() * 24);
  switch (i % 8) {
    case 0:
      return {
        type: "incident.opened",
        actor: USERS[5],
        node,
        resource: { type: "incident", id: hex(r, 8) },
        context: {
          incidentId: hex(r, 8),
          detectedAt: "2026-03-09T09:44:19Z",
          peak: { pps: Math.floor(r() * 5e6), bps: Math.floor(r() * 4e10) },
          vector: 'UDP flood, "amplified" via NTP',
          targets: [ip, "203.0.113.0/24"],
          note: note(r, words),
        },
      };
    case 1:
      return {
        type: "pcap.download",
        actor,
        node,
        sourceIp: ip,
        userAgent: pick(r, AGENTS),
        resource: { type: "pcap", id: `cap-${hex(r, 6)}` },
        context: {
          captureId: `cap-${hex(r, 6)}`,
          sha256: hex(r, 64),
          bytes: Math.floor(r() * 2e9),
          filename: `cap,${node.id} "incident".pcap`,
        },
      };
    case 2:
      return {
        type: "config.threshold_changed",
        actor,
        node,
        sourceIp: ip,
        context: {
          name: "pps",
          from: 100_000,
          to: Math.floor(r() * 1e6),
          reason: `raised after "false positive", see OPS-${Math.floor(r() * 9999)}\n${note(r, words)}`,
        },
      };
    case 3:
      return {
        type: "auth.login_failed",
        actor: { type: "user", id: `mallory${Math.floor(r() * 50)}@evil.example` },
        sourceIp: ip,
        userAgent: pick(r, AGENTS),
        outcome: "failure",
        context: { reason: "bad password", attempts: 1 + Math.floor(r() * 9), mfa: r() < 0.5 },
      };
    case 4:
      return {
        type: "node.config_changed",
        actor,
        node,
        context: {
          changes: [
            { field: "bgp.community", from: "65000:666", to: "65000:667" },
            { field: "description", from: "core, rack 4", to: note(r, 3 + (words >> 2)) },
          ],
        },
      };
    case 5:
      return {
        type: "access.denied",
        actor: { type: "api_key", id: hex(r, 16) },
        sourceIp: ip,
        userAgent: pick(r, AGENTS),
        outcome: "failure",
        context: {
          reason: "cross_workspace",
          method: "GET",
          path: `/v1/events/${hex(r, 26)}?q="x,y"`,
          count: 1 + Math.floor(r() * 20),
        },
      };
    case 6:
      return {
        type: "maintenance.started",
        actor,
        node,
        context: { windowId: `mw-${hex(r, 6)}`, endedBy: "auto", summary: note(r, words) },
      };
    default:
      return {
        type: "apikey.rotated",
        actor,
        sourceIp: ip,
        userAgent: pick(r, AGENTS),
        resource: { type: "api_key", id: hex(r, 16) },
        context: { keyId: hex(r, 16), graceSeconds: 3_600, name: 'siem, "primary"' },
      };
  }
}

/** Id and recordedAt of synthetic event `i`: 10 ms apart, newest first from `newestMs`. */
function syntheticKey(i: number, newestMs: number) {
  return { id: `syn-${String(i).padStart(7, "0")}`, recordedAt: new Date(newestMs - i * 10).toISOString() };
}

/** Event `i` as the service stores it (validated, normalised, hashed). */
export function syntheticRecord(
  i: number,
  workspaceId: string,
  newestMs: number,
  expiresAt: number,
): EventRecord {
  const input = serviceEventInputSchema.parse(rawInput(i));
  const { id, recordedAt } = syntheticKey(i, newestMs);
  const event = buildEvent(input, id, recordedAt);
  return { workspaceId, event, contentHash: contentHashOf(input), expiresAt };
}

/**
 * The real store for everything but `stream()`, which yields `count` synthetic events newest first,
 * built one at a time as they are pulled (as DynamoDB pages would be parsed), holding none of them.
 */
export class SyntheticEventStore implements EventStore {
  /** Time spent building events (ms), inside the export's duration. */
  sourceMs = 0;

  constructor(
    private readonly inner: EventStore,
    private readonly count: number,
    private readonly newestMs: number,
  ) {}

  append(records: EventRecord[]) {
    return this.inner.append(records);
  }
  getAt(workspaceId: string, id: string, recordedAt: string, nowEpochSeconds: number) {
    return this.inner.getAt(workspaceId, id, recordedAt, nowEpochSeconds);
  }
  findById(workspaceId: string, id: string, nowEpochSeconds: number) {
    return this.inner.findById(workspaceId, id, nowEpochSeconds);
  }
  findOwners(id: string) {
    return this.inner.findOwners(id);
  }
  query(query: EventQuery) {
    return this.inner.query(query);
  }

  positionOf(event: Pick<StoredEvent, "recordedAt" | "id">) {
    return this.inner.positionOf(event);
  }

  /** Honours the query's bounds as the store does (its key range); other filters are ignored. */
  async *stream(q: Omit<EventQuery, "limit">): AsyncGenerator<StoredEvent> {
    if (q.ascending) throw new Error("the synthetic source streams newest first only");
    const range = keyRange(q);
    for (let i = 0; i < this.count; i++) {
      const { id, recordedAt } = syntheticKey(i, this.newestMs);
      const key = positionOf({ recordedAt, id });
      if (key > range.hi || range.exclude.has(key)) continue;
      if (key < range.lo) return;
      const started = performance.now();
      const { event } = syntheticRecord(i, q.workspaceId, this.newestMs, q.nowEpochSeconds + 1);
      this.sourceMs += performance.now() - started;
      yield event;
    }
  }
}

// ---------------------------------------------------------------------------------------------

function sample(): MemorySample {
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers };
}

async function main(request: ChildRequest): Promise<ChildResult> {
  // The worker's wiring, as functions/export-worker/handler.ts builds it at cold start.
  const deps = jobDeps();
  const archive = archiveStore(deps.config);
  const queue = exportQueue(deps.config);
  const synthetic =
    request.source === "synthetic"
      ? new SyntheticEventStore(
          deps.events,
          request.events ?? 0,
          Date.parse(request.newestAt ?? new Date().toISOString()),
        )
      : undefined;
  await new Promise((r) => setTimeout(r, 50));
  const baseline = sample();
  const baselineMaxRssKiB = process.resourceUsage().maxRSS;

  const peak = { ...baseline };
  let samples = 0;
  const take = () => {
    const s = sample();
    for (const k of Object.keys(peak) as (keyof MemorySample)[]) peak[k] = Math.max(peak[k], s[k]);
    samples++;
  };
  const timer = setInterval(take, request.sampleMs ?? 25);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const job = await runExport(
    { ...deps, archive, exportQueue: queue, ...(synthetic ? { events: synthetic } : {}) },
    request.exportId,
  );
  const durationMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(timer);
  take();
  return {
    baseline,
    baselineMaxRssKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
    peak,
    samples,
    durationMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    sourceMs: synthetic?.sourceMs,
    status: job?.status,
    eventCount: job?.eventCount,
    bytes: job?.bytes,
    objectKey: job?.objectKey,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const request = JSON.parse(process.argv[2] ?? "{}") as ChildRequest;
  main(request).then(
    (result) => {
      process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`export run failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
