import { randomUUID } from "node:crypto";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newDocumentClient } from "../../functions/shared/adapters/clients.js";
import { loadConfig } from "../../functions/shared/config.js";
import { makeDeps } from "../../functions/shared/deps.js";
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

/**
 * Values a hostile client chooses (issue 11, items 5–7): each must get a clear 4xx problem+json and
 * change nothing; none may answer 500 (and set off the 5xx alarm), and nothing accepted may be
 * stored other than as sent.
 */
describe("hostile values", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  beforeAll(async () => {
    api = await startApi();
    ws = await workspace("hostile");
  });
  afterAll(() => api.close());

  const node = (id: string, context: string) =>
    `{"id":"${id}","type":"node.added","actor":{"type":"user","id":"alice@acme.example"},"node":{"id":"n1"},"context":${context}}`;
  const post = (rawBody: string) =>
    call<{ status: number; type: string; detail: string }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      rawBody,
    });

  const CASES: [string, string][] = [
    ["a context nested 10,000 deep", node("deep", `{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}`)],
    ["1e400 in a free-form context key", node("big-exp", `{"x":1e400}`)],
    ["-1e400", node("neg-exp", `{"x":-1e400}`)],
    ["a lone surrogate", node("surrogate", `{"x":"\\ud800"}`)],
    ["a lone low surrogate in the actor", node("surrogate-2", `{}`).replace("alice@acme.example", "\\udc00")],
    ["__proto__ in the context", node("proto", `{"__proto__":{"admin":true},"x":1}`)],
    ["an integer beyond 2^53", node("big-int", `{"x":9007199254740993}`)],
    ["an integer beyond 2^53 written with a fraction", node("big-int-2", `{"x":9007199254740993.0}`)],
    ["an integer beyond 2^53 written with an exponent", node("big-int-3", `{"x":9007199254740993e0}`)],
    ["-0", node("neg-zero", `{"x":-0}`)],
    ["a number too small for a double", node("underflow", `{"x":1e-400}`)],
    ["a duplicate key", node("dup", `{"x":1,"x":2}`)],
    [
      "a duplicate top-level key",
      node("dup-top", `{}`).replace(`"type":"node.added"`, `"type":"node.added","type":"node.removed"`),
    ],
  ];
  for (const [name, body] of CASES) {
    it(`answers 400 problem+json for ${name}`, async () => {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.body.detail.length).toBeGreaterThan(0);
    });
  }

  it("answers 400 for a body that is not UTF-8, instead of storing U+FFFD", async () => {
    const bytes = Buffer.concat([
      Buffer.from(node("latin1", `{"x":"caf`)),
      Buffer.from([0xe9]),
      Buffer.from(`"}`),
    ]);
    const res = await fetch(`${api.baseUrl}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${ws.keys.writer}`, "content-type": "application/json" },
      body: bytes,
    });
    expect(res.status).toBe(400);
  });

  it("stored none of them", async () => {
    const stored = await listAll(api, ws.keys.reader, "type=node.added");
    expect(stored).toEqual([]);
  });

  it("answers 403, recorded, for a missing scope on a path over 2,048 characters", async () => {
    const res = await call(api, "GET", `/v1/events/${"x".repeat(3_000)}`, { key: ws.keys.writer });
    expect(res.status).toBe(403);
    const denied = await listAll(api, ws.keys.reader, "type=access.denied");
    expect(denied.some((e) => String((e.context as { path: string }).path).length === 2048)).toBe(true);
  });

  it.each([
    ["since", "9999-12-31T23:59:59-01:00"],
    ["until", "9999-12-31T23:59:59-01:00"],
    ["since", "+010000-01-01T00:00:00Z"],
  ])("answers 400 for %s=%s (past year 9999 in UTC)", async (param, value) => {
    const res = await call(api, "GET", `/v1/events?${param}=${encodeURIComponent(value)}`, {
      key: ws.keys.reader,
    });
    expect(res.status).toBe(400);
  });

  it("answers a nightly range of 10,000 years with 400", async () => {
    const res = await call(api, "GET", "/v1/exports/nightly?from=0000-01-01&to=9999-12-31", {
      key: ws.keys.reader,
    });
    expect(res.status).toBe(400);
  });
});

describe("the cursor key", () => {
  it("is refused from the environment when shorter than 32 bytes", () => {
    expect(() => loadConfig({ ...process.env, CURSOR_SECRET: "x".repeat(31) })).toThrow(/CURSOR_SECRET/);
  });

  it("is refused from Secrets Manager when shorter than 32 bytes, and never used", async () => {
    // Prepare: a secret of 20 bytes in moto, named by the deployed stacks' variable.
    const name = `audit-log/test/short-cursor-${randomUUID().slice(0, 8)}`;
    await localClients(engineEnv()).secrets.send(
      new CreateSecretCommand({ Name: name, SecretString: "s".repeat(20) }),
    );
    const { CURSOR_SECRET: _local, ...env } = process.env;
    const deps = makeDeps({
      config: loadConfig({ ...env, CURSOR_SECRET_ID: name }),
      client: newDocumentClient(),
    });

    // Act + Assess
    await expect(deps.cursorKey()).rejects.toThrow(/20 bytes; it must be at least 32/);
  });
});
