import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, isSeeded, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

/**
 * Crafted requests against every route that takes input besides POST /v1/events (issue 11, "a
 * hostile-input suite"): each answers a 4xx problem+json, and afterwards the API shows that
 * nothing was written: no event but the reads' own audit records, no key, no export, the settings
 * as they were.
 */
describe("hostile requests to the other routes", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let settingsBefore: unknown;
  let keysBefore: unknown;
  const stamp = "2026-03-09T18:00:00.000Z";

  beforeAll(async () => {
    api = await startApi({ now: stamp });
    ws = await workspace("hostile-routes", { plan: "enterprise" });
    settingsBefore = (await call(api, "GET", "/v1/settings", { key: ws.keys.admin })).body;
    keysBefore = (await call(api, "GET", "/v1/keys", { key: ws.keys.admin })).body;
  });
  afterAll(() => api.close());

  const q = (query: string) => ["GET", `/v1/events?${query}`, "reader", undefined] as const;
  const body = (method: string, path: string, key: "reader" | "admin", value: unknown) =>
    [method, path, key, JSON.stringify(value)] as const;
  const raw = (method: string, path: string, key: "reader" | "admin", text: string) =>
    [method, path, key, text] as const;

  const CASES: [string, readonly [string, string, "reader" | "admin", string | undefined], number][] = [
    // GET /v1/events: query and cursor
    ["an unknown query parameter", q("colour=red"), 400],
    ["limit=0", q("limit=0"), 400],
    ["limit=1001", q("limit=1001"), 400],
    ["limit=1.5", q("limit=1.5"), 400],
    ["limit=-1", q("limit=-1"), 400],
    ["limit=NaN", q("limit=NaN"), 400],
    ["an unknown type", q("type=nope.nothing"), 400],
    ["a category that does not exist", q("type=nope.*"), 400],
    ["a type wildcard in the middle", q("type=pc*p.download"), 400],
    ["since without an offset", q("since=2026-03-09T10:00:00"), 400],
    ["since that is not a date", q("since=yesterday"), 400],
    ["until before since", q("since=2026-03-09T10:00:00Z&until=2026-03-09T09:00:00Z"), 400],
    ["a bad source IP", q("sourceIp=999.1.1.1"), 400],
    ["an outcome outside the enum", q("outcome=maybe"), 400],
    ["an empty actor", q("actor="), 400],
    ["an actor of 300 characters", q(`actor=${"a".repeat(300)}`), 400],
    ["a cursor that is not one", q("cursor=not-a-cursor"), 400],
    ["a cursor with a forged signature", q("cursor=eyJ2IjoxfQ.AAAA"), 400],
    ["a cursor of 3,000 characters", q(`cursor=${"A".repeat(3000)}`), 400],
    ["a repeated parameter", q("type=node.added&type=pcap.*"), 400],
    // PUT /v1/settings
    ["settings: an empty body", body("PUT", "/v1/settings", "admin", {}), 400],
    ["settings: retention as a string", body("PUT", "/v1/settings", "admin", { retentionDays: "200" }), 400],
    ["settings: retention of 10 days", body("PUT", "/v1/settings", "admin", { retentionDays: 10 }), 400],
    ["settings: retention of 4,000 days", body("PUT", "/v1/settings", "admin", { retentionDays: 4000 }), 400],
    [
      "settings: retention of 100.5 days",
      body("PUT", "/v1/settings", "admin", { retentionDays: 100.5 }),
      400,
    ],
    [
      "settings: an unknown field",
      body("PUT", "/v1/settings", "admin", { retentionDays: 100, plan: "free" }),
      400,
    ],
    [
      "settings: a workspaceId",
      body("PUT", "/v1/settings", "admin", { workspaceId: "other", retentionDays: 100 }),
      400,
    ],
    [
      "settings: a destination on a metadata address",
      body("PUT", "/v1/settings", "admin", {
        exportDestination: {
          endpoint: "https://169.254.169.254",
          region: "us-east-1",
          bucket: "b",
          prefix: "p/",
          accessKeyId: "AKIA",
          secretAccessKey: "s",
        },
      }),
      400,
    ],
    [
      "settings: a destination over http",
      body("PUT", "/v1/settings", "admin", {
        exportDestination: {
          endpoint: "http://s3.amazonaws.com",
          region: "us-east-1",
          bucket: "b",
          prefix: "p/",
          accessKeyId: "AKIA",
          secretAccessKey: "s",
        },
      }),
      400,
    ],
    ["settings: a JSON array", raw("PUT", "/v1/settings", "admin", "[1,2]"), 400],
    [
      "settings: a duplicate key",
      raw("PUT", "/v1/settings", "admin", '{"retentionDays":100,"retentionDays":200}'),
      400,
    ],
    ["settings: a reader's key", body("PUT", "/v1/settings", "reader", { retentionDays: 100 }), 403],
    // POST /v1/exports
    ["export: an unknown format", body("POST", "/v1/exports", "reader", { format: "xml" }), 400],
    [
      "export: an unknown filter",
      body("POST", "/v1/exports", "reader", { format: "csv", colour: "red" }),
      400,
    ],
    ["export: gzip as a string", body("POST", "/v1/exports", "reader", { format: "csv", gzip: "yes" }), 400],
    [
      "export: until before since",
      body("POST", "/v1/exports", "reader", {
        format: "csv",
        since: "2026-03-09T10:00:00Z",
        until: "2026-03-09T09:00:00Z",
      }),
      400,
    ],
    [
      "export: since past year 9999",
      body("POST", "/v1/exports", "reader", { format: "csv", since: "9999-12-31T23:59:59-01:00" }),
      400,
    ],
    ["export: an unknown type", body("POST", "/v1/exports", "reader", { format: "csv", type: "x.y" }), 400],
    ["export: not JSON", raw("POST", "/v1/exports", "reader", "format=csv"), 400],
    [
      "export: __proto__",
      raw("POST", "/v1/exports", "reader", '{"format":"csv","__proto__":{"admin":true}}'),
      400,
    ],
    [
      "export: an id that is not a ULID",
      ["GET", "/v1/exports/..%2F..%2Fetc%2Fpasswd", "reader", undefined],
      404,
    ],
    // Admin: keys
    ["key: no name", body("POST", "/v1/keys", "admin", { scopes: ["events:read"] }), 400],
    ["key: an empty name", body("POST", "/v1/keys", "admin", { name: "", scopes: ["events:read"] }), 400],
    [
      "key: a name of 100 characters",
      body("POST", "/v1/keys", "admin", { name: "n".repeat(100), scopes: ["events:read"] }),
      400,
    ],
    ["key: no scopes", body("POST", "/v1/keys", "admin", { name: "x", scopes: [] }), 400],
    ["key: an unknown scope", body("POST", "/v1/keys", "admin", { name: "x", scopes: ["root"] }), 400],
    [
      "key: a repeated scope",
      body("POST", "/v1/keys", "admin", { name: "x", scopes: ["admin", "admin"] }),
      400,
    ],
    [
      "key: a workspaceId",
      body("POST", "/v1/keys", "admin", { name: "x", scopes: ["admin"], workspaceId: "other" }),
      400,
    ],
    ["key: a reader creating one", body("POST", "/v1/keys", "reader", { name: "x", scopes: ["admin"] }), 403],
    [
      "key: rotate with negative grace",
      body("POST", "/v1/keys/0123456789abcdef/rotate", "admin", { graceSeconds: -1 }),
      400,
    ],
    ["key: rotate an unknown key", body("POST", "/v1/keys/0123456789abcdef/rotate", "admin", {}), 404],
    ["key: revoke a malformed id", ["DELETE", `/v1/keys/${"k".repeat(500)}`, "admin", undefined], 404],
    [
      "nightly: a range that is not days",
      ["GET", "/v1/exports/nightly?from=yesterday", "reader", undefined],
      400,
    ],
    [
      "nightly: an unknown parameter",
      ["GET", "/v1/exports/nightly?day=2026-03-01", "reader", undefined],
      400,
    ],
    ["get: an id of 3,000 characters", ["GET", `/v1/events/${"e".repeat(3000)}`, "reader", undefined], 404],
  ];

  for (const [name, [method, path, key, rawBody], status] of CASES) {
    it(`answers ${status} problem+json for ${name}`, async () => {
      const res = await call<{ status: number; title: string }>(api, method, path, {
        key: ws.keys[key],
        ...(rawBody === undefined ? {} : { rawBody }),
      });
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.status).toBe(status);
      expect(res.body.title.length).toBeGreaterThan(0);
    });
  }

  it("changed nothing: the same settings and keys, no export queued, no event but the reads' own records", async () => {
    expect((await call(api, "GET", "/v1/settings", { key: ws.keys.admin })).body).toEqual(settingsBefore);
    expect((await call(api, "GET", "/v1/keys", { key: ws.keys.admin })).body).toEqual(keysBefore);
    expect(await api.runQueuedExports()).toEqual([]);
    const events = (await listAll(api, ws.keys.reader)).filter((e) => !isSeeded(e));
    const types = new Set(events.map((e) => e.type));
    // Reads are audited and refused scopes are recorded; nothing else may appear.
    expect([...types].filter((t) => t !== "audit.queried" && t !== "access.denied")).toEqual([]);
  });
});
