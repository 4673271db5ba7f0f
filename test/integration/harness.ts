import { randomBytes, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { request as httpRequest } from "node:http";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import type * as z from "zod";
import type { WorkerExtras } from "../../functions/export-worker/handler.js";
import { JOB_REQUEST_TIMEOUT_MS, newDocumentClient } from "../../functions/shared/adapters/clients.js";
import { shardOf } from "../../functions/shared/adapters/dynamodb-event-store.js";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { FixedClock } from "../../functions/shared/clock.js";
import { loadConfig } from "../../functions/shared/config.js";
import { buildEvent, contentHashOf } from "../../functions/shared/core/events.js";
import { type Deps, makeDeps } from "../../functions/shared/deps.js";
import type { EventRecord } from "../../functions/shared/ports.js";
import type { Scope } from "../../functions/shared/routes.js";
import { serviceEventInputSchema } from "../../functions/shared/schemas/event.js";
import type { exportSchema } from "../../functions/shared/schemas/exports.js";
import { EventAttr, Keys, OPERATOR_LOG, PK, SK } from "../../functions/shared/table.js";
import { localEnv, type SeededWorkspace, seedWorkspace } from "../../scripts/lib/bootstrap.js";
import {
  createLocalServer,
  type LambdaHandler,
  listen,
  moduleHandler,
} from "../../scripts/lib/local-server.js";

/** GET/POST /v1/exports answers, typed by the schema the API itself uses. */
export type ExportView = z.infer<typeof exportSchema>;

/**
 * A `pcap.download` event carrying ~15 KB of incompressible context (gzip leaves ~11 KB), as the
 * item the service would store: a few hundred of them make an export file of several 5 MiB parts
 * (S3's smallest), so tests can cut, kill and resume uploads.
 */
export function heavyRecord(workspaceId: string, id: string, recordedAt: string, i: number): EventRecord {
  const input = serviceEventInputSchema.parse({
    type: "pcap.download",
    actor: { type: "user", id: `user-${i % 7}` },
    sourceIp: "203.0.113.42",
    context: { captureId: `c-${i}`, sha256: "b".repeat(64), blob: randomBytes(11_000).toString("base64") },
  });
  return {
    workspaceId,
    event: buildEvent(input, id, recordedAt),
    contentHash: contentHashOf(input),
    expiresAt: 2_000_000_000,
  };
}

/** The engines of this test run (started by global-setup.ts). */
export const engineEnv = () => localEnv(inject("engines"), "test");

/** A workspace id no other test uses, so test files can run in parallel against one set of engines. */
export const uniqueWorkspace = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

export interface TestApi {
  baseUrl: string;
  clock: FixedClock;
  deps: Deps;
  /** The DynamoDB client the handlers use (tests add SDK middleware to it). */
  dynamo: DynamoDBDocumentClient;
  /**
   * Runs the export worker, one message per invocation like the SQS event source (batch size 1),
   * until the queue is empty (hand-overs queue the export again; a run that throws is redelivered,
   * as SQS would); returns the distinct export ids.
   */
  runQueuedExports(extras?: WorkerExtras): Promise<string[]>;
  /** Invocations of the export worker so far. */
  workerInvocations(): number;
  close(): Promise<void>;
}

/**
 * The real API path in-process: the local gateway (HTTP → API Gateway v2 event) in front of the
 * handler modules, each built by its `makeHandler` with a frozen clock.
 */
export async function startApi(
  options: {
    now?: string;
    queryPageSize?: number;
    dynamoEndpoint?: string;
    workspaceRateLimit?: number;
  } = {},
): Promise<TestApi> {
  const clock = new FixedClock(new Date(options.now ?? "2026-03-09T18:00:00.000Z"));
  latestClock = clock;
  const dynamo = newDocumentClient(options.dynamoEndpoint);
  const config = loadConfig();
  const deps = makeDeps({
    config: { ...config, WORKSPACE_RATE_LIMIT: options.workspaceRateLimit ?? config.WORKSPACE_RATE_LIMIT },
    client: dynamo,
    clock,
    queryPageSize: options.queryPageSize,
    // A transaction that lost a race is retried at once: tests never sleep.
    appendBackoff: async () => undefined,
  });
  const cache = new Map<string, LambdaHandler>();
  // Exports queue in memory here; the test runs the worker when it chooses (npm start uses SQS).
  const queued: string[] = [];
  const exportQueue = { enqueue: async (id: string) => void queued.push(id) };
  let invocations = 0;
  /** Receive count of each export's current message. */
  const deliveries = new Map<string, number>();
  const server: Server = createLocalServer(async (name) => {
    const cached = cache.get(name);
    if (cached) return cached;
    const mod = (await import(`../../functions/${name}/handler.ts`)) as {
      makeHandler?: (d: Deps, extra?: unknown) => LambdaHandler;
    };
    const extra = name === "create-export" ? exportQueue : undefined;
    const handler = mod.makeHandler ? mod.makeHandler(deps, extra) : await moduleHandler(name);
    cache.set(name, handler);
    return handler;
  });
  const baseUrl = await listen(server, 0);
  return {
    baseUrl,
    clock,
    deps,
    dynamo,
    runQueuedExports: async (extras = {}) => {
      const { makeHandler } = await import("../../functions/export-worker/handler.js");
      // The worker runs with the jobs' longer request timeout, as deployed (jobDeps).
      const workerDeps = makeDeps({
        config: deps.config,
        client: newDocumentClient(options.dynamoEndpoint, JOB_REQUEST_TIMEOUT_MS),
        clock,
        queryPageSize: options.queryPageSize,
      });
      const worker = makeHandler(workerDeps, { queue: exportQueue, ...extras });
      const ids = new Set<string>();
      let failures = 0;
      for (let id = queued.shift(); id !== undefined; id = queued.shift()) {
        ids.add(id);
        invocations++;
        const delivery = (deliveries.get(id) ?? 0) + 1;
        deliveries.set(id, delivery);
        const record = {
          body: JSON.stringify({ exportId: id }),
          attributes: { ApproximateReceiveCount: String(delivery) },
        };
        try {
          await worker({ Records: [record] } as never);
          deliveries.delete(id); // done with this message; a hand-over queued a new one
        } catch (err: unknown) {
          // SQS leaves a failed message for redelivery (its receive count goes up).
          if (++failures > 10) throw err;
          queued.push(id);
        }
      }
      return [...ids];
    },
    workerInvocations: () => invocations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const KEYS = { writer: ["events:write"], reader: ["events:read"], admin: ["admin"] } satisfies Record<
  string,
  Scope[]
>;
export type TestWorkspace = SeededWorkspace<keyof typeof KEYS>;

/**
 * The clock of the test API started last: workspaces are created at its time (their keys'
 * `apikey.created` events among the test's own, not in the real present).
 */
let latestClock: FixedClock | undefined;

/**
 * A workspace with a writer, a reader and an admin key, created as the local bootstrap creates
 * one (three `apikey.created` events in its log), at the latest test API's clock unless `now`.
 */
export function workspace(
  label: string,
  options: Parameters<typeof seedWorkspace>[3] = {},
): Promise<TestWorkspace> {
  return seedWorkspace(engineEnv(), uniqueWorkspace(label), KEYS, { now: latestClock?.now(), ...options });
}

/** Whether an event is one of those seeding wrote (its keys' creation): left out where a test counts its own. */
export const isSeeded = (event: object) =>
  (event as { actor?: { id?: string } }).actor?.id === "local-bootstrap";

export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** fetch with a bearer key and JSON both ways. */
export async function call<T = Record<string, unknown>>(
  api: { baseUrl: string },
  method: string,
  path: string,
  options: { key?: string; body?: unknown; rawBody?: string; contentType?: string } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  const res = await fetch(`${api.baseUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Every event of a workspace, newest first, following cursors. */
export async function listAll(
  api: { baseUrl: string },
  key: string,
  query = "",
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const qs = new URLSearchParams(query);
    qs.set("limit", "1000");
    if (cursor) qs.set("cursor", cursor);
    const page: Reply<{ events: Record<string, unknown>[]; nextCursor: string | null }> = await call(
      api,
      "GET",
      `/v1/events?${qs}`,
      { key },
    );
    if (page.status !== 200) throw new Error(`list failed: ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.events);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Like {@link call}, but from another loopback address (127.0.0.0/8), so the local gateway sees a
 * different source IP, as API Gateway would for another client.
 */
export function callFrom<T = Record<string, unknown>>(
  sourceIp: string,
  api: { baseUrl: string },
  method: string,
  path: string,
  options: { key?: string; body?: unknown; userAgent?: string } = {},
): Promise<Reply<T>> {
  const url = new URL(`${api.baseUrl}${path}`);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method,
        localAddress: sourceIp,
        headers: {
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(payload ? { "content-type": "application/json" } : {}),
          "user-agent": options.userAgent ?? "harness/1.0",
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            body: (text ? JSON.parse(text) : undefined) as T,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Rewrites a stored event's document straight in the table, as an operator with table access
 * could, bypassing the write path. With `rehash` its `hash` is recomputed, so only the tree can
 * tell. Returns the event item's key.
 */
export async function rewriteStoredEvent(
  dynamo: DynamoDBDocumentClient,
  workspaceId: string,
  id: string,
  change: (doc: Record<string, unknown> & { actor: { id: string } }) => void,
  options: { rehash: boolean },
): Promise<{ pk: string; sk: string }> {
  const table = engineEnv().eventsTable;
  const guard = (
    await dynamo.send(
      new GetCommand({ TableName: table, Key: { [PK]: Keys.guardPk(workspaceId, id), [SK]: Keys.guardSk } }),
    )
  ).Item;
  if (!guard) throw new Error(`no id guard for ${id} in ${workspaceId}`);
  const key = { [PK]: Keys.eventPk(workspaceId, shardOf(id)), [SK]: String(guard.eventSk) };
  const item = (await dynamo.send(new GetCommand({ TableName: table, Key: key }))).Item;
  if (!item) throw new Error(`no event item for ${id}`);
  const { hash, ...content } = JSON.parse(String(item[EventAttr.doc]));
  change(content);
  const doc = options.rehash ? { ...content, hash: sha256Hex(canonicalJson(content)) } : { ...content, hash };
  await dynamo.send(
    new PutCommand({ TableName: table, Item: { ...item, [EventAttr.doc]: canonicalJson(doc) } }),
  );
  return { pk: key[PK] as string, sk: key[SK] as string };
}

/** The `integrity.violation` findings about one workspace in the operator's security log, oldest first. */
export async function violationsAbout(
  deps: Deps,
  workspaceId: string,
): Promise<{ kind: string; workspace: string; detail: string }[]> {
  const out: { kind: string; workspace: string; detail: string }[] = [];
  for await (const e of deps.events.stream({
    workspaceId: OPERATOR_LOG,
    types: ["integrity.violation"],
    nowEpochSeconds: 0,
    ascending: true,
  })) {
    const c = e.context as { kind: string; workspace: string; detail: string };
    if (c.workspace === workspaceId) out.push(c);
  }
  return out;
}
