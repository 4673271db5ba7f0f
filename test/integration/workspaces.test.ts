import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler as makeFlush } from "../../functions/flush-access-failures/handler.js";
import { FAILURE_THRESHOLD, OPERATOR_LOG } from "../../functions/shared/core/access.js";
import { RATE_WINDOW_MS } from "../../functions/shared/core/throttle.js";
import { createWorkspace } from "../../functions/shared/core/workspaces.js";
import { ROUTES } from "../../functions/shared/routes.js";
import { toolDeps } from "../../functions/shared/tool-deps.js";
import {
  call,
  callFrom,
  engineEnv,
  isSeeded,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  uniqueWorkspace,
  workspace,
} from "./harness.js";

type Ev = Record<string, unknown> & {
  type: string;
  actor: { type: string; id: string };
  sourceIp?: string;
  context: Record<string, unknown>;
};
const nodeAdded = (id: string) => ({ id, type: "node.added", actor: { type: "user", id: "alice" } });
const HOUR = 3_600_000;

describe("API key lifecycle", () => {
  let api: TestApi;
  let ws: TestWorkspace;

  beforeAll(async () => {
    api = await startApi();
    ws = await workspace("keys");
  });
  afterAll(() => api.close());

  it("creates, rotates with a grace period, and revokes a key, each step in the log", async () => {
    // Create: the token is shown once and works.
    const created = await callFrom<{ keyId: string; token: string; scopes: string[] }>(
      "127.0.0.2",
      api,
      "POST",
      "/v1/keys",
      {
        key: ws.keys.admin,
        body: { name: "ingest", scopes: ["events:write"] },
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(new RegExp(`^alk_${created.body.keyId}_`));
    expect(
      (await call(api, "POST", "/v1/events", { key: created.body.token, body: nodeAdded("k1") })).status,
    ).toBe(201);

    // List: metadata only.
    const listed = await call<{ keys: Record<string, unknown>[] }>(api, "GET", "/v1/keys", {
      key: ws.keys.admin,
    });
    const meta = listed.body.keys.find((k) => k.keyId === created.body.keyId);
    expect(meta).toEqual({
      keyId: created.body.keyId,
      name: "ingest",
      scopes: ["events:write"],
      createdAt: "2026-03-09T18:00:00.000Z",
    });
    expect(JSON.stringify(listed.body)).not.toMatch(/secretHash|alk_/);

    // Rotate: the old secret works for 24 h, then not; the new one works.
    const rotated = await callFrom<{ token: string; previousValidUntil: string }>(
      "127.0.0.2",
      api,
      "POST",
      `/v1/keys/${created.body.keyId}/rotate`,
      {
        key: ws.keys.admin,
      },
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.previousValidUntil).toBe("2026-03-10T18:00:00.000Z");
    api.clock.advance(24 * HOUR - 1_000);
    expect(
      (await call(api, "POST", "/v1/events", { key: created.body.token, body: nodeAdded("k2") })).status,
    ).toBe(201);
    expect(
      (await call(api, "POST", "/v1/events", { key: rotated.body.token, body: nodeAdded("k3") })).status,
    ).toBe(201);
    api.clock.advance(1_000);
    expect(
      (await call(api, "POST", "/v1/events", { key: created.body.token, body: nodeAdded("k4") })).status,
    ).toBe(401);
    expect(
      (await call(api, "POST", "/v1/events", { key: rotated.body.token, body: nodeAdded("k5") })).status,
    ).toBe(201);

    // Revoke: refused from the next request on.
    const revoked = await callFrom<{ revokedAt: string }>(
      "127.0.0.2",
      api,
      "DELETE",
      `/v1/keys/${created.body.keyId}`,
      { key: ws.keys.admin },
    );
    expect(revoked.status).toBe(200);
    expect(
      (await call(api, "POST", "/v1/events", { key: rotated.body.token, body: nodeAdded("k6") })).status,
    ).toBe(401);
    expect((await call(api, "DELETE", `/v1/keys/${created.body.keyId}`, { key: ws.keys.admin })).status).toBe(
      409,
    );

    // Assess: the three actions, with the acting key and the caller's IP.
    const log = (await listAll(api, ws.keys.reader, "type=apikey.*")).filter((e) => !isSeeded(e)) as Ev[];
    expect(log.map((e) => e.type)).toEqual(["apikey.revoked", "apikey.rotated", "apikey.created"]);
    const adminKeyId = ws.keys.admin.slice(4, 20);
    for (const e of log) {
      expect(e.actor).toEqual({ type: "api_key", id: adminKeyId });
      expect(e.sourceIp).toBe("127.0.0.2");
      expect(e.context.keyId).toBe(created.body.keyId);
      expect(e).toMatchObject({ userAgent: "harness/1.0" });
    }
  });

  it("refuses an admin route to a reader key with 403, and logs the denial", async () => {
    const res = await call(api, "POST", "/v1/keys", {
      key: ws.keys.reader,
      body: { name: "x", scopes: ["admin"] },
    });
    expect(res.status).toBe(403);
    const denied = (await listAll(api, ws.keys.reader, "type=access.denied")) as Ev[];
    expect(denied[0]).toMatchObject({
      actor: { type: "api_key", id: ws.keys.reader.slice(4, 20) },
      outcome: "failure",
      context: { reason: "missing_scope", method: "POST", path: "/v1/keys", requiredScope: "admin" },
    });
  });
});

describe("cross-workspace attempts", () => {
  it("answers 404 to other, and shows demo the attempt with other's key id and IP", async () => {
    const api = await startApi();
    try {
      const demo = await workspace("xdemo");
      const other = await workspace("xother");
      expect(
        (await call(api, "POST", "/v1/events", { key: demo.keys.writer, body: nodeAdded("demo-secret") }))
          .status,
      ).toBe(201);

      const res = await callFrom("127.0.0.7", api, "GET", "/v1/events/demo-secret", {
        key: other.keys.reader,
      });

      expect(res.status).toBe(404);
      // Who holds the id is found off the request path, by the flush, once the minute has ended.
      expect(await listAll(api, demo.keys.reader, "type=access.denied")).toEqual([]);
      api.clock.advance(60_000);
      await makeFlush(api.deps)();
      const seen = (await listAll(api, demo.keys.reader, "type=access.denied")) as Ev[];
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        actor: { type: "api_key", id: other.keys.reader.slice(4, 20) },
        sourceIp: "127.0.0.7",
        context: {
          reason: "cross_workspace",
          method: "GET",
          path: "/v1/events/demo-secret",
          resource: { type: "event", id: "demo-secret" },
        },
      });
      expect(await listAll(api, other.keys.reader, "type=access.denied")).toEqual([]);
    } finally {
      await api.close();
    }
  });
});

describe("failed authentication", () => {
  let api: TestApi;
  let demo: TestWorkspace;

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-09T18:00:05.000Z" });
    demo = await workspace("flood");
  });
  afterAll(() => api.close());

  it("turns 500 bad keys from one IP into a handful of counted events, 429s past the threshold, while another IP works", async () => {
    const knownId = demo.keys.reader.slice(4, 20);
    const statuses: number[] = [];
    for (let i = 0; i < 500; i++) {
      const key =
        i % 5 === 0
          ? `alk_${knownId}_${"W".repeat(43)}`
          : i % 5 === 1
            ? undefined
            : `alk_${i.toString(16).padStart(16, "0")}_${"X".repeat(43)}`;
      const res = await callFrom<{ status: number }>("127.0.0.3", api, "GET", "/v1/events", { key });
      statuses.push(res.status);
      if (i === 250) {
        const fine = await callFrom("127.0.0.4", api, "GET", "/v1/events?type=node.added", {
          key: demo.keys.reader,
        });
        expect(fine.status).toBe(200);
      }
    }
    // The source's failures decide, whatever key ids they named: the first ten 401, the rest 429.
    expect(statuses.filter((s) => s === 401).length).toBe(FAILURE_THRESHOLD);
    expect(statuses.filter((s) => s === 429).length).toBe(500 - FAILURE_THRESHOLD);
    const limited = await callFrom("127.0.0.3", api, "GET", "/v1/events", { key: undefined });
    expect(limited.status).toBe(429);
    // Past the threshold an existing key id and an unknown one answer alike: no existence oracle.
    const existing = await callFrom("127.0.0.3", api, "GET", "/v1/events", {
      key: `alk_${knownId}_${"Q".repeat(43)}`,
    });
    const unknown = await callFrom("127.0.0.3", api, "GET", "/v1/events", {
      key: `alk_${"f".repeat(16)}_${"Q".repeat(43)}`,
    });
    expect([existing.status, unknown.status]).toEqual([429, 429]);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);

    // The window ends; the flush job writes one event per (target, IP, window).
    api.clock.advance(60_000);
    // (Other test files may leave windows of their own; the flush takes every ended one.)
    expect((await makeFlush(api.deps)()).flushed).toBeGreaterThanOrEqual(2);
    await makeFlush(api.deps)(); // a second run must not write anything twice

    const inDemo = (await listAll(api, demo.keys.reader, "type=access.denied")) as Ev[];
    const operator = await api.deps.events.query({
      workspaceId: OPERATOR_LOG,
      limit: 100,
      nowEpochSeconds: api.clock.now().getTime() / 1000,
    });
    const mine = [...inDemo, ...(operator.events as Ev[])].filter((e) => e.sourceIp === "127.0.0.3");
    expect(mine.length).toBeLessThanOrEqual(3);
    expect(mine.reduce((sum, e) => sum + Number(e.context.count), 0)).toBe(503);
    expect(inDemo[0]).toMatchObject({
      outcome: "failure",
      userAgent: "harness/1.0",
      context: { reason: "wrong_secret", count: 101, method: "GET", path: "/v1/events" },
    });
  });
});

describe("the failed-authentication limit", () => {
  it("throttles a source, not a target: an existing key id answers like an unknown one (issue 11, item 4)", async () => {
    // Prepare: a fresh source fails past the threshold with unknown key ids only (the operator log's target).
    const api = await startApi({ now: "2026-03-12T09:00:05.000Z" });
    try {
      const ws = await workspace("limit");
      for (let i = 0; i <= FAILURE_THRESHOLD; i++) {
        await callFrom("127.0.0.41", api, "GET", "/v1/events", {
          key: `alk_${i.toString(16).padStart(16, "e")}_${"X".repeat(43)}`,
        });
      }

      // Act: then a real key id of a workspace, with a wrong secret.
      const existing = await callFrom("127.0.0.41", api, "GET", "/v1/events", {
        key: `alk_${ws.keys.reader.slice(4, 20)}_${"W".repeat(43)}`,
      });

      // Assess: throttled like any other attempt from that source (it used to answer 401).
      expect(existing.status).toBe(429);
      expect(Number(existing.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await api.close();
    }
  });
});

describe("a throttled source (issue 11, item 4)", () => {
  it("is refused on every authenticated route, even with valid keys, until its window ends; nothing it sends is stored or changed", async () => {
    // Prepare: a workspace with one event, and a source that failed past the threshold.
    const api = await startApi({ now: "2026-03-12T10:00:05.000Z" });
    try {
      const ws = await workspace("throttled", { plan: "enterprise" });
      const other = "127.0.0.44";
      const bad = "127.0.0.43";
      const seeded = await callFrom<{ id: string }>(other, api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: nodeAdded("before"),
      });
      expect(seeded.status).toBe(201);
      for (let i = 0; i <= FAILURE_THRESHOLD; i++) {
        await callFrom(bad, api, "GET", "/v1/events", { key: `alk_${"0".repeat(16)}_${"X".repeat(43)}` });
      }
      const writerKeyId = ws.keys.writer.slice(4, 20);
      const batch = Array.from({ length: 60 }, (_, i) => nodeAdded(`batch-${i}`));
      const requests: Record<string, { method: string; path: string; key: string; body?: unknown }[]> = {
        "post-events": [
          { method: "POST", path: "/v1/events", key: ws.keys.writer, body: nodeAdded("single") },
          // Two transactions' worth: each carries the check.
          { method: "POST", path: "/v1/events", key: ws.keys.writer, body: { events: batch } },
        ],
        "list-events": [{ method: "GET", path: "/v1/events", key: ws.keys.reader }],
        "get-event": [{ method: "GET", path: "/v1/events/before", key: ws.keys.reader }],
        "get-event-proof": [{ method: "GET", path: "/v1/events/before/proof", key: ws.keys.reader }],
        "get-log-checkpoint": [{ method: "GET", path: "/v1/log/checkpoint", key: ws.keys.reader }],
        "get-log-key": [{ method: "GET", path: "/v1/log/key", key: ws.keys.reader }],
        "get-log-tile": [{ method: "GET", path: "/v1/log/tile/0/000.p/1", key: ws.keys.reader }],
        "get-log-consistency": [
          { method: "GET", path: "/v1/log/consistency?from=1&to=2", key: ws.keys.reader },
        ],
        "create-key": [
          {
            method: "POST",
            path: "/v1/keys",
            key: ws.keys.admin,
            body: { name: "x", scopes: ["events:read"] },
          },
        ],
        "create-viewer-session": [{ method: "POST", path: "/v1/viewer-sessions", key: ws.keys.admin }],
        "list-keys": [{ method: "GET", path: "/v1/keys", key: ws.keys.admin }],
        "rotate-key": [{ method: "POST", path: `/v1/keys/${writerKeyId}/rotate`, key: ws.keys.admin }],
        "revoke-key": [{ method: "DELETE", path: `/v1/keys/${writerKeyId}`, key: ws.keys.admin }],
        "get-settings": [{ method: "GET", path: "/v1/settings", key: ws.keys.admin }],
        "put-settings": [
          { method: "PUT", path: "/v1/settings", key: ws.keys.admin, body: { retentionDays: 200 } },
        ],
        "list-nightly-exports": [
          { method: "GET", path: "/v1/exports/nightly?from=2026-03-01&to=2026-03-02", key: ws.keys.reader },
        ],
        "create-export": [
          { method: "POST", path: "/v1/exports", key: ws.keys.reader, body: { format: "json" } },
        ],
        "get-export": [
          { method: "GET", path: "/v1/exports/01JABCDEFGHJKMNPQRSTVWXYZ0", key: ws.keys.reader },
        ],
      };
      // Every authenticated route is here, so a new one cannot skip the check unnoticed.
      expect(Object.keys(requests).sort()).toEqual(
        ROUTES.filter((r) => r.scope !== null)
          .map((r) => r.handler)
          .sort(),
      );

      // Act: each request, with a key that holds the route's scope, from the throttled source.
      const answers = [];
      for (const [handler, list] of Object.entries(requests)) {
        for (const r of list) {
          const res = await callFrom<{ title?: string }>(bad, api, r.method, r.path, {
            key: r.key,
            body: r.body,
          });
          answers.push({
            handler,
            status: res.status,
            retryAfter: Number(res.headers.get("retry-after")),
            res,
          });
        }
      }

      // Assess: 429 everywhere, with the rest of the window as Retry-After.
      expect(answers.map((a) => [a.handler, a.status])).toEqual(answers.map((a) => [a.handler, 429]));
      for (const a of answers) {
        expect(a.retryAfter).toBeGreaterThan(0);
        expect(a.retryAfter).toBeLessThanOrEqual(55);
        expect(a.res.headers.get("content-type")).toContain("application/problem+json");
      }
      // Nothing was stored or changed: no event, no key, the same settings, the writer key still works.
      const stored = (await listAll(api, ws.keys.reader, "type=node.added")) as Ev[];
      expect(stored.map((e) => e.id)).toEqual(["before"]);
      const keys = await callFrom<{ keys: { keyId: string; revokedAt?: string; rotatedAt?: string }[] }>(
        other,
        api,
        "GET",
        "/v1/keys",
        { key: ws.keys.admin },
      );
      expect(keys.body.keys).toHaveLength(3);
      expect(keys.body.keys.find((k) => k.keyId === writerKeyId)).not.toHaveProperty("revokedAt");
      expect(keys.body.keys.find((k) => k.keyId === writerKeyId)).not.toHaveProperty("rotatedAt");
      const settings = await callFrom(other, api, "GET", "/v1/settings", { key: ws.keys.admin });
      expect(settings.body).toMatchObject({ retentionDays: 365 });
      expect(await api.runQueuedExports()).toEqual([]);

      // Another source with the same keys is served meanwhile.
      expect(
        (
          await callFrom(other, api, "POST", "/v1/events", {
            key: ws.keys.writer,
            body: nodeAdded("other-ip"),
          })
        ).status,
      ).toBe(201);

      // When the window ends, the source is served again.
      api.clock.advance(60_000);
      expect(
        (await callFrom(bad, api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("later") }))
          .status,
      ).toBe(201);
    } finally {
      await api.close();
    }
  });
});

describe("the per-workspace request rate (issue 11, item 4)", () => {
  it("answers 429 once a workspace is over its rate, while other workspaces are served, until the window ends", async () => {
    // Prepare: 1 request a second, so 10 a window; requests 100 ms apart.
    const api = await startApi({ now: "2026-03-12T11:00:00.000Z", workspaceRateLimit: 1 });
    try {
      const busy = await workspace("busy");
      const quiet = await workspace("quiet");
      const step = 100;

      // Act: an environment sends its count at most once a second: at 0 s (1), then at 1.0 s the
      // ten requests since (11, over 10): that request is still served, the next one is not.
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        statuses.push((await call(api, "GET", "/v1/events", { key: busy.keys.reader })).status);
        if (i < 11) api.clock.advance(step);
      }
      const refused = await call<{ title: string; detail: string }>(api, "POST", "/v1/events", {
        key: busy.keys.writer,
        body: nodeAdded("refused"),
      });
      const wrongScope = await call(api, "POST", "/v1/events", {
        key: quiet.keys.reader,
        body: nodeAdded("x"),
      });

      // Assess
      expect(statuses).toEqual([...Array(11).fill(200), 429]);
      expect(refused.status).toBe(429);
      expect(refused.body.detail).toMatch(/over its request rate/);
      expect(refused.body.title).toBe("Too many requests for this workspace");
      // The rest of the window: it began at 11:00:00, and it is 11:00:01.1.
      expect(Number(refused.headers.get("retry-after"))).toBe(9);
      // Another workspace is served meanwhile (a refused scope counts for it too).
      expect(wrongScope.status).toBe(403);
      expect((await call(api, "GET", "/v1/events", { key: quiet.keys.reader })).status).toBe(200);

      // The next window serves the workspace again, and the refused event was never stored.
      api.clock.advance(RATE_WINDOW_MS);
      const later = (await listAll(api, busy.keys.reader, "type=node.added")) as Ev[];
      expect(later).toEqual([]);
    } finally {
      await api.close();
    }
  });
});

describe("plans and retention", () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  it("keeps per-node at 90 days", async () => {
    const ws = await workspace("pernode");
    const res = await call<{ errors: { path: string }[] }>(api, "PUT", "/v1/settings", {
      key: ws.keys.admin,
      body: { retentionDays: 200 },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]?.path).toBe("/retentionDays");
    const settings = await call(api, "GET", "/v1/settings", { key: ws.keys.admin });
    expect(settings.body).toMatchObject({
      plan: "per-node",
      retentionDays: 90,
      retentionDaysAllowed: { min: 90, max: 90 },
    });
  });

  it("lets enterprise choose 30–365 and logs the change with from/to; new events take the new retention", async () => {
    const ws = await workspace("ent", { plan: "enterprise" });
    expect(
      (await call(api, "PUT", "/v1/settings", { key: ws.keys.admin, body: { retentionDays: 366 } })).status,
    ).toBe(400);
    const res = await callFrom("127.0.0.5", api, "PUT", "/v1/settings", {
      key: ws.keys.admin,
      body: { retentionDays: 200 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan: "enterprise", retentionDays: 200 });

    const changes = (await listAll(api, ws.keys.reader, "type=audit.settings_changed")) as Ev[];
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      sourceIp: "127.0.0.5",
      actor: { type: "api_key" },
      context: { field: "retentionDays", from: 365, to: 200 },
    });

    expect(
      (await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("after-change") }))
        .status,
    ).toBe(201);
    api.clock.advance(200 * 24 * HOUR - 1_000);
    expect((await call(api, "GET", "/v1/events/after-change", { key: ws.keys.reader })).status).toBe(200);
    api.clock.advance(1_000);
    expect((await call(api, "GET", "/v1/events/after-change", { key: ws.keys.reader })).status).toBe(404);
  });
});

describe("reads of the log are themselves logged", () => {
  it("leaves exactly one audit.queried event per list or get, carrying its filters", async () => {
    const api = await startApi();
    try {
      const ws = await workspace("queried");
      await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("q1") });

      await callFrom("127.0.0.6", api, "GET", "/v1/events?type=node.*&actor=alice&limit=5", {
        key: ws.keys.reader,
      });
      await callFrom("127.0.0.6", api, "GET", "/v1/events/q1", { key: ws.keys.reader });

      const queried = (await listAll(api, ws.keys.reader, "type=audit.queried&sourceIp=127.0.0.6")) as Ev[];
      expect(queried.map((e) => e.context)).toEqual([
        { route: "get", filters: { id: "q1" } },
        { route: "list", filters: { type: "node.*", actor: "alice" }, limit: 5, returned: 1, page: "first" },
      ]);
      expect(queried.every((e) => e.actor.id === ws.keys.reader.slice(4, 20))).toBe(true);
    } finally {
      await api.close();
    }
  });
});

describe("workspace creation in the core (issue 11, boundaries)", () => {
  const operator = {
    actor: { type: "user" as const, id: "ops@host", name: "npm run admin" },
    sourceIp: "192.0.2.7",
  };
  let api: TestApi;
  let deps: ReturnType<typeof toolDeps>;

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-15T08:00:00.000Z" });
    deps = toolDeps(api.dynamo, engineEnv(), api.clock);
  });
  afterAll(() => api.close());

  it("creates the workspace and its first admin key, whose creation is an apikey.created event like any other", async () => {
    // Prepare
    const id = uniqueWorkspace("created");

    // Act
    const { workspace: made, tokens } = await createWorkspace(
      deps,
      operator,
      { workspaceId: id, plan: "enterprise" },
      { admin: { scopes: ["admin"], name: "first admin key" } },
    );

    // Assess: the key works, and the log says who made it, from where.
    expect(made).toMatchObject({ workspaceId: id, plan: "enterprise", retentionDays: 365 });
    const keys = await call<{ keys: { keyId: string; name: string }[] }>(api, "GET", "/v1/keys", {
      key: tokens.admin,
    });
    expect(keys.status).toBe(200);
    const reader = await call<{ token: string }>(api, "POST", "/v1/keys", {
      key: tokens.admin,
      body: { name: "r", scopes: ["events:read"] },
    });
    const created = (await listAll(api, reader.body.token, "type=apikey.created")) as Ev[];
    expect(created.find((e) => e.context.name === "first admin key")).toMatchObject({
      actor: operator.actor,
      sourceIp: "192.0.2.7",
      context: { keyId: keys.body.keys[0]?.keyId, name: "first admin key", scopes: ["admin"] },
      recordedAt: "2026-03-15T08:00:00.000Z",
    });
    expect(created).toHaveLength(2);
  });

  it.each([
    [{ workspaceId: "Upper", plan: "per-node" }, "/workspaceId"],
    [{ workspaceId: "_operator", plan: "per-node" }, "/workspaceId"],
    [{ workspaceId: `w${"x".repeat(63)}`, plan: "per-node" }, "/workspaceId"],
    [{ workspaceId: "ok-id", plan: "free" }, "/plan"],
    [{ workspaceId: "ok-id", plan: "per-node", retentionDays: 30 }, "/retentionDays"],
    [{ workspaceId: "ok-id", plan: "enterprise", retentionDays: 400 }, "/retentionDays"],
  ])("refuses %j naming %s, and creates nothing", async (input, path) => {
    const attempt = createWorkspace(deps, operator, input as never, { admin: { scopes: ["admin"] } });
    await expect(attempt).rejects.toMatchObject({ errors: [expect.objectContaining({ path })] });
    expect(await deps.control.getWorkspace(input.workspaceId)).toBeUndefined();
  });

  it("finishes on a rerun after a failure before its first key, so the operator is never locked out", async () => {
    const id = uniqueWorkspace("rerun");
    // As a run that stored the workspace and then failed before any key.
    await createWorkspace(deps, operator, { workspaceId: id, plan: "enterprise" }, {});
    const rerun = await createWorkspace(
      deps,
      operator,
      { workspaceId: id, plan: "enterprise" },
      { admin: { scopes: ["admin"] } },
    );
    expect((await call(api, "GET", "/v1/settings", { key: rerun.tokens.admin })).status).toBe(200);
    await expect(
      createWorkspace(
        deps,
        operator,
        { workspaceId: id, plan: "enterprise" },
        { admin: { scopes: ["admin"] } },
      ),
    ).rejects.toThrow(`workspace ${id} already exists`);
  });

  it("refuses an id that is taken, and leaves the first workspace as it was", async () => {
    const id = uniqueWorkspace("taken");
    await createWorkspace(deps, operator, { workspaceId: id, plan: "per-node" }, {});
    await expect(
      createWorkspace(
        deps,
        operator,
        { workspaceId: id, plan: "enterprise" },
        { admin: { scopes: ["admin"] } },
      ),
    ).rejects.toThrow(`workspace ${id} already exists`);
    expect(await deps.control.getWorkspace(id)).toMatchObject({ plan: "per-node", retentionDays: 90 });
  });
});
