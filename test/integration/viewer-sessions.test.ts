import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, callFrom, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

type Session = {
  sessionId: string;
  token: string;
  workspaceId: string;
  scopes: string[];
  expiresAt: string;
  viewer?: { id: string; name?: string };
  url: string;
};
type Ev = {
  id: string;
  type: string;
  actor: Record<string, unknown>;
  sourceIp?: string;
  context: Record<string, unknown>;
};
const nodeAdded = (id: string) => ({ id, type: "node.added", actor: { type: "user", id: "alice" } });

describe("viewer sessions (issue 12, item 2)", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let other: TestWorkspace;

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-14T09:00:00.000Z" });
    ws = await workspace("viewer");
    other = await workspace("viewer-other");
    await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: nodeAdded("mine") });
    await call(api, "POST", "/v1/events", { key: other.keys.writer, body: nodeAdded("theirs") });
  });
  afterAll(() => api.close());

  it("an admin key mints a 15-minute read-only session for a person; minting and the session's reads are audited with that person", async () => {
    // Act
    const minted = await callFrom<Session>("127.0.0.61", api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.admin,
      body: { viewer: { id: "user-42", name: "Alice Ng" } },
    });
    const read = await callFrom<{ events: Ev[] }>("127.0.0.62", api, "GET", "/v1/events?type=node.added", {
      key: minted.body.token,
    });

    // Assess: the session, bound to the workspace, read-only, with the page's URL.
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({
      workspaceId: ws.id,
      scopes: ["events:read"],
      expiresAt: "2026-03-14T09:15:00.000Z",
      viewer: { id: "user-42", name: "Alice Ng" },
    });
    expect(minted.body.token).toMatch(new RegExp(`^alv_${minted.body.sessionId}_[A-Za-z0-9_-]{43}$`));
    expect(minted.body.url).toBe(`/dashboard/audit#token=${minted.body.token}`);
    expect(read.status).toBe(200);
    expect(read.body.events.map((e) => e.id)).toEqual(["mine"]);

    const created = (await listAll(api, ws.keys.reader, "type=audit.viewer_session_created")) as Ev[];
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      actor: { type: "api_key", id: ws.keys.admin.slice(4, 20) },
      sourceIp: "127.0.0.61",
      context: { sessionId: minted.body.sessionId, expiresAt: "2026-03-14T09:15:00.000Z", ttlSeconds: 900 },
    });
    const queried = (await listAll(api, ws.keys.reader, "type=audit.queried")) as Ev[];
    const bySession = queried.filter((e) => e.sourceIp === "127.0.0.62");
    expect(bySession).toHaveLength(1);
    expect(bySession[0]?.actor).toEqual({
      type: "user",
      id: "user-42",
      name: `Alice Ng, viewer session ${minted.body.sessionId} minted by key ${ws.keys.admin.slice(4, 20)}`,
    });
  });

  it("a session can only read: no writes, no admin routes, no minting another; and it is not listed as a key", async () => {
    const minted = await call<Session>(api, "POST", "/v1/viewer-sessions", { key: ws.keys.admin });
    const token = minted.body.token;

    const post = await call(api, "POST", "/v1/events", { key: token, body: nodeAdded("by-session") });
    const keys = await call(api, "GET", "/v1/keys", { key: token });
    const again = await call(api, "POST", "/v1/viewer-sessions", { key: token });

    expect([post.status, keys.status, again.status]).toEqual([403, 403, 403]);
    expect(again.body).toMatchObject({ detail: "a viewer session cannot mint another session" });
    expect((await listAll(api, ws.keys.reader, "type=node.added")).map((e) => e.id)).toEqual(["mine"]);
    const listed = await call<{ keys: { keyId: string }[] }>(api, "GET", "/v1/keys", { key: ws.keys.admin });
    expect(listed.body.keys.map((k) => k.keyId)).not.toContain(minted.body.sessionId);
    expect(listed.body.keys).toHaveLength(3);
  });

  it("a reader key mints one for itself; a writer key cannot", async () => {
    const byReader = await call<Session>(api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.reader,
      body: { ttlSeconds: 60 },
    });
    const byWriter = await call(api, "POST", "/v1/viewer-sessions", { key: ws.keys.writer });

    expect(byReader.status).toBe(201);
    expect(byReader.body.expiresAt).toBe(new Date(api.clock.now().getTime() + 60_000).toISOString());
    expect(byWriter.status).toBe(403);
    expect(byWriter.body).toMatchObject({ detail: "this route needs the `admin` or `events:read` scope" });
  });

  it("refuses an expired session with a 401 that says to open the page again, and a revoked one at once", async () => {
    const expiring = await call<Session>(api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.admin,
      body: { ttlSeconds: 60 },
    });
    const revoked = await call<Session>(api, "POST", "/v1/viewer-sessions", { key: ws.keys.admin });
    expect((await call(api, "GET", "/v1/events", { key: expiring.body.token })).status).toBe(200);

    // Act
    const revoke = await call(api, "DELETE", `/v1/keys/${revoked.body.sessionId}`, { key: ws.keys.admin });
    const afterRevoke = await call(api, "GET", "/v1/events", { key: revoked.body.token });
    api.clock.advance(60_000);
    const afterExpiry = await call(api, "GET", "/v1/events", { key: expiring.body.token });

    // Assess
    expect(revoke.status).toBe(200);
    expect(afterRevoke.status).toBe(401);
    expect(afterExpiry.status).toBe(401);
    expect(afterExpiry.headers.get("content-type")).toContain("application/problem+json");
    expect(afterExpiry.body).toMatchObject({
      detail: "the viewer session has expired; open the audit log again from your dashboard",
    });
  });

  it("ends with the key that minted it, cannot be rotated, and a reader key cannot name a viewer (review findings)", async () => {
    // Prepare: a second admin key mints the session.
    const second = await call<{ keyId: string; token: string }>(api, "POST", "/v1/keys", {
      key: ws.keys.admin,
      body: { name: "second admin", scopes: ["admin"] },
    });
    const minted = await call<Session>(api, "POST", "/v1/viewer-sessions", { key: second.body.token });
    expect((await call(api, "GET", "/v1/events", { key: minted.body.token })).status).toBe(200);

    // Act
    const rotate = await call(api, "POST", `/v1/keys/${minted.body.sessionId}/rotate`, {
      key: ws.keys.admin,
    });
    const named = await callFrom<{ detail: string }>("127.0.0.63", api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.reader,
      body: { viewer: { id: "someone-else" } },
    });
    const byMinted = await callFrom("127.0.0.64", api, "POST", "/v1/viewer-sessions", {
      key: minted.body.token,
    });
    await call(api, "DELETE", `/v1/keys/${second.body.keyId}`, { key: ws.keys.admin });
    const afterMinterRevoked = await call(api, "GET", "/v1/events", { key: minted.body.token });

    // Assess
    expect(rotate.status).toBe(409);
    expect(named.status).toBe(403);
    expect(named.body.detail).toMatch(/only an admin key may name the viewer/);
    expect(byMinted.status).toBe(403);
    expect(afterMinterRevoked.status).toBe(401);
    const denied = (await listAll(api, ws.keys.reader, "type=access.denied")) as Ev[];
    expect(denied.filter((e) => e.sourceIp === "127.0.0.63").map((e) => e.context.reason)).toEqual([
      "viewer_needs_admin",
    ]);
    expect(denied.filter((e) => e.sourceIp === "127.0.0.64").map((e) => e.context.reason)).toEqual([
      "session_cannot_mint",
    ]);
  });

  it.each([
    [{ ttlSeconds: 59 }, "/ttlSeconds"],
    [{ ttlSeconds: 3601 }, "/ttlSeconds"],
    [{ ttlSeconds: 90.5 }, "/ttlSeconds"],
    [{ viewer: { id: "" } }, "/viewer/id"],
    [{ viewer: { id: "a\u0000b" } }, "/viewer/id"],
    [{ viewer: { id: "x", role: "admin" } }, "/viewer/role"],
    [{ scopes: ["admin"] }, "/scopes"],
  ])("refuses %j with 400 naming %s, and mints nothing", async (body, path) => {
    const before = (await listAll(api, ws.keys.reader, "type=audit.viewer_session_created")).length;
    const res = await call<{ errors: { path: string }[] }>(api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.admin,
      body,
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.errors.map((e) => e.path)).toContain(path);
    expect((await listAll(api, ws.keys.reader, "type=audit.viewer_session_created")).length).toBe(before);
  });
});
