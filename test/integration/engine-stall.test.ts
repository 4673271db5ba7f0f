import { createHash, randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ArchiveStore } from "../../functions/shared/adapters/s3-archive-store.js";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { FixedClock } from "../../functions/shared/clock.js";
import { buildEvent, contentHashOf } from "../../functions/shared/core/events.js";
import { UnavailableError } from "../../functions/shared/errors.js";
import { merkleRoot } from "../../functions/shared/merkle.js";
import type { ArchiveStore, EventRecord } from "../../functions/shared/ports.js";
import { type StoredEvent, serviceEventInputSchema } from "../../functions/shared/schemas/event.js";
import { leafHash, rootFromMultiProof } from "../../functions/shared/tlog/merkle.js";
import { parseCheckpoint, splitNote } from "../../functions/shared/tlog/note.js";
import { localClients, type SeededWorkspace, seedWorkspace } from "../../scripts/lib/bootstrap.js";
import { bulkLoad } from "../../scripts/lib/bulk-load.js";
import {
  type EngineName,
  type PrivateEngines,
  pointProcessEnvAt,
  type StallApi,
  shortTimeoutS3,
  startPrivateEngines,
  startStallApi,
  within,
} from "../support/engine-stall.js";

/**
 * Issue 13, item 2: the engines' processes paused (SIGSTOP) with work in flight, then resumed
 * (SIGCONT). This file starts engines of its own, so pausing them stalls no other test file.
 *
 * The pause is real time, and only that: each stall starts at a point the test picks (a post
 * acknowledged, an upload part about to go out) and ends when every call that was in flight has
 * been answered, which the clients' request timeouts bound. To keep that short, the test's SDK
 * clients time out after 1 s instead of the service's 5 s (API) and 60 s (jobs); the retries
 * (3 attempts, standard mode) and everything above them are the service's own.
 */
const DYNAMO_TIMEOUT_MS = 1_000;
const S3_TIMEOUT_MS = 1_000;
/** A bound on each stall: far beyond 3 attempts of 1 s with backoff, far below the test timeout. */
const STALL_BOUND_MS = 20_000;

const DAY_MS = 86_400_000;
// moto enforces Object Lock against the real clock, so the exported day is a recent real day.
const utcDay = (offsetDays: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offsetDays * DAY_MS);
};
const D = utcDay(-3);
const iso = (base: Date, ms = 0) => new Date(base.getTime() + ms).toISOString();
const ymd = (base: Date) => iso(base).slice(0, 10);

interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = Record<string, unknown>>(
  api: { baseUrl: string },
  method: string,
  path: string,
  options: { key: string; body?: unknown },
): Promise<Reply<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.key}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

async function listAll(api: { baseUrl: string }, key: string, query: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cursor: string | null = null;
  do {
    const qs = new URLSearchParams(query);
    qs.set("limit", "1000");
    if (cursor) qs.set("cursor", cursor);
    let page: Reply<{ events: StoredEvent[]; nextCursor: string | null }>;
    // Retry a 503 as a client would, a few times (the SDK's retry quota is spent after a stall).
    let tries = 0;
    do page = await call(api, "GET", `/v1/events?${qs}`, { key });
    while (page.status === 503 && ++tries < 5);
    if (page.status !== 200) throw new Error(`list failed: ${page.status} ${JSON.stringify(page.body)}`);
    out.push(...page.body.events);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

/** Its `hash` is SHA-256 over its canonical JSON without it. */
const hashHolds = ({ hash, ...rest }: StoredEvent) => hash === sha256Hex(canonicalJson(rest));

let engines: PrivateEngines;
let restoreEnv: (() => void) | undefined;
let api: StallApi;
const clock = new FixedClock(new Date(iso(D, 9 * 3_600_000)));

beforeAll(async () => {
  engines = await startPrivateEngines();
  // Before any handler module is imported: their module-scope clients read these variables.
  restoreEnv = pointProcessEnvAt(engines.env);
  api = await startStallApi({ env: engines.env, clock, dynamoTimeoutMs: DYNAMO_TIMEOUT_MS });
});

afterAll(async () => {
  // Never leave a stopped process, whatever failed.
  for (const engine of ["dynamodb", "moto"] as EngineName[]) {
    try {
      engines?.resume(engine);
    } catch {
      // not started
    }
  }
  await api?.close();
  await engines?.stop();
  restoreEnv?.();
});

const KEYS = { writer: ["events:write"], reader: ["events:read"] } as const;
const seed = (label: string, plan: "per-node" | "enterprise", now: Date) =>
  seedWorkspace(
    engines.env,
    `${label}-${randomUUID().slice(0, 8)}`,
    { writer: [...KEYS.writer], reader: [...KEYS.reader] },
    { plan, now },
  );

describe("DynamoDB (Dynoxide) paused while posts are in flight", () => {
  let ws: SeededWorkspace<"writer" | "reader">;
  beforeAll(async () => {
    clock.set(iso(D, 9 * 3_600_000));
    ws = await seed("stall-ddb", "per-node", clock.now());
  });

  it("answers 503 with Retry-After, never a 2xx for an unstored event; retries with the same ids store each once", async () => {
    let seq = 0;
    const single = () => {
      const n = seq++;
      return {
        id: `st-${String(n).padStart(4, "0")}`,
        type: "node.added",
        occurredAt: iso(clock.now(), -60_000),
        actor: { type: "user", id: "alice@acme.example" },
        node: { id: `edge-${n % 5}` },
        sourceIp: "203.0.113.42",
        context: { seq: n, note: `event ${n}` },
      };
    };
    // 60 events: two transactions (49 + 11), so a batch can fail half-way.
    const batch = () => ({ events: Array.from({ length: 60 }, single) });
    const idsOf = (body: ReturnType<typeof single> | ReturnType<typeof batch>) =>
      "events" in body ? body.events.map((e) => e.id) : [body.id];
    const contentOf = new Map<string, ReturnType<typeof single>>();

    interface Attempt {
      body: ReturnType<typeof single> | ReturnType<typeof batch>;
      sentWhilePaused: boolean;
      answeredWhilePaused: boolean;
      reply: Reply;
    }
    const attempts: Attempt[] = [];
    const post = async (body: Attempt["body"]): Promise<Attempt> => {
      for (const e of "events" in body ? body.events : [body]) contentOf.set(e.id, e);
      const sentWhilePaused = engines.paused("dynamodb");
      const reply = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body });
      const attempt = { body, sentWhilePaused, answeredWhilePaused: engines.paused("dynamodb"), reply };
      attempts.push(attempt);
      return attempt;
    };

    // One post first, so the key and workspace records are cached, as in a warm function.
    expect((await post(single())).reply.status).toBe(201);

    // Three producers of single posts and one of batches, each posting as soon as its last was
    // answered. The engine is paused the moment the 8th post is acknowledged: the others are in
    // flight, somewhere between the gateway and the engine.
    let stall: { pausedAt: number; resumedAt?: number } | undefined;
    let onPause: () => void = () => {};
    const pausedNow = new Promise<void>((resolve) => {
      onPause = resolve;
    });
    let acknowledged = 0;
    const producer = async (make: () => Attempt["body"]) => {
      while (!stall) {
        const { reply } = await post(make());
        if (reply.status < 300 && ++acknowledged >= 8 && !stall) {
          engines.pause("dynamodb");
          stall = { pausedAt: performance.now() };
          onPause();
        }
      }
    };
    const producers = [producer(single), producer(single), producer(single), producer(batch)];
    // Once paused, more posts (six single, one batch) go out while the engine is stopped.
    const wave = pausedNow.then(() =>
      Promise.all([...Array.from({ length: 6 }, () => post(single())), post(batch())]),
    );
    // The stall lasts until every post in flight has been answered; the request timeouts bound it.
    try {
      await within(STALL_BOUND_MS, "the posts in flight", Promise.all([...producers, wave]));
    } finally {
      engines.resume("dynamodb");
      if (stall) stall.resumedAt = performance.now();
    }
    const stallMs = (stall?.resumedAt ?? 0) - (stall?.pausedAt ?? 0);
    expect(stallMs).toBeGreaterThan(DYNAMO_TIMEOUT_MS);

    // What the clients were told.
    for (const a of attempts) {
      expect([200, 201, 503]).toContain(a.reply.status);
      if (a.reply.status === 200) expect("events" in a.body).toBe(true); // a single new id is a 201
    }
    // Nothing the engine could not have answered was answered 2xx.
    const sentWhilePaused = attempts.filter((a) => a.sentWhilePaused);
    expect(sentWhilePaused.length).toBe(7);
    for (const a of sentWhilePaused) expect(a.reply.status).toBe(503);
    const failed = attempts.filter((a) => a.reply.status === 503);
    for (const a of failed) {
      expect(a.reply.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      expect(a.reply.headers.get("content-type")).toBe("application/problem+json");
      expect(a.reply.body).toMatchObject({ status: 503, type: "/problems/unavailable" });
    }
    expect(failed.some((a) => "events" in a.body)).toBe(true);
    expect(failed.some((a) => !("events" in a.body))).toBe(true);
    // A batch's 503 says what was settled before the failure; those must be stored.
    const settledByFailedBatches = failed.flatMap((a) =>
      "events" in a.body ? ((a.reply.body.results ?? []) as { id: string; status: string }[]) : [],
    );
    for (const r of settledByFailedBatches) expect(r.status).toBe("created");

    // Acknowledged: every id of every 2xx (before, at and during the pause).
    const acked = new Map<string, StoredEvent | undefined>();
    for (const a of attempts) {
      if (a.reply.status === 201) acked.set((a.body as { id: string }).id, a.reply.body as StoredEvent);
      if (a.reply.status === 200)
        for (const r of a.reply.body.results as { id: string }[]) acked.set(r.id, undefined);
    }
    for (const r of settledByFailedBatches) acked.set(r.id, undefined);

    // After the engine is back: which of the 503s' events are stored anyway? The answer was lost,
    // not the write ("unknown outcome": the engine applied a request its client had given up on).
    clock.advance(2_000); // the retries come after Retry-After, with a fresh recordedAt
    const unsettled = failed.flatMap((a) => idsOf(a.body).filter((id) => !acked.has(id)));
    // One read of the workspace's log (a query, strongly consistent per partition) says which.
    const listed = new Map((await listAll(api, ws.keys.reader, "type=node.added")).map((e) => [e.id, e]));
    const before = new Map(unsettled.map((id) => [id, listed.get(id)]));

    // The documented client: retry the same request, same ids. Bounded: five rounds, no sleeping.
    const retried = new Map<string, { status: "created" | "duplicate"; event?: StoredEvent }>();
    let pending = failed.map((a) => a.body);
    for (let round = 0; round < 5 && pending.length > 0; round++) {
      const replies = await Promise.all(
        pending.map(async (body) => ({
          body,
          reply: await call(api, "POST", "/v1/events", { key: ws.keys.writer, body }),
        })),
      );
      pending = [];
      for (const { body, reply } of replies) {
        if (reply.status === 503) {
          expect(reply.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
          pending.push(body);
        } else if ("events" in body) {
          expect(reply.status).toBe(200);
          const results = reply.body.results as { id: string; status: "created" | "duplicate" }[];
          expect(results.map((r) => r.id)).toEqual(idsOf(body));
          for (const r of results) retried.set(r.id, { status: r.status });
        } else {
          expect([200, 201]).toContain(reply.status);
          retried.set(body.id, {
            status: reply.status === 201 ? "created" : "duplicate",
            event: reply.body as StoredEvent,
          });
        }
      }
    }
    expect(pending).toEqual([]);
    for (const id of unsettled) {
      const again = retried.get(id);
      expect(again).toBeDefined();
      const stored = before.get(id);
      // Stored before the retry: the retry must find it (200, as first stored), not store it again.
      if (stored) {
        expect(again?.status).toBe("duplicate");
        if (again?.event) expect(again.event).toEqual(stored);
      }
      acked.set(id, again?.event);
    }

    // Every id sent is now acknowledged, and stored exactly once, with its content.
    const all = await listAll(api, ws.keys.reader, "type=node.added");
    const byId = new Map<string, StoredEvent[]>();
    for (const e of all) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
    expect([...byId.keys()].sort()).toEqual([...contentOf.keys()].sort());
    expect([...acked.keys()].sort()).toEqual([...contentOf.keys()].sort());
    for (const [id, events] of byId) {
      expect(events).toHaveLength(1);
      const [stored] = events as [StoredEvent];
      const sent = contentOf.get(id) as ReturnType<typeof single>;
      expect(stored).toMatchObject({ ...sent, category: "node" });
      expect(hashHolds(stored)).toBe(true);
      // What a 2xx answered is what is stored, byte for byte.
      const answered = acked.get(id);
      if (answered) expect(stored).toEqual(answered);
    }
  });
});

/** ~15 KB of incompressible context (~11 KB gzipped), so a few hundred events make two 5 MiB parts. */
function heavyRecord(workspaceId: string, i: number): EventRecord {
  const input = serviceEventInputSchema.parse({
    type: "pcap.download",
    actor: { type: "user", id: `user-${i % 7}` },
    sourceIp: "203.0.113.42",
    context: { captureId: `c-${i}`, sha256: "b".repeat(64), blob: randomBytes(11_000).toString("base64") },
  });
  const id = `h-${String(i).padStart(4, "0")}`;
  return {
    workspaceId,
    event: buildEvent(input, id, iso(D, 6 * 3_600_000 + i * 1_000)),
    contentHash: contentHashOf(input),
    expiresAt: 2_000_000_000,
  };
}

/**
 * The archive the job would use (an S3 client as the service's, with a 1 s request timeout),
 * which pauses moto just before the first upload of part `partNumber` and resumes it as soon as
 * that call has failed: the upload is in flight during the whole stall. moto also serves KMS, SQS
 * and Secrets Manager, so the pause covers S3 calls only: nothing else is in flight meanwhile
 * (the checkpoint signing of the nightly run comes after its data file).
 */
function stallingArchive(partNumber: number) {
  const archive = new S3ArchiveStore(shortTimeoutS3(engines.env, S3_TIMEOUT_MS), engines.env.exportBucket);
  const stall: { ms?: number; error?: unknown; uploads: number[] } = { uploads: [] };
  let done = false;
  const wrapped: ArchiveStore = Object.assign(Object.create(archive) as ArchiveStore, {
    uploadPart: async (...args: Parameters<ArchiveStore["uploadPart"]>) => {
      stall.uploads.push(args[2]);
      if (done || args[2] !== partNumber) return archive.uploadPart(...args);
      done = true;
      engines.pause("moto");
      const pausedAt = performance.now();
      // Only a bound: the call's own timeouts end the stall long before.
      const bound = setTimeout(() => engines.resume("moto"), STALL_BOUND_MS);
      try {
        return await archive.uploadPart(...args);
      } catch (err: unknown) {
        stall.error = err;
        throw err;
      } finally {
        clearTimeout(bound);
        engines.resume("moto");
        stall.ms = performance.now() - pausedAt;
      }
    },
  });
  return { archive: wrapped, stall };
}

describe("S3 (moto) paused during uploads", () => {
  const N = 560; // ~8.4 MB as NDJSON, ~6.3 MB gzipped: two parts of 5 MiB either way
  const PART = 5 * 1024 * 1024;
  let ws: SeededWorkspace<"writer" | "reader">;
  const stored: StoredEvent[] = [];
  const s3 = () => localClients(engines.env).s3;
  const read = async (key: string) => {
    const out = await s3().send(new GetObjectCommand({ Bucket: engines.env.exportBucket, Key: key }));
    return Buffer.from(
      await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  };
  const versionsUnder = async (prefix: string) =>
    (
      (await s3().send(new ListObjectVersionsCommand({ Bucket: engines.env.exportBucket, Prefix: prefix })))
        .Versions ?? []
    )
      .map((v) => v.Key)
      .sort();

  beforeAll(async () => {
    ws = await seed("stall-s3", "enterprise", new Date(D.getTime() - 5 * DAY_MS));
    const records = Array.from({ length: N }, (_, i) => heavyRecord(ws.id, i));
    stored.push(...records.map((r) => r.event));
    await bulkLoad(localClients(engines.env).document, engines.env.eventsTable, records);
    clock.set(iso(D, DAY_MS + 900_000)); // 00:15 UTC the next day, when the nightly runs
  });

  it("an on-demand export whose part upload stalls is redelivered, resumes after its last part, and finishes with the right file", async () => {
    const created = await call<{ id: string }>(api, "POST", "/v1/exports", {
      key: ws.keys.reader,
      body: { format: "ndjson", type: "pcap.download" },
    });
    expect(created.status).toBe(202);
    const { archive, stall } = stallingArchive(2);
    const runs = await within(
      45_000,
      "the export",
      api.runQueuedExports({ archive, run: { partBytes: PART } }),
    );

    // The first delivery failed on the stalled part (storage unavailable), the second finished.
    expect(stall.ms).toBeGreaterThan(S3_TIMEOUT_MS);
    expect(stall.error).toBeInstanceOf(UnavailableError);
    expect((stall.error as UnavailableError).cause).toMatchObject({ name: "TimeoutError" });
    expect(runs.map((r) => [r.exportId, r.delivery, r.error === undefined])).toEqual([
      [created.body.id, 1, false],
      [created.body.id, 2, true],
    ]);
    // It resumed from its checkpoint: part 1 was not uploaded again.
    expect(stall.uploads).toEqual([1, 2, 2]);

    const view = await call<{
      status: string;
      eventCount: number;
      url: string;
      sha256: string;
      bytes: number;
    }>(api, "GET", `/v1/exports/${created.body.id}`, { key: ws.keys.reader });
    expect(view.body).toMatchObject({ status: "ready", eventCount: N });
    const file = Buffer.from(await (await fetch(view.body.url)).arrayBuffer());
    expect(createHash("sha256").update(file).digest("hex")).toBe(view.body.sha256);
    expect(file.length).toBe(view.body.bytes);
    const lines = file
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as StoredEvent);
    // Newest first, as the API pages; every stored event once, as stored.
    expect(lines.map((e) => e.id)).toEqual([...stored].reverse().map((e) => e.id));
    expect(lines).toEqual([...stored].reverse());
    expect(await versionsUnder(`on-demand/${ws.id}/`)).toHaveLength(1);
  });

  it("a nightly run whose upload stalls fails, and its rerun writes the day's file and a chained manifest", async () => {
    const { makeHandler } = await import("../../functions/nightly-export/handler.js");
    const plain = new S3ArchiveStore(shortTimeoutS3(engines.env, S3_TIMEOUT_MS), engines.env.exportBucket);
    const nightly = (archive: ArchiveStore, time: string) =>
      makeHandler(api.jobDeps, { archive, partBytes: PART, sleep: async () => {} })({ time });

    // The day before (empty for this workspace): the start of its chain.
    const dayBefore = await nightly(plain, iso(D, 900_000));
    expect(dayBefore.results.find((r) => r.workspaceId === ws.id)).toMatchObject({ eventCount: 0 });

    const { archive, stall } = stallingArchive(2);
    const time = iso(D, DAY_MS + 900_000);
    await expect(nightly(archive, time)).rejects.toThrow(`nightly export of ${ymd(D)} failed for: ${ws.id}`);
    expect(stall.ms).toBeGreaterThan(S3_TIMEOUT_MS);
    expect(stall.error).toBeInstanceOf(UnavailableError);
    expect((stall.error as UnavailableError).cause).toMatchObject({ name: "TimeoutError" });

    // EventBridge retries the run; the rerun writes the day from the start.
    const { results } = await nightly(archive, time);
    expect(stall.uploads).toEqual([1, 2, 1, 2]);
    const prefix = `exports/${ws.id}/${ymd(D).replaceAll("-", "/")}/`;
    expect(results.find((r) => r.workspaceId === ws.id)).toMatchObject({
      status: "created",
      eventCount: N,
      dataKey: `${prefix}events.ndjson.gz`,
    });

    const data = await read(`${prefix}events.ndjson.gz`);
    const manifest = JSON.parse((await read(`${prefix}manifest.json`)).toString()) as {
      eventCount: number;
      data: { sha256: string; bytes: number };
      eventHashes: { merkleRoot: string };
      previousManifestSha256: string | null;
      log: { range: { start: number; end: number }; checkpoint: string; proof: string[] };
    };
    const lines = gunzipSync(data)
      .toString()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as StoredEvent);
    // Oldest first; exactly the day's events, each once, as stored.
    expect(lines.map((e) => e.id)).toEqual(stored.map((e) => e.id));
    expect(lines).toEqual(stored);
    expect(manifest).toMatchObject({
      eventCount: N,
      data: { sha256: sha256Hex(data), bytes: data.length },
      eventHashes: { merkleRoot: merkleRoot(lines.map((e) => e.hash)) },
      previousManifestSha256: sha256Hex(
        await read(`exports/${ws.id}/${ymd(utcDay(-4)).replaceAll("-", "/")}/manifest.json`),
      ),
    });
    // The file is exactly leaves [start, end) of the signed tree.
    const { range, checkpoint, proof } = manifest.log;
    expect(range.end - range.start).toBe(N);
    const note = parseCheckpoint(splitNote(checkpoint).text);
    expect(note.origin).toBe(`${engines.env.logName}/${ws.id}`);
    const leaves = lines.map(({ hash: _hash, ...rest }, i) => ({
      index: range.start + i,
      hash: leafHash(Buffer.from(canonicalJson(rest))),
    }));
    const root = rootFromMultiProof(
      note.size,
      leaves,
      proof.map((h) => Buffer.from(h, "base64")),
    );
    expect(root.equals(note.root)).toBe(true);
    // Write-once: one version of each object, nothing left by the stalled run.
    expect(await versionsUnder(prefix)).toEqual([`${prefix}events.ndjson.gz`, `${prefix}manifest.json`]);
  });
});
