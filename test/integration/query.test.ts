import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { call, isSeeded, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

type Ev = Record<string, unknown> & { id: string; recordedAt: string };

const ACTORS = ["alice@acme.example", "bob@acme.example", "deploy-bot"];
const NODES = ["nyc-edge-01", "fra-core-01", undefined];
const KINDS = [
  { type: "pcap.download", context: { captureId: "c1", sha256: "a".repeat(64) } },
  { type: "pcap.started", context: { captureId: "c2" } },
  { type: "node.added", context: {} },
  { type: "auth.login_failed", context: { reason: "bad password" } },
  { type: "config.threshold_changed", context: { name: "pps", from: 1, to: 2 } },
];
const IPS = ["203.0.113.42", "198.51.100.7"];

/** 90 events over 90 minutes, each attribute cycling at its own period so combinations vary. */
function dataset() {
  return Array.from({ length: 90 }, (_, i) => {
    const kind = KINDS[i % KINDS.length] as (typeof KINDS)[number];
    const node = NODES[i % NODES.length];
    return {
      id: `q-${String(i).padStart(3, "0")}`,
      type: kind.type,
      actor: { type: "user", id: ACTORS[i % ACTORS.length] as string },
      ...(node ? { node: { id: node } } : {}),
      sourceIp: IPS[i % IPS.length] as string,
      outcome: i % 4 === 0 ? "failure" : "success",
      context: kind.context,
    };
  });
}

describe("GET /v1/events filters", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let all: Ev[];

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-09T10:00:00.000Z" });
    ws = await workspace("filters");
    for (const event of dataset()) {
      api.clock.advance(60_000);
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: event })).status).toBe(201);
    }
    all = (await listAll(api, ws.keys.reader)) as Ev[];
  });
  afterAll(() => api.close());

  const expectQuery = async (query: string, predicate: (e: Ev) => boolean) => {
    const expected = all.filter(predicate).map((e) => e.id);
    expect(expected.length).toBeGreaterThan(0);
    const got = (await listAll(api, ws.keys.reader, query)).map((e) => e.id);
    expect(got).toEqual(expected);
  };

  it("lists everything newest first", () => {
    // The dataset, then the oldest: the workspace's keys' apikey.created events, from its creation.
    expect(all).toHaveLength(90 + 3);
    expect(all.slice(0, 90).map((e) => e.id)).toEqual(
      dataset()
        .map((e) => e.id)
        .reverse(),
    );
    expect(all.slice(90).every(isSeeded)).toBe(true);
    const times = all.map((e) => e.recordedAt);
    expect(times).toEqual([...times].sort().reverse());
  });

  it("filters by actor", () =>
    expectQuery("actor=bob%40acme.example", (e) => (e.actor as { id: string }).id === "bob@acme.example"));
  it("filters by exact type", () => expectQuery("type=node.added", (e) => e.type === "node.added"));
  it("filters by category prefix", () =>
    expectQuery("type=pcap.*", (e) => String(e.type).startsWith("pcap.")));
  it("filters by node", () =>
    expectQuery("node=fra-core-01", (e) => (e.node as { id: string } | undefined)?.id === "fra-core-01"));
  it("filters by outcome", () => expectQuery("outcome=failure", (e) => e.outcome === "failure"));
  it("filters by sourceIp", () => expectQuery("sourceIp=198.51.100.7", (e) => e.sourceIp === "198.51.100.7"));
  it("filters by since (inclusive) and until (exclusive)", () =>
    expectQuery(
      "since=2026-03-09T10:30:00.000Z&until=2026-03-09T11:00:00Z",
      (e) => e.recordedAt >= "2026-03-09T10:30:00.000Z" && e.recordedAt < "2026-03-09T11:00:00.000Z",
    ));

  it("combines three filters (node + category + outcome)", () =>
    expectQuery(
      "node=nyc-edge-01&type=pcap.*&outcome=success",
      (e) =>
        (e.node as { id: string } | undefined)?.id === "nyc-edge-01" &&
        String(e.type).startsWith("pcap.") &&
        e.outcome === "success",
    ));

  it("combines actor + type + time window", () =>
    expectQuery(
      "actor=alice%40acme.example&type=pcap.download&since=2026-03-09T10:10:00Z",
      (e) =>
        (e.actor as { id: string }).id === "alice@acme.example" &&
        e.type === "pcap.download" &&
        e.recordedAt >= "2026-03-09T10:10:00.000Z",
    ));

  it("rejects unknown parameters, unknown types and inverted windows with 400", async () => {
    for (const query of [
      "colour=red",
      "type=nope.*",
      "type=incident.exploded",
      "since=2026-03-09T11:00:00Z&until=2026-03-09T10:00:00Z",
      "limit=0",
      "limit=1001",
      "since=2026-03-09T10:00:00",
    ]) {
      const res = await call<{ status: number; errors: unknown[] }>(api, "GET", `/v1/events?${query}`, {
        key: ws.keys.reader,
      });
      expect(res.status, query).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.errors.length).toBeGreaterThan(0);
    }
  });
});

describe("paging", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const ids = Array.from({ length: 1000 }, (_, i) => `p-${String(i).padStart(4, "0")}`);

  beforeAll(async () => {
    // DynamoDB pages of 7 items force the store to follow LastEvaluatedKey, as its 1 MB limit would.
    api = await startApi({ now: "2026-03-09T10:00:00.000Z", queryPageSize: 7 });
    ws = await workspace("paging");
    for (let b = 0; b < 10; b++) {
      api.clock.advance(1_000);
      const events = ids.slice(b * 100, b * 100 + 100).map((id, i) => ({
        id,
        type: i % 3 === 0 ? "auth.login_failed" : "node.added",
        actor: { type: "user", id: "u" },
        sourceIp: "203.0.113.9",
        context: {},
      }));
      const res = await call<{ results: { status: string }[] }>(api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: { events },
      });
      expect(res.status).toBe(200);
      expect(res.body.results.every((r) => r.status === "created")).toBe(true);
    }
  });
  afterAll(() => api.close());

  const walk = async (query: string) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs = new URLSearchParams(query);
      qs.set("limit", "37");
      if (cursor) qs.set("cursor", cursor);
      const page: { status: number; body: { events: { id: string }[]; nextCursor: string | null } } =
        await call(api, "GET", `/v1/events?${qs}`, { key: ws.keys.reader });
      expect(page.status).toBe(200);
      if (page.body.nextCursor) expect(page.body.events).toHaveLength(37);
      seen.push(...page.body.events.map((e) => e.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    return { seen, pages };
  };

  it("returns each of 1,000 events exactly once with limit=37, despite short DynamoDB pages", async () => {
    // Only this walk reads the workspace unfiltered, so the audit.queried events it meets are the
    // ones its own earlier pages left (they sort among the last batch: same recordedAt).
    const walked = await walk("");
    const seen = walked.seen.filter((id) => id.startsWith("p-"));
    expect(walked.seen.length - seen.length).toBeLessThan(walked.pages);
    expect(new Set(seen).size).toBe(1000);
    // Newest first: later batches first; within a batch (same recordedAt), by id descending.
    expect(seen).toEqual([...ids].reverse());
  });

  it("keeps pages full when a filter drops most items", async () => {
    const { seen } = await walk("type=auth.login_failed&actor=u");
    const expected = ids.filter((_, i) => (i % 100) % 3 === 0).reverse();
    expect(seen).toEqual(expected);
  });

  it("refuses a cursor from another query, another workspace, or tampered", async () => {
    const first = await call<{ nextCursor: string }>(api, "GET", "/v1/events?limit=5", {
      key: ws.keys.reader,
    });
    const cursor = first.body.nextCursor;
    expect(cursor).toMatch(/^[\w-]+\.[\w-]+$/);

    const otherQuery = await call<{ errors: { path: string }[] }>(
      api,
      "GET",
      `/v1/events?limit=5&type=node.added&cursor=${cursor}`,
      {
        key: ws.keys.reader,
      },
    );
    expect(otherQuery.status).toBe(400);
    expect(otherQuery.body.errors[0]?.path).toBe("/cursor");

    const stranger = await workspace("paging-other");
    const otherWs = await call(api, "GET", `/v1/events?limit=5&cursor=${cursor}`, {
      key: stranger.keys.reader,
    });
    expect(otherWs.status).toBe(400);

    const [body, sig] = cursor.split(".") as [string, string];
    const forged = Buffer.from(JSON.parse(Buffer.from(body, "base64url").toString()).ws).toString(
      "base64url",
    );
    const tampered = await call(api, "GET", `/v1/events?limit=5&cursor=${forged}.${sig}`, {
      key: ws.keys.reader,
    });
    expect(tampered.status).toBe(400);
  });
});
