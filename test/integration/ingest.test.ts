import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, isSeeded, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

const event = (overrides: Record<string, unknown> = {}) => ({
  type: "incident.opened",
  actor: { type: "system", id: "system" },
  node: { id: "nyc-edge-01" },
  context: { incidentId: "a3f7c2b1", peak: { pps: 1000, bps: 8000 } },
  ...overrides,
});

describe("POST /v1/events idempotency", () => {
  let api: TestApi;
  let ws: TestWorkspace;

  beforeAll(async () => {
    api = await startApi();
    ws = await workspace("idem");
  });
  afterAll(() => api.close());

  it("stores one event and answers 201 with the stored form and a Location", async () => {
    const res = await call<Record<string, unknown>>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: event({ id: "one" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe("/v1/events/one");
    expect(res.body).toMatchObject({
      id: "one",
      category: "incident",
      recordedAt: "2026-03-09T18:00:00.000Z",
      outcome: "success",
    });
    expect(res.body.hash).toMatch(/^[a-f0-9]{64}$/);
  });

  it("makes a ULID when the id is absent", async () => {
    const res = await call<{ id: string }>(api, "POST", "/v1/events", { key: ws.keys.writer, body: event() });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("answers a same-content replay with 200 and the original, storing nothing new", async () => {
    const first = await call<Record<string, unknown>>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: event({ id: "replay" }),
    });
    api.clock.advance(60_000);
    const again = await call<Record<string, unknown>>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: event({ id: "replay" }),
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const stored = (await listAll(api, ws.keys.reader)).filter((e) => e.id === "replay");
    expect(stored).toHaveLength(1);
  });

  it("answers 409 when the id is reused for other content, and keeps the original", async () => {
    await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: event({ id: "taken" }) });
    const clash = await call<{ status: number; type: string }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: event({ id: "taken", outcome: "failure" }),
    });
    expect(clash.status).toBe(409);
    expect(clash.headers.get("content-type")).toBe("application/problem+json");
    const stored = await call<{ outcome: string }>(api, "GET", "/v1/events/taken", { key: ws.keys.reader });
    expect(stored.body.outcome).toBe("success");
  });

  it("leaves exactly one item after 20 concurrent identical posts", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(api, "POST", "/v1/events", { key: ws.keys.writer, body: event({ id: "race" }) }),
      ),
    );
    expect(statuses.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    expect(statuses.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(1);
    const stored = (await listAll(api, ws.keys.reader)).filter((e) => e.id === "race");
    expect(stored).toHaveLength(1);
  });

  it("never duplicates a retried batch, and reports created vs duplicate per item", async () => {
    const events = ["b1", "b2", "b3"].map((id) => event({ id }));
    const first = await call<{ results: unknown[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events },
    });
    expect(first.status).toBe(200);
    expect(first.body.results).toEqual(["b1", "b2", "b3"].map((id) => ({ id, status: "created" })));
    const retry = await call<{ results: unknown[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { events: [...events, event({ id: "b4" })] },
    });
    expect(retry.body.results).toEqual([
      { id: "b1", status: "duplicate" },
      { id: "b2", status: "duplicate" },
      { id: "b3", status: "duplicate" },
      { id: "b4", status: "created" },
    ]);
    const stored = (await listAll(api, ws.keys.reader)).filter((e) => String(e.id).startsWith("b"));
    expect(stored.map((e) => e.id).sort()).toEqual(["b1", "b2", "b3", "b4"]);
  });
});

describe("bad input changes nothing", () => {
  let api: TestApi;
  let ws: TestWorkspace;

  beforeAll(async () => {
    api = await startApi();
    ws = await workspace("bad");
  });
  afterAll(() => api.close());

  const cases: {
    name: string;
    status: number;
    body?: unknown;
    rawBody?: string;
    contentType?: string;
    path?: string;
  }[] = [
    { name: "malformed JSON", status: 400, rawBody: '{"type": "incident.opened",' },
    {
      name: "a non-JSON content type",
      status: 415,
      rawBody: "type=incident.opened",
      contentType: "text/plain",
    },
    { name: "an unknown type", status: 400, body: event({ type: "incident.exploded" }), path: "/type" },
    { name: "a missing actor", status: 400, body: event({ actor: undefined }), path: "/actor" },
    {
      name: "a context that breaks its schema",
      status: 400,
      body: event({ context: { peak: { pps: -1 } } }),
      path: "/context/incidentId",
    },
    { name: "a bad IP", status: 400, body: event({ sourceIp: "300.1.2.3" }), path: "/sourceIp" },
    {
      name: "a download without its IP",
      status: 400,
      body: {
        type: "pcap.download",
        actor: { type: "user", id: "a" },
        context: { captureId: "c", sha256: "a".repeat(64) },
      },
      path: "/sourceIp",
    },
    {
      name: "an occurredAt without an offset",
      status: 400,
      body: event({ occurredAt: "2026-03-09T17:00:00" }),
      path: "/occurredAt",
    },
    {
      name: "an occurredAt 10 min in the future",
      status: 400,
      body: event({ occurredAt: "2026-03-09T18:10:00Z" }),
      path: "/occurredAt",
    },
    {
      name: "an occurredAt 8 days back",
      status: 400,
      body: event({ occurredAt: "2026-03-01T17:00:00Z" }),
      path: "/occurredAt",
    },
    {
      name: "a body of 300 KB",
      status: 413,
      body: event({ context: { incidentId: "x", pad: "x".repeat(300 * 1024) } }),
    },
    {
      name: "a context over 16 KB",
      status: 400,
      body: event({ context: { incidentId: "x", pad: "x".repeat(17 * 1024) } }),
      path: "/context",
    },
    {
      name: "a context nested 7 deep",
      status: 400,
      body: event({ context: { incidentId: "x", a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } }),
      path: "/context",
    },
    {
      name: "a batch of 101",
      status: 400,
      body: { events: Array.from({ length: 101 }, (_, i) => event({ id: `big-${i}` })) },
      path: "/events",
    },
    { name: "an empty batch", status: 400, body: { events: [] }, path: "/events" },
    {
      name: "a batch with one bad item",
      status: 400,
      body: { events: [event({ id: "ok-1" }), event({ id: "ok-2", actor: { type: "robot", id: "r" } })] },
      path: "/events/1/actor/type",
    },
    {
      name: "a batch reusing an id for other content",
      status: 400,
      body: { events: [event({ id: "dup" }), event({ id: "dup", outcome: "failure" })] },
      path: "/events/1/id",
    },
    { name: "an unknown top-level field", status: 400, body: event({ severity: "high" }), path: "/severity" },
    {
      name: "a workspaceId in the body",
      status: 400,
      body: event({ workspaceId: "other" }),
      path: "/workspaceId",
    },
    { name: "a bad id", status: 400, body: event({ id: "has spaces" }), path: "/id" },
    { name: "a JSON array", status: 400, rawBody: "[]" },
  ];

  for (const c of cases) {
    it(`answers ${c.status} for ${c.name}`, async () => {
      const res = await call<{
        type: string;
        title: string;
        status: number;
        detail: string;
        errors?: { path: string; message: string }[];
      }>(api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: c.body,
        rawBody: c.rawBody,
        contentType: c.contentType,
      });
      expect(res.status).toBe(c.status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body).toMatchObject({
        status: c.status,
        type: expect.stringMatching(/^\/problems\//),
        title: expect.any(String),
      });
      expect(res.body.detail.length).toBeGreaterThan(0);
      if (c.path) expect(res.body.errors?.map((e) => e.path)).toContain(c.path);
    });
  }

  it("stored nothing for any of them", async () => {
    // (The workspace's keys' apikey.created events are all it holds.)
    expect((await listAll(api, ws.keys.reader)).filter((e) => !isSeeded(e))).toEqual([]);
  });

  it("says why a workspaceId is refused", async () => {
    const res = await call<{ errors: { path: string; message: string }[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: event({ workspaceId: "other" }),
    });
    expect(res.body.errors).toEqual([
      { path: "/workspaceId", message: "is not accepted: the workspace always comes from the API key" },
    ]);
  });
});
