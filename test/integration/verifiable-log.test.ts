import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shardOf } from "../../functions/shared/adapters/dynamodb-event-store.js";
import { type LogDeps, leafDataOf, sealWorkspace } from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { SEAL_SETTLE_MS } from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { EventAttr, Keys, PK, SK } from "../../functions/shared/table.js";
import {
  CompactRange,
  leafHash,
  verifyConsistency,
  verifyInclusion,
} from "../../functions/shared/tlog/merkle.js";
import { openNote, parseCheckpoint, parseVerifierKey } from "../../functions/shared/tlog/note.js";
import { seedWorkspace } from "../../scripts/lib/bootstrap.js";
import { goTlogCheck } from "../support/go-tlog.js";
import {
  call,
  engineEnv,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  uniqueWorkspace,
  violationsAbout,
  workspace,
} from "./harness.js";

const T0 = "2026-11-30T10:00:00.000Z";

function events(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, "0")}`,
    type: "node.config_changed",
    actor: { type: "user", id: `op${i % 3}@acme.example` },
    node: { id: "nyc-edge-01" },
    context: { changes: [{ field: "threshold", from: i, to: i + 1 }] },
  }));
}

async function text(api: TestApi, path: string, key: string) {
  const res = await fetch(`${api.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

describe("the verifiable log: sealing, checkpoints, tiles and proofs", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let log: LogDeps;
  let verifierKey: string;
  // Only this file's workspace: runSealer would also walk every other test file's workspaces.
  const seal = async () => ({ outcomes: [await sealWorkspace(log, ws.id, api.clock.now())] });
  /** The workspace's first leaves: its keys' apikey.created events, at its creation. */
  const SEEDED = 3;
  /** The tree's events in order: the keys' creation (2026-11-01), then the test's batches. */
  const treeEvents = async () =>
    [
      ...(await listAll(api, ws.keys.reader, "type=apikey.created")).reverse(),
      ...(await listAll(api, ws.keys.reader, "type=node.config_changed")).reverse(),
    ] as StoredEvent[];

  beforeAll(async () => {
    api = await startApi({ now: T0 });
    log = logDeps(api.deps, api.dynamo);
    ws = await workspace("vlog", { now: new Date("2026-11-01T00:00:00Z") });
    // 600 events in batches a minute apart: more than two level-0 tiles, sealed over several runs.
    for (let b = 0; b < 6; b++) {
      const res = await call(api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: { events: events(100, `b${b}`) },
      });
      expect(res.status).toBe(200);
      api.clock.advance(60_000);
    }
  });
  afterAll(() => api.close());

  it("seals only what is older than the settle time, then everything, with checkpoints the pinned key opens", async () => {
    // The last batch was stamped a minute ago, the first six minutes ago: all but none settle.
    api.clock.advance(-60_000 + SEAL_SETTLE_MS - 1_000); // the last batch is 29 s old
    const first = await seal();
    const mine = first.outcomes.find((o) => o.workspaceId === ws.id);
    expect(mine).toMatchObject({ status: "sealed", size: SEEDED + 500, added: SEEDED + 500 });
    api.clock.advance(2_000); // now 31 s: within two minutes of its 2xx, the last batch is covered
    const second = await seal();
    expect(second.outcomes.find((o) => o.workspaceId === ws.id)).toMatchObject({
      status: "sealed",
      size: SEEDED + 600,
      added: 100,
    });

    const key = await call<{ verifierKey: string; origin: string }>(api, "GET", "/v1/log/key", {
      key: ws.keys.reader,
    });
    expect(key.status).toBe(200);
    verifierKey = key.body.verifierKey;
    expect(key.body.origin).toBe(`flowtriq.com/audit-log/test/${ws.id}`);
    const cp = await text(api, "/v1/log/checkpoint", ws.keys.reader);
    expect(cp.status).toBe(200);
    expect(cp.type).toMatch(/^text\/plain/);
    const opened = parseCheckpoint(openNote(cp.body.toString(), [parseVerifierKey(verifierKey)]).text);
    expect(opened).toMatchObject({ origin: key.body.origin, size: SEEDED + 600 });

    // The root is the RFC 6962 root over the events in recordedAt order, each leaf its canonical JSON.
    const listed = await treeEvents();
    expect(listed).toHaveLength(SEEDED + 600);
    const reference = CompactRange.empty();
    for (const e of listed) reference.append(leafHash(leafDataOf(e)));
    expect(opened.root.equals(reference.root())).toBe(true);
  });

  it("a proof for an event verifies here and in Go's sumdb/tlog, with tiles Go reads itself", async () => {
    const target = "b3-0042";
    const proof = await call<{
      index: number;
      treeSize: number;
      inclusion: string[];
      checkpoint: string;
      leafHash: string;
    }>(api, "GET", `/v1/events/${target}/proof`, { key: ws.keys.reader });
    expect(proof.status).toBe(200);
    expect(proof.body.index).toBe(SEEDED + 342);
    const event = (await call<StoredEvent>(api, "GET", `/v1/events/${target}`, { key: ws.keys.reader })).body;
    const cp = parseCheckpoint(openNote(proof.body.checkpoint, [parseVerifierKey(verifierKey)]).text);
    verifyInclusion(
      SEEDED + 342,
      cp.size,
      leafHash(leafDataOf(event)),
      proof.body.inclusion.map((h) => Buffer.from(h, "base64")),
      cp.root,
    );

    const older = await call<{ proof: string[] }>(api, "GET", `/v1/log/consistency?from=${SEEDED + 500}`, {
      key: ws.keys.reader,
    });
    expect(older.status).toBe(200);
    const go = await goTlogCheck({
      verifierKey,
      origin: cp.origin,
      checkpoint: proof.body.checkpoint,
      tileBaseUrl: `${api.baseUrl}/v1/log/`,
      authorization: `Bearer ${ws.keys.reader}`,
      inclusion: [
        { index: SEEDED + 342, leafData: leafDataOf(event).toString("base64"), proof: proof.body.inclusion },
      ],
      consistency: [{ oldSize: SEEDED + 500, oldRoot: await rootAt(SEEDED + 500), proof: older.body.proof }],
    });
    expect(go.errors).toEqual([]);
    expect(go).toMatchObject({ ok: true, size: SEEDED + 600 });
  });

  /** The root of the first `size` events, from the events themselves. */
  async function rootAt(size: number): Promise<string> {
    const listed = await treeEvents();
    const r = CompactRange.empty();
    for (const e of listed.slice(0, size)) r.append(leafHash(leafDataOf(e)));
    return r.root().toString("base64");
  }

  it("tiles are served as C2SP paths, 404 beyond the tree, and reads of the log are audited", async () => {
    const full = await text(api, "/v1/log/tile/0/000", ws.keys.reader);
    expect(full.status).toBe(200);
    expect(full.body).toHaveLength(256 * 32);
    const partial = await text(api, `/v1/log/tile/0/002.p/${SEEDED + 88}`, ws.keys.reader);
    expect(partial.status).toBe(200);
    expect(partial.body).toHaveLength((SEEDED + 88) * 32);
    expect((await text(api, "/v1/log/tile/0/003", ws.keys.reader)).status).toBe(404);
    expect((await text(api, "/v1/log/tile/0/1", ws.keys.reader)).status).toBe(404);
    expect((await text(api, "/v1/log/tile/0/000", ws.keys.writer)).status).toBe(403);
    const audit = await listAll(api, ws.keys.reader, "type=audit.queried");
    const routes = audit.map((e) => (e.context as { route: string }).route);
    expect(routes).toEqual(
      expect.arrayContaining(["log-tile", "log-checkpoint", "log-key", "event-proof", "log-consistency"]),
    );
  });

  it("an idle log gets a heartbeat checkpoint within the hour; a log with no events gets none", async () => {
    const before = parseCheckpoint(
      `${(await text(api, "/v1/log/checkpoint", ws.keys.reader)).body.toString().split("\n\n")[0]}\n`,
    );
    // the reads above were audited: seal them first, then stay idle
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await seal();
    const sealed = await log.log.getState(ws.id);
    api.clock.advance(10 * 60_000);
    expect((await seal()).outcomes.find((o) => o.workspaceId === ws.id)).toMatchObject({ status: "idle" });
    api.clock.advance(50 * 60_000);
    const beat = (await seal()).outcomes.find((o) => o.workspaceId === ws.id);
    expect(beat).toMatchObject({ status: "sealed", added: 0, size: sealed?.size });
    expect(before.size).toBe(SEEDED + 600);
    // A workspace created with no keys has nothing in its log.
    const empty = await seedWorkspace(engineEnv(), uniqueWorkspace("vlog-empty"), {});
    expect((await sealWorkspace(log, empty.id, api.clock.now())).status).toBe("empty");
  });

  it("an event edited in the table after sealing is refused a proof, and reported in the operator log by id", async () => {
    const target = "b1-0007";
    const guard = (
      await api.dynamo.send(
        new GetCommand({
          TableName: engineEnv().eventsTable,
          Key: { [PK]: Keys.guardPk(ws.id, target), [SK]: Keys.guardSk },
        }),
      )
    ).Item;
    const key = { [PK]: Keys.eventPk(ws.id, shardOf(target)), [SK]: String(guard?.eventSk) };
    const item = (await api.dynamo.send(new GetCommand({ TableName: engineEnv().eventsTable, Key: key })))
      .Item as Record<string, unknown>;
    const doc = JSON.parse(String(item[EventAttr.doc]));
    doc.actor.id = "someone-else@acme.example";
    // As an operator with table access would: bypassing the service's write path.
    await api.dynamo.send(
      new UpdateCommand({
        TableName: engineEnv().eventsTable,
        Key: key,
        UpdateExpression: "SET #d = :d",
        ExpressionAttributeNames: { "#d": EventAttr.doc },
        ExpressionAttributeValues: { ":d": JSON.stringify(doc) },
      }),
    );
    const refused = await call(api, "GET", `/v1/events/${target}/proof`, { key: ws.keys.reader });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ detail: expect.stringContaining(target) });
    const found = (await violationsAbout(api.deps, ws.id)).find((c) => c.detail.includes(target));
    expect(found).toMatchObject({ kind: "item_modified", workspace: ws.id });
  });

  it("after TTL removes events, their old proof and tiles still verify against the old checkpoint", async () => {
    const target = "b0-0003";
    const proof = await call<{ index: number; inclusion: string[]; checkpoint: string }>(
      api,
      "GET",
      `/v1/events/${target}/proof`,
      { key: ws.keys.reader },
    );
    expect(proof.status).toBe(200);
    const event = (await call<StoredEvent>(api, "GET", `/v1/events/${target}`, { key: ws.keys.reader })).body;
    const guard = (
      await api.dynamo.send(
        new GetCommand({
          TableName: engineEnv().eventsTable,
          Key: { [PK]: Keys.guardPk(ws.id, target), [SK]: Keys.guardSk },
        }),
      )
    ).Item;
    // What the TTL sweep does once retention ends (the engine does not sweep; see docs/storage.md).
    await api.dynamo.send(
      new DeleteCommand({
        TableName: engineEnv().eventsTable,
        Key: { [PK]: Keys.eventPk(ws.id, shardOf(target)), [SK]: String(guard?.eventSk) },
      }),
    );
    await api.dynamo.send(
      new DeleteCommand({
        TableName: engineEnv().eventsTable,
        Key: { [PK]: Keys.guardPk(ws.id, target), [SK]: Keys.guardSk },
      }),
    );
    expect((await call(api, "GET", `/v1/events/${target}`, { key: ws.keys.reader })).status).toBe(404);
    // A neighbour in the same tile still gets a proof that verifies: the tiles do not need the removed event.
    const neighbour = await call<{
      index: number;
      inclusion: string[];
      checkpoint: string;
      leafHash: string;
    }>(api, "GET", "/v1/events/b0-0004/proof", { key: ws.keys.reader });
    expect(neighbour.status).toBe(200);
    const latest = parseCheckpoint(openNote(neighbour.body.checkpoint, [parseVerifierKey(verifierKey)]).text);
    verifyInclusion(
      neighbour.body.index,
      latest.size,
      Buffer.from(neighbour.body.leafHash, "base64"),
      neighbour.body.inclusion.map((h) => Buffer.from(h, "base64")),
      latest.root,
    );
    const cp = parseCheckpoint(openNote(proof.body.checkpoint, [parseVerifierKey(verifierKey)]).text);
    verifyInclusion(
      proof.body.index,
      cp.size,
      leafHash(leafDataOf(event)),
      proof.body.inclusion.map((h) => Buffer.from(h, "base64")),
      cp.root,
    );
    // and the tree goes on: a later checkpoint is consistent with the old one
    await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: { events: events(3, "late") } });
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await seal();
    const now = (await log.log.getState(ws.id)) as NonNullable<Awaited<ReturnType<typeof log.log.getState>>>;
    const c = await call<{ proof: string[] }>(api, "GET", `/v1/log/consistency?from=${cp.size}`, {
      key: ws.keys.reader,
    });
    expect(c.status).toBe(200);
    verifyConsistency(
      cp.size,
      now.size,
      c.body.proof.map((h) => Buffer.from(h, "base64")),
      cp.root,
      now.root,
    );
    expect(now.size).toBeGreaterThan(cp.size);
  });

  it("another workspace's key reaches none of this log: no proof, no checkpoint, no tile", async () => {
    const other = await workspace("vlog-other");
    expect((await call(api, "GET", "/v1/events/b3-0042/proof", { key: other.keys.reader })).status).toBe(404);
    // Its own log: none yet (no events), whatever this workspace has.
    expect((await text(api, "/v1/log/checkpoint", other.keys.reader)).status).toBe(404);
    expect((await text(api, "/v1/log/tile/0/000", other.keys.reader)).status).toBe(404);
    expect((await call(api, "GET", "/v1/log/consistency?from=1", { key: other.keys.reader })).status).toBe(
      404,
    );
  });

  it("answers 400 for a bad consistency request and 404 for an unknown event's proof", async () => {
    for (const q of ["from=x", "from=5&to=4", "from=1&to=99999999", "", "from=-1"]) {
      const res = await call(api, "GET", `/v1/log/consistency?${q}`, { key: ws.keys.reader });
      expect(res.status, q).toBe(400);
    }
    expect((await call(api, "GET", "/v1/events/nope-123/proof", { key: ws.keys.reader })).status).toBe(404);
  });

  it("a forged event put into the sealed range is never silently appended: the tree does not change", async () => {
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await seal(); // the reads audited so far, sealed
    const state = await log.log.getState(ws.id);
    const forged = { ...events(1, "forged")[0], recordedAt: "2026-11-30T10:00:30.000Z" };
    await api.dynamo.send(
      new PutCommand({
        TableName: engineEnv().eventsTable,
        Item: {
          [PK]: Keys.eventPk(ws.id, shardOf("forged-0000")),
          [SK]: Keys.eventSk(forged.recordedAt, "forged-0000"),
          [EventAttr.doc]: JSON.stringify({ ...forged, id: "forged-0000", hash: "0".repeat(64) }),
          [EventAttr.expiresAt]: 4_000_000_000,
        },
      }),
    );
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await seal();
    const after = await log.log.getState(ws.id);
    expect(after?.size).toBe(state?.size);
    expect(after?.root.equals(state?.root as Buffer)).toBe(true);
  });
});
