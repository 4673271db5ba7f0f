import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { STORAGE_UNAVAILABLE } from "../../functions/shared/adapters/storage-errors.js";
import { startEngines } from "../../scripts/lib/engines.js";
import { call, isSeeded, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

const nodeAdded = (id: string) => ({
  id,
  type: "node.added",
  actor: { type: "user", id: "alice" },
  node: { id: "sgp-edge-04" },
});

describe("keys, scopes and workspaces", () => {
  let api: TestApi;
  let demo: TestWorkspace;
  let other: TestWorkspace;

  beforeAll(async () => {
    api = await startApi();
    demo = await workspace("demo");
    other = await workspace("other");
    expect(
      (await call(api, "POST", "/v1/events", { key: demo.keys.writer, body: nodeAdded("secret-node") }))
        .status,
    ).toBe(201);
  });
  afterAll(() => api.close());

  it("answers 401 without a key, with a malformed key and with an unknown key", async () => {
    const unknown = `alk_${"0".repeat(16)}_${"A".repeat(43)}`;
    for (const key of [undefined, "not-a-key", unknown]) {
      const res = await call<{ status: number }>(api, "GET", "/v1/events", { key });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
  });

  it("answers 401 for a real key id with the wrong secret", async () => {
    const forged = `${demo.keys.reader.slice(0, 21)}${"B".repeat(43)}`;
    expect(forged).not.toBe(demo.keys.reader);
    expect((await call(api, "GET", "/v1/events", { key: forged })).status).toBe(401);
  });

  it("answers 403 when a reader key posts and a writer key reads", async () => {
    const post = await call(api, "POST", "/v1/events", { key: demo.keys.reader, body: nodeAdded("nope") });
    expect(post.status).toBe(403);
    expect((await call(api, "GET", "/v1/events", { key: demo.keys.writer })).status).toBe(403);
    expect((await call(api, "GET", "/v1/events/nope", { key: demo.keys.reader })).status).toBe(404);
  });

  it("never shows one workspace's events to another", async () => {
    // Only its own keys' creation, from when it was made.
    const seen = await listAll(api, other.keys.reader);
    expect(seen.filter((e) => !isSeeded(e))).toEqual([]);
    expect(seen).toHaveLength(3);
    expect((await call(api, "GET", "/v1/events/secret-node", { key: other.keys.reader })).status).toBe(404);
    expect((await call(api, "GET", "/v1/events/secret-node", { key: demo.keys.reader })).status).toBe(200);
  });

  it("lets two workspaces use the same event id independently", async () => {
    const res = await call(api, "POST", "/v1/events", {
      key: other.keys.writer,
      body: { ...nodeAdded("secret-node"), outcome: "failure" },
    });
    expect(res.status).toBe(201);
    const mine = await call<{ outcome: string }>(api, "GET", "/v1/events/secret-node", {
      key: demo.keys.reader,
    });
    expect(mine.body.outcome).toBe("success");
  });

  it("serves health and the OpenAPI document without a key", async () => {
    expect((await call(api, "GET", "/v1/health")).body).toEqual({ status: "ok" });
    const doc = await call<{ openapi: string; paths: Record<string, unknown> }>(
      api,
      "GET",
      "/v1/openapi.json",
    );
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toEqual([
      "/v1/health",
      "/v1/openapi.json",
      "/v1/events",
      "/v1/events/{id}",
      "/v1/events/{id}/proof",
      "/v1/log/checkpoint",
      "/v1/log/key",
      "/v1/log/tile/{path}",
      "/v1/log/consistency",
      "/v1/keys",
      "/v1/keys/{keyId}/rotate",
      "/v1/keys/{keyId}",
      "/v1/settings",
      "/v1/exports/nightly",
      "/v1/exports",
      "/v1/viewer-sessions",
      "/v1/exports/{id}",
    ]);
  });

  it("answers 404 for an unknown route, as API Gateway does", async () => {
    expect((await call(api, "GET", "/v1/nothing")).status).toBe(404);
  });
});

describe("retention", () => {
  let api: TestApi;
  let ws: TestWorkspace;

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-09T18:00:00.000Z" });
    ws = await workspace("retention", { plan: "enterprise", retentionDays: 30 });
    expect(
      (await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("short-lived") })).status,
    ).toBe(201);
  });
  afterAll(() => api.close());

  it("hides an event once its expiresAt has passed, before any TTL sweep", async () => {
    api.clock.set("2026-04-08T17:59:59.000Z");
    expect((await listAll(api, ws.keys.reader, "type=node.added")).map((e) => e.id)).toEqual(["short-lived"]);
    expect((await call(api, "GET", "/v1/events/short-lived", { key: ws.keys.reader })).status).toBe(200);

    api.clock.set("2026-04-08T18:00:00.000Z");
    expect(await listAll(api, ws.keys.reader, "type=node.added")).toEqual([]);
    expect((await call(api, "GET", "/v1/events/short-lived", { key: ws.keys.reader })).status).toBe(404);
    expect(await listAll(api, ws.keys.reader, "node=sgp-edge-04")).toEqual([]);
  });
});

describe("storage unavailable", () => {
  it("answers 503 with Retry-After, never a 2xx, when the DynamoDB engine is down", async () => {
    // Prepare: engines of this test's own, so stopping them touches no other test.
    const own = await startEngines({ quiet: true });
    const { localEnv, provision, seedWorkspace } = await import("../../scripts/lib/bootstrap.js");
    const env = { ...localEnv(own, "test") };
    await provision(env);
    const ws = await seedWorkspace(env, "down", { writer: ["events:write"], reader: ["events:read"] });
    const api = await startApi({ dynamoEndpoint: own.dynamodb });
    try {
      expect(
        (await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("before") })).status,
      ).toBe(201);

      // Act
      await own.stop();
      const post = await call<{ status: number; detail: string }>(api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: nodeAdded("after"),
      });
      const list = await call(api, "GET", "/v1/events", { key: ws.keys.reader });

      // Assess
      expect(post.status).toBe(503);
      expect(post.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(post.headers.get("content-type")).toBe("application/problem+json");
      expect(post.body.detail).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
      // The detail never names an internal operation (it once said `storage is unavailable (findById)`).
      expect(post.body.detail).toBe(STORAGE_UNAVAILABLE);
      expect(list.status).toBe(503);
    } finally {
      await api.close();
      await own.stop();
    }
  });
});
