import { randomUUID } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { newDocumentClient } from "../../functions/shared/adapters/clients.js";
import { DynamoEventStore } from "../../functions/shared/adapters/dynamodb-event-store.js";
import { UnavailableError } from "../../functions/shared/errors.js";
import { APPEND_DEADLINE_MS } from "../../functions/shared/ports.js";
import { engineEnv, heavyRecord } from "./harness.js";

const RECORDED_AT = "2026-11-30T12:00:00.000Z";
const stamped = Date.parse(RECORDED_AT);

/**
 * The append deadline (ports.ts): no attempt is sent later than APPEND_DEADLINE_MS after the
 * records' recordedAt, and one still unanswered then is aborted. The clock is the store's injected
 * one; the hung engine is a real loopback server that accepts and never answers.
 */
describe("the append deadline", () => {
  const env = engineEnv();

  /** A store whose clock says `nowMs`; `endpoint` defaults to the real engine. */
  function storeAt(nowMs: number, endpoint = env.dynamoEndpoint) {
    // The jobs' 60 s request timeout: only the deadline's abort can end a stalled request in time.
    const client = newDocumentClient(endpoint, 60_000);
    let sent = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        sent++;
        return next(args);
      },
      { step: "initialize", name: "count" },
    );
    const store = new DynamoEventStore({ client, tableName: env.eventsTable, now: () => new Date(nowMs) });
    return { store, sent: () => sent };
  }

  /** A loopback server that accepts connections and never answers: a DynamoDB that hangs. */
  async function blackHole(): Promise<{ endpoint: string; close: () => void }> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }

  it("sends nothing once the deadline has passed, and answers storage unavailable", async () => {
    const { store, sent } = storeAt(stamped + APPEND_DEADLINE_MS + 1);
    const [result] = await store.append([
      heavyRecord(`dl-${randomUUID().slice(0, 8)}`, "late-1", RECORDED_AT, 1),
    ]);
    expect(result?.status).toBe("unavailable");
    expect(result?.status === "unavailable" && result.error).toBeInstanceOf(UnavailableError);
    expect(sent()).toBe(0);
  });

  it("aborts a request still unanswered at the deadline, and answers storage unavailable", async () => {
    // 20 ms left: the request goes to a server that never answers; with a 60 s request timeout,
    // only the deadline's abort ends it before this test's own timeout.
    const hole = await blackHole();
    try {
      const { store, sent } = storeAt(stamped + APPEND_DEADLINE_MS - 20, hole.endpoint);
      const record = heavyRecord(`dl-${randomUUID().slice(0, 8)}`, "late-2", RECORDED_AT, 2);
      const [result] = await store.append([record]);
      expect(result?.status).toBe("unavailable");
      expect(sent()).toBe(1);
    } finally {
      hole.close();
    }
  });

  it("within the deadline, the append is stored", async () => {
    const { store, sent } = storeAt(stamped + 1_000);
    const [result] = await store.append([
      heavyRecord(`dl-${randomUUID().slice(0, 8)}`, "ok-1", RECORDED_AT, 3),
    ]);
    expect(result).toEqual({ status: "created" });
    expect(sent()).toBe(1);
  });
});
