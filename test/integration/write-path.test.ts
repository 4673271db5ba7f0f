import { randomUUID } from "node:crypto";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONFLICT_ATTEMPTS,
  eventItem,
  shardOf,
} from "../../functions/shared/adapters/dynamodb-event-store.js";
import { buildEvent, contentHashOf } from "../../functions/shared/core/events.js";
import { serviceEventInputSchema } from "../../functions/shared/schemas/event.js";
import { Keys } from "../../functions/shared/table.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import {
  call,
  engineEnv,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  workspace,
} from "./harness.js";

const incident = (id: string) => ({
  id,
  type: "incident.opened",
  actor: { type: "system", id: "system" },
  node: { id: "nyc-edge-01" },
  context: { incidentId: "a3f7c2b1", peak: { pps: 1000, bps: 8000 } },
});

type Mode = "before" | "after";

/**
 * Counts the DynamoDB requests a client sends on the request's path, and can make one of them
 * fail. The workspace's rate count (an UpdateItem sent beside the route's own work, whose failure
 * never decides the answer) is kept apart in `beside`, so indexes name the path's requests. This is SDK
 * middleware, not an imitation of DynamoDB: no engine can be told to die between two requests of
 * one write, or to apply a request and lose its answer. It sits in the `initialize` step, outside
 * the SDK's own retries, so the failure reaches the service as a request that ran out of retries:
 * `before` never reaches the engine; `after` is applied by the engine, then the answer is lost.
 */
function instrument(client: DynamoDBDocumentClient) {
  const sent: string[] = [];
  const beside: string[] = [];
  let fault: { at: number; mode: Mode } | undefined;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "UpdateItemCommand") {
        beside.push(String(context.commandName));
        return next(args);
      }
      const index = sent.push(String(context.commandName)) - 1;
      const failHere = fault?.at === index;
      const lost = () =>
        Object.assign(new Error(`injected: request ${index} (${context.commandName}) got no answer`), {
          name: "TimeoutError",
        });
      if (failHere && fault?.mode === "before") throw lost();
      const out = await next(args);
      if (failHere && fault?.mode === "after") throw lost();
      return out;
    },
    { step: "initialize", name: "countAndFail" },
  );
  return {
    /** Starts counting afresh; with `at`, the `at`-th request from now fails. */
    reset(at?: number, mode: Mode = "before") {
      sent.length = 0;
      beside.length = 0;
      fault = at === undefined ? undefined : { at, mode };
    },
    sent,
    beside,
  };
}

describe("the write path, one request at a time", () => {
  let api: TestApi;
  let probe: ReturnType<typeof instrument>;
  const raw = () => localClients(engineEnv()).document;

  /** The guard and the event item, read straight from the engine. */
  async function itemsOf(ws: string, id: string, recordedAt: string) {
    const table = engineEnv().eventsTable;
    const get = (pk: string, sk: string) =>
      raw()
        .send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }))
        .then((o) => o.Item !== undefined);
    return {
      guard: await get(Keys.guardPk(ws, id), Keys.guardSk),
      event: await get(Keys.eventPk(ws, shardOf(id)), Keys.eventSk(recordedAt, id)),
    };
  }

  beforeAll(async () => {
    api = await startApi();
    probe = instrument(api.dynamo);
  });
  afterAll(() => api.close());

  it("makes one DynamoDB request for a single event once the key and workspace are cached", async () => {
    // Prepare: a first post reads the key and the workspace.
    const ws = await workspace("one-trip");
    probe.reset();
    expect(
      (await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("cold") })).status,
    ).toBe(201);
    expect(probe.sent).toEqual(["GetItemCommand", "GetItemCommand", "TransactWriteItemsCommand"]);

    // Act
    probe.reset();
    const warm = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("warm") });

    // Assess: the transaction is the one request (the first post of this second sent the rate count).
    expect(warm.status).toBe(201);
    expect(probe.sent).toEqual(["TransactWriteItemsCommand"]);
    expect(probe.beside).toEqual([]);

    // A second later the environment sends its count again: beside the transaction, not before it.
    api.clock.advance(1_000);
    probe.reset();
    const later = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("later") });
    expect(later.status).toBe(201);
    expect(probe.sent).toEqual(["TransactWriteItemsCommand"]);
    expect(probe.beside).toEqual(["UpdateItemCommand"]);
  });

  it("writes a batch of 100 in three transactions, sent together (49 events and the source check each)", async () => {
    const ws = await workspace("batch-trips");
    await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("warm-up") });
    probe.reset();
    const events = Array.from({ length: 100 }, (_, i) => incident(`b-${i}`));
    const res = await call<{ results: { status: string }[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events },
    });
    expect(res.status).toBe(200);
    expect(res.body.results.filter((r) => r.status === "created")).toHaveLength(100);
    expect(probe.sent).toEqual(Array(3).fill("TransactWriteItemsCommand"));
  });

  // Cold caches: the key's GetItem, the workspace's GetItem, then the transaction.
  const PATH = ["GetItemCommand", "GetItemCommand", "TransactWriteItemsCommand"];
  for (const [at, command] of PATH.entries()) {
    for (const mode of ["before", "after"] as const) {
      const applied = mode === "after" && command === "TransactWriteItemsCommand";
      it(`request ${at} (${command}) ${mode === "before" ? "never sent" : "applied, answer lost"}: 503, then the retry ${applied ? "returns the stored event" : "stores it once, at a fresh recordedAt"}`, async () => {
        // Prepare: a fresh workspace and key, so nothing of them is cached.
        const ws: TestWorkspace = await workspace(`fault-${at}-${mode}`);
        const id = `fault-${at}-${mode}`;
        const firstAt = api.clock.now().toISOString();
        probe.reset(at, mode);

        // Act
        const first = await call<{ status: number }>(api, "POST", "/v1/events", {
          key: ws.keys.writer,
          body: incident(id),
        });
        probe.reset();

        // Assess: no false 2xx, and the store holds the whole event or nothing.
        expect(probe.sent.length).toBe(0);
        expect(first.status).toBe(503);
        expect(first.headers.get("retry-after")).toMatch(/^\d+$/);
        expect(await itemsOf(ws.id, id, firstAt)).toEqual({ guard: applied, event: applied });

        // Act: the client retries a minute later, with the same id.
        api.clock.advance(60_000);
        const retry = await call<Record<string, unknown>>(api, "POST", "/v1/events", {
          key: ws.keys.writer,
          body: incident(id),
        });

        // Assess
        expect(retry.status).toBe(applied ? 200 : 201);
        expect(retry.body.recordedAt).toBe(applied ? firstAt : api.clock.now().toISOString());
        const stored = (await listAll(api, ws.keys.reader)).filter((e) => e.id === id);
        expect(stored).toEqual([retry.body]);
      });
    }
  }

  it("reports exactly what a batch stored when its second transaction fails, and a retry stores the rest once", async () => {
    // Prepare: warm caches, so the three requests are the batch's three transactions.
    const ws = await workspace("batch-fault");
    await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("warm-up") });
    const events = Array.from({ length: 100 }, (_, i) => incident(`half-${i}`));
    probe.reset(1, "before");

    // Act
    const first = await call<{ results: { id: string; status: string }[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events },
    });
    probe.reset();
    api.clock.advance(1_000);
    const retry = await call<{ results: { id: string; status: string }[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events },
    });

    // Assess: the two whole transactions that went through (49 + 2 events) stored and reported,
    // the failed one nothing.
    expect(first.status).toBe(503);
    const reported = first.body.results;
    expect(reported).toHaveLength(51);
    expect(new Set(reported.map((r) => r.status))).toEqual(new Set(["created"]));
    expect(retry.status).toBe(200);
    const duplicates = retry.body.results.filter((r) => r.status === "duplicate").map((r) => r.id);
    expect(duplicates.sort()).toEqual(reported.map((r) => r.id).sort());
    expect(retry.body.results.filter((r) => r.status === "created")).toHaveLength(49);
    const stored = (await listAll(api, ws.keys.reader)).filter((e) => String(e.id).startsWith("half-"));
    expect(stored).toHaveLength(100);
    expect(new Set(stored.map((e) => e.id)).size).toBe(100);
  });
});

describe("races and ids claimed by the earlier writer", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  beforeAll(async () => {
    api = await startApi();
    ws = await workspace("races");
  });
  afterAll(() => api.close());

  /**
   * SDK middleware that answers the next `times` transactions with a cancellation for
   * TransactionConflict on every item, as DynamoDB does when another transaction holds the keys.
   * Dynoxide (SQLite, one writer) never produces one, so it is injected; nothing reaches the engine.
   */
  function conflictNext(times: number) {
    let left = times;
    const name = `conflict-${randomUUID()}`;
    api.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && left > 0) {
          left--;
          const items = (args.input as { TransactItems: unknown[] }).TransactItems;
          throw new TransactionCanceledException({
            message: "Transaction cancelled, please refer cancellation reasons for specific reasons",
            $metadata: { httpStatusCode: 400 },
            CancellationReasons: items.map(() => ({ Code: "TransactionConflict" })),
          });
        }
        return next(args);
      },
      { step: "initialize", name },
    );
    return { left: () => left, remove: () => api.dynamo.middlewareStack.remove(name) };
  }

  it("retries a transaction that lost a race, and stores the event once", async () => {
    const conflicts = conflictNext(CONFLICT_ATTEMPTS - 1);
    try {
      const res = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("raced") });
      expect(res.status).toBe(201);
      expect(conflicts.left()).toBe(0);
    } finally {
      conflicts.remove();
    }
    expect((await listAll(api, ws.keys.reader)).filter((e) => e.id === "raced")).toHaveLength(1);
  });

  it("gives up with 503 and Retry-After after losing every race, storing nothing", async () => {
    const conflicts = conflictNext(CONFLICT_ATTEMPTS);
    let res: Awaited<ReturnType<typeof call>>;
    try {
      res = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: incident("always-raced") });
    } finally {
      conflicts.remove();
    }
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await call(api, "GET", "/v1/events/always-raced", { key: ws.keys.reader })).status).toBe(404);
  });

  /** A guard as the earlier two-put writer left it: no `atomic` mark, maybe no event. */
  async function legacyGuard(id: string, withEvent: boolean) {
    const body = incident(id);
    const input = serviceEventInputSchema.parse(body);
    const recordedAt = "2026-03-09T17:00:00.000Z";
    const event = buildEvent(input, id, recordedAt);
    const table = engineEnv().eventsTable;
    const doc = localClients(engineEnv()).document;
    const expiresAt = 2_000_000_000;
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: Keys.guardPk(ws.id, id),
          sk: Keys.guardSk,
          gsiEventId: id,
          eventPk: Keys.eventPk(ws.id, shardOf(id)),
          eventSk: Keys.eventSk(recordedAt, id),
          recordedAt,
          contentHash: contentHashOf(input),
          expiresAt,
        },
      }),
    );
    if (withEvent) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: eventItem({ workspaceId: ws.id, event, contentHash: contentHashOf(input), expiresAt }),
        }),
      );
    }
    return { body, event };
  }

  it("answers a replay of an old guard with its event as a duplicate", async () => {
    const { body, event } = await legacyGuard("legacy-whole", true);
    const single = await call<Record<string, unknown>>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body,
    });
    const batch = await call<{ results: unknown[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events: [body] },
    });
    expect(single.status).toBe(200);
    expect(single.body).toEqual(event);
    expect(batch.body.results).toEqual([{ id: "legacy-whole", status: "duplicate" }]);
  });

  it("never answers 2xx for an old guard whose event was never stored", async () => {
    // Prepare: the earlier writer died between its two puts.
    const { body } = await legacyGuard("legacy-orphan", false);

    // Act
    const single = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body });
    const batch = await call<{ results: unknown[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events: [body, incident("beside-orphan")] },
    });

    // Assess: refused as a conflict (its id cannot be completed without writing into the past).
    expect(single.status).toBe(409);
    expect(batch.status).toBe(409);
    expect(batch.body.results).toEqual([
      { id: "legacy-orphan", status: "conflict" },
      { id: "beside-orphan", status: "created" },
    ]);
    expect((await call(api, "GET", "/v1/events/legacy-orphan", { key: ws.keys.reader })).status).toBe(404);
  });
});

describe("cached keys: what another execution environment sees", () => {
  // Two environments of the same stage: `admin` changes keys, `writer` serves posts from its cache.
  let admin: TestApi;
  let writer: TestApi;
  const NOW = "2026-03-09T18:00:00.000Z";

  beforeAll(async () => {
    admin = await startApi({ now: NOW });
    writer = await startApi({ now: NOW });
  });
  afterAll(async () => {
    await admin.close();
    await writer.close();
  });

  it("refuses a revoked key within the 60 s cache bound, and serves it from the cache until then", async () => {
    // Prepare: the writer has the key cached.
    const ws = await workspace("revoke-bound");
    const keyId = /^alk_([0-9a-f]{16})_/.exec(ws.keys.writer)?.[1] as string;
    expect(
      (await call(writer, "POST", "/v1/events", { key: ws.keys.writer, body: incident("r0") })).status,
    ).toBe(201);

    // Act: revoked in the other environment.
    expect((await call(admin, "DELETE", `/v1/keys/${keyId}`, { key: ws.keys.admin })).status).toBe(200);
    writer.clock.advance(59_000);
    const cached = await call(writer, "POST", "/v1/events", { key: ws.keys.writer, body: incident("r1") });
    writer.clock.advance(1_001);
    const refused = await call(writer, "POST", "/v1/events", { key: ws.keys.writer, body: incident("r2") });

    // Assess
    expect(cached.status).toBe(201);
    expect(refused.status).toBe(401);
  });

  it("takes a new secret at once, and refuses the old one only once its grace period is over", async () => {
    // Prepare
    const ws = await workspace("rotate-bound");
    const keyId = /^alk_([0-9a-f]{16})_/.exec(ws.keys.writer)?.[1] as string;
    admin.clock.set(writer.clock.now());
    expect(
      (await call(writer, "POST", "/v1/events", { key: ws.keys.writer, body: incident("o0") })).status,
    ).toBe(201);

    // Act: rotated elsewhere with 120 s of grace.
    const rotated = await call<{ token: string }>(admin, "POST", `/v1/keys/${keyId}/rotate`, {
      key: ws.keys.admin,
      body: { graceSeconds: 120 },
    });
    const fresh = await call(writer, "POST", "/v1/events", { key: rotated.body.token, body: incident("n0") });
    writer.clock.advance(119_000);
    const oldInGrace = await call(writer, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: incident("o1"),
    });
    writer.clock.advance(2_000);
    const oldAfterGrace = await call(writer, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: incident("o2"),
    });

    // Assess
    expect(rotated.status).toBe(200);
    expect(fresh.status).toBe(201);
    expect(oldInGrace.status).toBe(201);
    expect(oldAfterGrace.status).toBe(401);
  });
});
