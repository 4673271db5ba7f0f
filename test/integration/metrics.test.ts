import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeHandler as makeFlush } from "../../functions/flush-access-failures/handler.js";
import { makeHandler as makeSealer } from "../../functions/seal-log/handler.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { Metric } from "../../functions/shared/metrics.js";
import { call, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

// On for this file only (the suite turns EMF off): the Metrics instance reads it on first use.
const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
process.env.POWERTOOLS_METRICS_DISABLED = "false";

type Emf = {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
};

/** The EMF lines written to stdout while `run` runs (Powertools writes them with console.log). */
async function emfOf(run: () => Promise<unknown>): Promise<Emf[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split("\n"))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Emf);
}

/** Sum of metric `name` over the lines, with the dimensions given (beyond `service`). */
function total(lines: Emf[], name: string, dims: Record<string, string> = {}): number {
  return lines
    .filter(
      (l) =>
        l._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === name) &&
        Object.entries(dims).every(([k, v]) => l[k] === v),
    )
    .reduce((sum, l) => sum + [l[name] as number | number[]].flat().reduce((a, b) => a + b, 0), 0);
}

/** Makes the next TransactWriteItems fail before it is sent (SDK middleware: no engine fails on cue). */
function failNextWrite(client: DynamoDBDocumentClient) {
  let armed = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (armed && context.commandName === "TransactWriteItemsCommand") {
        armed = false;
        throw Object.assign(new Error("injected: no answer"), { name: "TimeoutError" });
      }
      return next(args);
    },
    { step: "initialize", name: `failNextWrite-${Math.random()}` },
  );
}

/** `target` with some of its methods replaced (a class instance: spreading would drop its methods). */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get: (t, key) => {
      if (key in overrides) return overrides[key as keyof T];
      const value = Reflect.get(t, key, t);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

describe("EMF metrics (issue 13, item 3)", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const ev = (id: string) => ({ id, type: "node.added", actor: { type: "user", id: "alice" } });

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-16T10:00:00.000Z" });
    ws = await workspace("metrics");
  });
  afterAll(async () => {
    await api.close();
    if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  });

  it("counts events accepted and replayed, and posts refused by reason, in the stage's namespace", async () => {
    const lines = await emfOf(async () => {
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: ev("m-1") })).status).toBe(
        201,
      );
      const batch = { events: [ev("m-1"), ev("m-2"), ev("m-3")] };
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: batch })).status).toBe(200);
      const invalid = { ...ev("m-4"), type: "nope" };
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: invalid })).status).toBe(
        400,
      );
      expect(
        (await call(api, "GET", "/v1/events", { key: `alk_${"0".repeat(16)}_${"Z".repeat(43)}` })).status,
      ).toBe(401);
    });

    expect(total(lines, Metric.eventsAccepted)).toBe(3);
    expect(total(lines, Metric.eventsReplayed)).toBe(1);
    expect(total(lines, Metric.postsRejected, { Reason: "invalid" })).toBe(1);
    expect(total(lines, Metric.authFailures)).toBe(1);
    expect(total(lines, Metric.serverErrors)).toBe(0);
    for (const line of lines) {
      expect(line._aws.CloudWatchMetrics[0]?.Namespace).toBe("AuditLog/local");
      expect(line.service).toBe("audit-log");
    }
  });

  it("counts an audit record that could not be written, and the 503 it caused", async () => {
    failNextWrite(api.dynamo);
    const lines = await emfOf(async () => {
      // The query succeeds; writing its audit.queried record does not.
      const res = await call(api, "GET", "/v1/events", { key: ws.keys.reader });
      expect(res.status).toBe(503);
    });
    expect(total(lines, Metric.auditWriteFailed)).toBe(1);
    expect(total(lines, Metric.serverErrors)).toBe(1);
    expect(total(lines, Metric.postsRejected)).toBe(0);
  });

  it("reports the sealer's lag and the flush backlog on every run", async () => {
    api.clock.advance(120_000);
    // Only this file's workspace and no failure windows: the engines are shared with other test
    // files, whose workspaces and windows are theirs to seal and flush.
    const log = logDeps(api.deps, api.dynamo);
    const mine = overriding(log.control, {
      listWorkspaces: async () => [
        { workspaceId: ws.id, plan: "per-node" as const, retentionDays: 90, createdAt: "" },
      ],
      pendingFailures: async () => [],
      pendingReaches: async () => [],
    });
    const lines = await emfOf(async () => {
      const run = await makeSealer(api.deps, { ...log, control: mine })();
      expect(run.outcomes.map((o) => o.workspaceId)).toContain(ws.id);
      await makeFlush({ ...api.deps, control: mine })();
    });
    expect(lines.filter((l) => Metric.sealingLag in l)).toHaveLength(1);
    expect(total(lines, Metric.sealingLag)).toBe(0);
    expect(lines.filter((l) => Metric.flushBacklog in l)).toHaveLength(1);
  });
});
