import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler as makeWorker } from "../../functions/export-worker/handler.js";
import { call, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

/**
 * Applies the first UpdateItem on an item whose partition key starts with `prefix`, then loses its
 * answer once, so the SDK resends it (its own retry, inside the middleware stack). This is SDK
 * middleware, not an imitation of DynamoDB: no engine can be told to lose one answer. The resend
 * meets the item as the first attempt left it, so its condition fails against our own write.
 */
function loseFirstAnswer(client: DynamoDBDocumentClient, prefix: string) {
  const seen = { applied: 0, resent: 0 };
  let armed = true;
  const name = `loseFirstAnswer-${Math.random()}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { pk?: { S?: string } | string } }).Key?.pk;
      const pk = typeof key === "string" ? key : key?.S;
      if (context.commandName !== "UpdateItemCommand" || !pk?.startsWith(prefix)) return next(args);
      if (!armed) {
        // The first matching request after the lost answer is the SDK's resend; later ones are the run's own.
        if (seen.resent === 0) seen.resent++;
        return next(args);
      }
      await next(args);
      armed = false;
      seen.applied++;
      throw Object.assign(new Error("injected: the answer was lost"), { name: "TimeoutError" });
    },
    { step: "deserialize", name },
  );
  return { seen, remove: () => client.middlewareStack.remove(name) };
}

describe("a conditional update whose answer was lost (found by npm run load)", () => {
  let api: TestApi;
  let ws: TestWorkspace;

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-17T09:00:00.000Z" });
    ws = await workspace("lost");
    await call(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { id: "l-1", type: "node.added", actor: { type: "user", id: "alice" } },
    });
  });
  afterAll(() => api.close());

  it("an export whose move to running was applied but not answered still finishes (it used to stay running)", async () => {
    // Prepare
    const created = await call<{ id: string }>(api, "POST", "/v1/exports", {
      key: ws.keys.reader,
      body: { format: "json" },
    });
    expect(created.status).toBe(202);
    const fault = loseFirstAnswer(api.dynamo, "export#");

    // Act: one delivery of the queue's message, as SQS makes it.
    try {
      await makeWorker(api.deps, { queue: { enqueue: async () => undefined } })({
        Records: [
          {
            body: JSON.stringify({ exportId: created.body.id }),
            attributes: { ApproximateReceiveCount: "1" },
          },
        ],
      } as never);
    } finally {
      fault.remove();
    }

    // Assess: the resend met our own write, and the run went on to the file.
    expect(fault.seen).toEqual({ applied: 1, resent: 1 });
    const job = await call<{ status: string; eventCount: number }>(
      api,
      "GET",
      `/v1/exports/${created.body.id}`,
      {
        key: ws.keys.reader,
      },
    );
    expect(job.body).toMatchObject({ status: "ready", eventCount: 4 });
  });

  it("a rotation whose answer was lost answers 200 with the new secret, which works (it used to answer 409)", async () => {
    const keyId = ws.keys.writer.slice(4, 20);
    const fault = loseFirstAnswer(api.dynamo, "key#");
    let rotated: Awaited<ReturnType<typeof call<{ token: string }>>>;
    try {
      rotated = await call<{ token: string }>(api, "POST", `/v1/keys/${keyId}/rotate`, {
        key: ws.keys.admin,
      });
    } finally {
      fault.remove();
    }
    expect(fault.seen).toEqual({ applied: 1, resent: 1 });
    expect(rotated.status).toBe(200);
    const post = await call(api, "POST", "/v1/events", {
      key: rotated.body.token,
      body: { id: "l-2", type: "node.added", actor: { type: "user", id: "alice" } },
    });
    expect(post.status).toBe(201);
  });

  it("a revocation whose answer was lost answers 200, and the key is refused (it used to answer 409)", async () => {
    const keyId = ws.keys.reader.slice(4, 20);
    const fault = loseFirstAnswer(api.dynamo, "key#");
    let revoked: Awaited<ReturnType<typeof call>>;
    try {
      revoked = await call(api, "DELETE", `/v1/keys/${keyId}`, { key: ws.keys.admin });
    } finally {
      fault.remove();
    }
    expect(fault.seen).toEqual({ applied: 1, resent: 1 });
    expect(revoked.status).toBe(200);
    expect((await call(api, "GET", "/v1/events", { key: ws.keys.reader })).status).toBe(401);
  });
});
