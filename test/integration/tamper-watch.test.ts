import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { newDocumentClient } from "../../functions/shared/adapters/clients.js";
import { shardOf } from "../../functions/shared/adapters/dynamodb-event-store.js";
import { FixedClock } from "../../functions/shared/clock.js";
import { loadConfig } from "../../functions/shared/config.js";
import { INTEGRITY_VIOLATION, violationEventId } from "../../functions/shared/core/tamper-watch.js";
import { type Deps, makeDeps } from "../../functions/shared/deps.js";
import { logger } from "../../functions/shared/logger.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import {
  CONTROL_TABLE,
  EVENTS_TABLE,
  Keys,
  LogStateAttr,
  OPERATOR_LOG,
  PK,
  SK,
  WRITE_SHARDS,
} from "../../functions/shared/table.js";
import { makeHandler } from "../../functions/tamper-watch/handler.js";
import { createTableInput, seedWorkspace } from "../../scripts/lib/bootstrap.js";
import { createLocalServer, type LambdaHandler, listen } from "../../scripts/lib/local-server.js";
import { type StreamHandler, type StreamWatch, startStreamWatch } from "../../scripts/lib/stream-watch.js";
import { call, engineEnv, uniqueWorkspace } from "./harness.js";

type Violation = StoredEvent & {
  context: {
    kind: string;
    workspace: string;
    detail: string;
    eventId?: string;
    recordedAt?: string;
    changed?: string[];
    removedBy?: string;
    sealedKey?: string;
  };
};

/**
 * The tamper watch end to end on the real engine: events go in through the API; an "attacker" with
 * table access then changes the table directly with the SDK; the local stream consumer reads
 * Dynoxide's own stream of the table and hands the records to the handler module, which must
 * record an `integrity.violation` naming the item in the operator's security log.
 *
 * This file has its own events and control tables (created as the local bootstrap creates them,
 * without a stream: the consumer enables one, as `npm start` relies on), so no other test file's
 * writes pass this watch and its violations land in its own operator log. The consumer's timer is
 * off: each test drives its poll directly. Dynoxide stamps stream records with its own clock, so
 * the injected clock is set to the real time just before each write through the API.
 */
describe("the tamper watch on Dynoxide's stream", () => {
  const env = engineEnv();
  const suffix = randomUUID().slice(0, 8);
  const eventsTable = `tamper-events-${suffix}`;
  const controlTable = `tamper-control-${suffix}`;
  const S = (s: string): AttributeValue => ({ S: s });
  const raw = new DynamoDBClient({
    endpoint: env.dynamoEndpoint,
    region: env.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const clock = new FixedClock(new Date());
  const dynamo = newDocumentClient(env.dynamoEndpoint);
  let deps: Deps;
  let server: Server;
  let baseUrl: string;
  let writer: string;
  let ws: string;
  let watch: StreamWatch;
  /** Every batch the consumer delivered, in order. */
  const batches: DynamoDBRecord[][] = [];
  let handler: StreamHandler;
  const errors = vi.spyOn(logger, "error");

  beforeAll(async () => {
    for (const [name, def] of [
      [eventsTable, EVENTS_TABLE],
      [controlTable, CONTROL_TABLE],
    ] as const) {
      await raw.send(new CreateTableCommand(createTableInput(name, def)));
      await waitUntilTableExists({ client: raw, maxWaitTime: 30 }, { TableName: name });
    }
    deps = makeDeps({
      config: { ...loadConfig(), EVENTS_TABLE: eventsTable, CONTROL_TABLE: controlTable },
      client: dynamo,
      clock,
      appendBackoff: async () => undefined,
    });
    handler = makeHandler(deps);
    const handlers = new Map<string, LambdaHandler>();
    server = createLocalServer(async (name) => {
      const mod = (await import(`../../functions/${name}/handler.ts`)) as {
        makeHandler: (d: Deps) => LambdaHandler;
      };
      const h = handlers.get(name) ?? mod.makeHandler(deps);
      handlers.set(name, h);
      return h;
    });
    baseUrl = await listen(server, 0);
    ws = uniqueWorkspace("tamper");
    const seeded = await seedWorkspace({ ...env, eventsTable, controlTable }, ws, {
      writer: ["events:write"],
    });
    writer = seeded.keys.writer;
    watch = await startStreamWatch({
      endpoint: env.dynamoEndpoint,
      region: env.region,
      tableName: eventsTable,
      handler: async () => async (event) => {
        batches.push(event.Records);
        return handler(event);
      },
      log: () => undefined,
      everyMs: 0,
    });
  });

  afterAll(async () => {
    watch?.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const name of [eventsTable, controlTable]) {
      await raw.send(new DeleteTableCommand({ TableName: name })).catch(() => undefined);
    }
    errors.mockRestore();
  });

  beforeEach(() => {
    errors.mockClear();
  });

  /** Posts one event through the API, stamped with the real time (see above) plus `offsetMs`. */
  async function post(id: string, offsetMs = 0): Promise<StoredEvent> {
    clock.set(new Date(Date.now() + offsetMs));
    const res = await call<StoredEvent>({ baseUrl }, "POST", "/v1/events", {
      key: writer,
      body: { id, type: "node.added", actor: { type: "user", id: "alice" }, node: { id: "fra-core-01" } },
    });
    expect(res.status).toBe(201);
    clock.set(new Date());
    return res.body;
  }

  const keyOf = (event: Pick<StoredEvent, "id" | "recordedAt">) => ({
    [PK]: S(Keys.eventPk(ws, shardOf(event.id))),
    [SK]: S(Keys.eventSk(event.recordedAt, event.id)),
  });

  /** Polls the consumer until a poll finds nothing new (the watch's own writes are stream records too). */
  async function drain(): Promise<number> {
    let total = 0;
    for (let i = 0; i < 10; i++) {
      const n = await watch.poll();
      total += n;
      if (n === 0) return total;
    }
    throw new Error("the stream did not run dry in 10 polls");
  }

  /** The integrity.violation events about this file's workspace in the operator's security log. */
  async function violations(): Promise<Violation[]> {
    const page = await deps.events.query({
      workspaceId: OPERATOR_LOG,
      limit: 1000,
      nowEpochSeconds: Math.floor(clock.now().getTime() / 1000),
      ascending: true,
    });
    return (page.events as Violation[]).filter(
      (e) => e.type === "integrity.violation" && e.context.workspace === ws,
    );
  }

  /** A mark in the security log: the violations recorded after it. */
  async function since(): Promise<() => Promise<Violation[]>> {
    const seen = new Set((await violations()).map((v) => v.id));
    return async () => (await violations()).filter((v) => !seen.has(v.id));
  }

  /** The delivered stream record of one change to one item. */
  const delivered = (eventName: string, sk: string) =>
    batches.flat().find((r) => r.eventName === eventName && r.dynamodb?.Keys?.[SK]?.S === sk);

  it("enables a full-image stream on a table created without one, and sees the API's writes as legitimate", async () => {
    // Prepare
    const table = await raw.send(new DescribeTableCommand({ TableName: eventsTable }));

    // Act
    const first = await post("node-1");
    await post("node-2");
    const seen = await drain();

    // Assess
    expect(table.Table?.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: "NEW_AND_OLD_IMAGES",
    });
    expect(table.Table?.LatestStreamArn).toBe(watch.streamArn);
    // Each event is two items (the id guard and the event).
    expect(seen).toBeGreaterThanOrEqual(4);
    const insert = delivered("INSERT", Keys.eventSk(first.recordedAt, first.id));
    expect(insert).toMatchObject({ eventSourceARN: watch.streamArn, eventSource: "aws:dynamodb" });
    expect(insert?.dynamodb?.NewImage?.id).toEqual({ S: "node-1" });
    expect(typeof insert?.dynamodb?.ApproximateCreationDateTime).toBe("number");
    expect(await violations()).toEqual([]);
    expect(errors).not.toHaveBeenCalledWith(INTEGRITY_VIOLATION, expect.anything());
  });

  it("records an UpdateItem on an event as item_modified, naming the event and the changed field, once", async () => {
    // Prepare
    const event = await post("edited-1");
    await drain();

    // Act: the attacker flips the outcome in place.
    await raw.send(
      new UpdateItemCommand({
        TableName: eventsTable,
        Key: keyOf(event),
        UpdateExpression: "SET #o = :o",
        ExpressionAttributeNames: { "#o": "outcome" },
        ExpressionAttributeValues: { ":o": S("failure") },
      }),
    );
    await drain();

    // Assess
    const found = await violations();
    expect(found).toHaveLength(1);
    const [v] = found as [Violation];
    const record = delivered("MODIFY", Keys.eventSk(event.recordedAt, event.id)) as DynamoDBRecord;
    expect(v).toMatchObject({
      id: `~${violationEventId(record)}`,
      actor: { type: "system", id: "tamper-watch" },
      resource: { type: "event", id: "edited-1" },
      context: {
        kind: "item_modified",
        workspace: ws,
        eventId: "edited-1",
        recordedAt: event.recordedAt,
        changed: ["outcome"],
      },
    });
    expect(v.context.detail).toContain(`event edited-1 (recordedAt ${event.recordedAt})`);
    expect(v.context.detail).toContain("outcome");
    expect(errors).toHaveBeenCalledWith(INTEGRITY_VIOLATION, {
      violation: expect.objectContaining({
        kind: "item_modified",
        workspace: ws,
        pk: Keys.eventPk(ws, shardOf("edited-1")),
        sk: Keys.eventSk(event.recordedAt, "edited-1"),
        eventId: "edited-1",
        streamEventId: record.eventID,
      }),
    });

    // Act again: Lambda redelivers the batch (a retry after a timeout, say).
    const again = await handler({ Records: [record] });

    // Assess: the same finding, replayed onto the same id, not recorded twice.
    expect(again).toEqual({ records: 1, violations: 1 });
    expect(await violations()).toHaveLength(1);
  });

  it("records a DeleteItem on an event as item_removed, naming the event, not by TTL", async () => {
    // Prepare
    const event = await post("deleted-1");
    await drain();
    const recorded = await since();

    // Act
    await raw.send(new DeleteItemCommand({ TableName: eventsTable, Key: keyOf(event) }));
    await drain();

    // Assess
    const found = await recorded();
    expect(found.map((v) => v.context)).toEqual([
      expect.objectContaining({
        kind: "item_removed",
        workspace: ws,
        eventId: "deleted-1",
        recordedAt: event.recordedAt,
        removedBy: "unnamed",
      }),
    ]);
    expect(found[0]?.context.detail).toContain(`event deleted-1 (recordedAt ${event.recordedAt})`);
    expect(found[0]?.context.detail).toContain("not by TTL");
  });

  it("records events put at or behind the sealed position as sealed_range_insert; events sealed after they landed pass", async () => {
    // Prepare: an event recorded five minutes ago, which the sealer has since sealed.
    await drain();
    const recorded = await since();
    const old = await post("sealed-old", -5 * 60_000);
    await drain();
    const sealedKey = Keys.eventSk(old.recordedAt, old.id);
    const seal = (lastKey: string) =>
      raw.send(
        new PutItemCommand({
          TableName: controlTable,
          Item: { [PK]: S(Keys.logPk(ws)), [SK]: S(Keys.logStateSk), [LogStateAttr.lastKey]: S(lastKey) },
        }),
      );
    await seal(sealedKey);
    const forge = (pk: string, id: string, recordedAt: string) =>
      raw.send(
        new PutItemCommand({
          TableName: eventsTable,
          Item: {
            [PK]: S(pk),
            [SK]: S(Keys.eventSk(recordedAt, id)),
            id: S(id),
            recordedAt: S(recordedAt),
            doc: S(JSON.stringify({ id, type: "node.removed", recordedAt })),
            hash: S("0".repeat(64)),
            expiresAt: { N: String(Math.floor(Date.now() / 1000) + 86_400) },
          },
        }),
      );

    // Act: the attacker adds an event ten minutes back, inside the sealed range, and one exactly at
    // the sealed position (the last sealed event's key, in another shard).
    const forgedAt = new Date(Date.parse(old.recordedAt) - 10 * 60_000).toISOString();
    await forge(Keys.eventPk(ws, shardOf("forged-1")), "forged-1", forgedAt);
    const otherShard = (shardOf(old.id) + 1) % WRITE_SHARDS;
    await forge(Keys.eventPk(ws, otherShard), old.id, old.recordedAt);
    await drain();
    // Then real events: one the sealer seals before the watch reads its insert (a watch running
    // behind), and one after the sealed position.
    const fresh = await post("sealed-fresh");
    await seal(Keys.eventSk(fresh.recordedAt, fresh.id));
    await post("after-seal-1");
    await drain();

    // Assess: recorded in the same millisecond, the log orders them by id; sort by the item named.
    const found = (await recorded()).sort((a, b) =>
      JSON.stringify(a.context.item).localeCompare(JSON.stringify(b.context.item)),
    );
    const expected = [
      { eventId: "forged-1", recordedAt: forgedAt, pk: Keys.eventPk(ws, shardOf("forged-1")) },
      { eventId: old.id, recordedAt: old.recordedAt, pk: Keys.eventPk(ws, otherShard) },
    ]
      .map((e) => ({ ...e, item: { pk: e.pk, sk: Keys.eventSk(e.recordedAt, e.eventId) } }))
      .sort((a, b) => JSON.stringify(a.item).localeCompare(JSON.stringify(b.item)));
    expect(found.map((v) => v.context)).toEqual(
      expected.map(({ eventId, recordedAt, item }) =>
        expect.objectContaining({
          kind: "sealed_range_insert",
          workspace: ws,
          eventId,
          recordedAt,
          sealedKey,
          item,
        }),
      ),
    );
    const forged = found.find((v) => v.context.eventId === "forged-1");
    expect(forged?.context.detail).toContain(`event forged-1 (recordedAt ${forgedAt})`);
    expect(forged?.resource).toEqual({ type: "event", id: "forged-1" });
  });

  it("goes back to a batch whose violation could not be recorded, and records it once", async () => {
    // Prepare: the first write of a violation fails, as a storage fault would make it (SDK
    // middleware: no engine can be told to fail one write of one item).
    const event = await post("retried-1");
    await drain();
    const recorded = await since();
    let faults = 1;
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        const items = (args.input as { TransactItems?: { Put?: { Item?: { pk?: string } } }[] })
          .TransactItems;
        if (faults > 0 && items?.[0]?.Put?.Item?.pk?.startsWith(`${OPERATOR_LOG}#id#~integrity.`)) {
          faults--;
          throw new Error("injected: the security log could not be written");
        }
        return next(args);
      },
      { step: "initialize", name: "failViolationWrite" },
    );
    try {
      await raw.send(
        new UpdateItemCommand({
          TableName: eventsTable,
          Key: keyOf(event),
          UpdateExpression: "SET #h = :h",
          ExpressionAttributeNames: { "#h": "hash" },
          ExpressionAttributeValues: { ":h": S("f".repeat(64)) },
        }),
      );

      // Act
      const failed = await watch.poll().then(
        () => undefined,
        (err: unknown) => err,
      );
      const afterFailure = await recorded();
      await drain();

      // Assess
      expect(failed).toBeInstanceOf(Error);
      expect(faults).toBe(0);
      expect(afterFailure).toEqual([]);
      const found = await recorded();
      expect(found.map((v) => [v.context.kind, v.context.eventId, v.context.changed])).toEqual([
        ["item_modified", "retried-1", ["hash"]],
      ]);
    } finally {
      dynamo.middlewareStack.remove("failViolationWrite");
    }
  });

  describe("TTL removals", () => {
    /**
     * AWS-shaped records, fed to the handler directly: Dynoxide never sweeps expired items, and its
     * REMOVE records carry no userIdentity at all, so the engine cannot produce a TTL removal. The
     * shape (userIdentity type Service, principalId dynamodb.amazonaws.com, OldImage, seconds in
     * ApproximateCreationDateTime) is AWS's documented TTL record; the item is a real one from the
     * table.
     */
    async function ttlRemoval(
      expiresAtOffsetSeconds: number,
      principalId = "dynamodb.amazonaws.com",
    ): Promise<DynamoDBRecord> {
      const event = await post(`ttl-${randomUUID().slice(0, 8)}`);
      const item = (await raw.send(new GetItemCommand({ TableName: eventsTable, Key: keyOf(event) }))).Item;
      const at = Math.floor(Date.now() / 1000);
      return {
        eventID: randomUUID().replaceAll("-", ""),
        eventName: "REMOVE",
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: env.region,
        eventSourceARN: watch.streamArn,
        userIdentity: { type: "Service", principalId },
        dynamodb: {
          ApproximateCreationDateTime: at,
          Keys: keyOf(event),
          OldImage: { ...item, expiresAt: { N: String(at + expiresAtOffsetSeconds) } },
          SequenceNumber: "900000000000000000001",
          SizeBytes: 512,
          StreamViewType: "NEW_AND_OLD_IMAGES",
        },
      } as DynamoDBRecord;
    }

    it("lets the TTL sweep remove an expired event", async () => {
      // Prepare
      const record = await ttlRemoval(-60);
      await drain();
      const recorded = await since();

      // Act
      const outcome = await handler({ Records: [record] });

      // Assess
      expect(outcome).toEqual({ records: 1, violations: 0 });
      expect(await recorded()).toEqual([]);
      expect(errors).not.toHaveBeenCalledWith(INTEGRITY_VIOLATION, expect.anything());
    });

    it("flags a TTL removal of an event whose expiresAt has not passed, and a REMOVE by another service", async () => {
      // Prepare
      const early = await ttlRemoval(3_600);
      const other = await ttlRemoval(-60, "lambda.amazonaws.com");
      await drain();
      const recorded = await since();

      // Act
      const outcome = await handler({ Records: [early, other] });

      // Assess
      expect(outcome).toEqual({ records: 2, violations: 2 });
      // Both are recorded in the same millisecond, so the log orders them by id: sort by who removed.
      const found = (await recorded()).sort((a, b) =>
        String(a.context.removedBy).localeCompare(String(b.context.removedBy)),
      );
      const idOf = (r: DynamoDBRecord) => r.dynamodb?.Keys?.[SK]?.S?.split("#")[1];
      expect(found.map((v) => [v.context.kind, v.context.eventId, v.context.removedBy])).toEqual([
        ["item_removed", idOf(early), "Service/dynamodb.amazonaws.com"],
        ["item_removed", idOf(other), "Service/lambda.amazonaws.com"],
      ]);
      expect(found[0]?.context.detail).toContain("by the TTL sweep");
      expect(found[0]?.context.detail).toContain("had not passed");
      expect(found[1]?.context.detail).toContain("not by TTL");
    });
  });
});
