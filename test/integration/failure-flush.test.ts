import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler as makeFlush } from "../../functions/flush-access-failures/handler.js";
import { sha256Hex } from "../../functions/shared/canonical.js";
import { USER_AGENT_MAX_LENGTH } from "../../functions/shared/schemas/event.js";
import { call, callFrom, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

type Ev = { id: string; sourceIp?: string; userAgent?: string; context: Record<string, unknown> };

/**
 * The failed-authentication flush (issue 11, HIGH): what one hostile request could do to it. Each
 * test has its own workspace and source address; the frozen clock puts every window at a time no
 * other file uses.
 */
describe("the failure flush under hostile input", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ now: "2026-03-11T04:00:05.000Z" });
  });
  afterAll(() => api.close());

  const wrongSecret = (ws: TestWorkspace) => `alk_${ws.keys.reader.slice(4, 20)}_${"W".repeat(43)}`;
  const flush = () => makeFlush(api.deps)();
  const deniedIn = async (ws: TestWorkspace, ip: string) =>
    ((await listAll(api, ws.keys.reader, "type=access.denied")) as Ev[]).filter((e) => e.sourceIp === ip);

  it("keeps flushing after a 401 with a 1,100-character User-Agent, storing it cut to 1,024", async () => {
    // Prepare: a hostile window, and an ordinary one in another workspace.
    const hostile = await workspace("long-ua");
    const other = await workspace("after-long-ua");
    const longUa = `Mozilla/5.0 ${"A".repeat(1_100)}`;
    expect(
      (
        await callFrom("127.0.0.21", api, "GET", "/v1/events", {
          key: wrongSecret(hostile),
          userAgent: longUa,
        })
      ).status,
    ).toBe(401);
    expect((await callFrom("127.0.0.22", api, "GET", "/v1/events", { key: wrongSecret(other) })).status).toBe(
      401,
    );
    api.clock.advance(60_000);

    // Act
    const first = await flush();
    const second = await flush();

    // Assess: both windows written, once, and nothing left behind.
    expect(first.failed).toBe(0);
    expect(second).toMatchObject({ failed: 0, oldestPendingSeconds: 0 });
    const [event] = await deniedIn(hostile, "127.0.0.21");
    expect(event?.userAgent).toBe(longUa.slice(0, USER_AGENT_MAX_LENGTH));
    expect(event?.context.count).toBe(1);
    expect(await deniedIn(other, "127.0.0.22")).toHaveLength(1);
  });

  it("refuses a client's access.denied, and writes the flush's own one in its own id space", async () => {
    // Prepare: the attacker tries to post a forged count under the flush's old, predictable id.
    const ws = await workspace("forged");
    const windowStart = new Date(Math.floor(api.clock.now().getTime() / 60_000) * 60_000).toISOString();
    const predictable = `denied.${sha256Hex(`${ws.id}|127.0.0.23|${windowStart}`).slice(0, 32)}`;
    const forged = await call(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: {
        id: predictable,
        type: "access.denied",
        actor: { type: "api_key", id: "unauthenticated" },
        sourceIp: "127.0.0.23",
        outcome: "failure",
        context: { reason: "wrong_secret", method: "GET", path: "/v1/events", count: 1 },
      },
    });
    for (let i = 0; i < 3; i++)
      await callFrom("127.0.0.23", api, "GET", "/v1/events", { key: wrongSecret(ws) });
    api.clock.advance(60_000);

    // Act
    const flushed = await flush();

    // Assess: access.denied is the service's own type; its event has the real count, under `~`.
    expect(forged.status).toBe(400);
    expect(flushed.failed).toBe(0);
    const events = await deniedIn(ws, "127.0.0.23");
    expect(events).toHaveLength(1);
    const own = events[0];
    expect(own?.id.startsWith("~denied.")).toBe(true);
    expect(own?.context.count).toBe(3);
    const byId = await call<Ev>(api, "GET", `/v1/events/${own?.id}`, { key: ws.keys.reader });
    expect(byId.status).toBe(200);
    expect(byId.body.context.count).toBe(3);
  });

  it("leaves a window's event as it is when a late attempt makes the window pending again", async () => {
    // Prepare: a window flushed, then one more failure counted into it (a request in flight at the
    // window's end), which sets it pending again.
    const ws = await workspace("late");
    await callFrom("127.0.0.26", api, "GET", "/v1/events", { key: wrongSecret(ws) });
    const windowStart = new Date(Math.floor(api.clock.now().getTime() / 60_000) * 60_000);
    api.clock.advance(60_000);
    expect((await flush()).failed).toBe(0);
    await api.deps.control.countFailure({
      target: ws.id,
      ip: "127.0.0.26",
      windowStart: windowStart.toISOString(),
      windowEnd: new Date(windowStart.getTime() + 60_000).toISOString(),
      method: "GET",
      path: "/v1/events",
      reason: "wrong_secret",
    });

    // Act
    const rerun = await flush();

    // Assess: no failure, no second event; the window is done.
    expect(rerun.failed).toBe(0);
    expect(await deniedIn(ws, "127.0.0.26")).toHaveLength(1);
    expect((await flush()).flushed).toBe(0);
  });

  it("refuses a client id in the service's namespace", async () => {
    const ws = await workspace("namespace");
    const res = await call<{ errors: { path: string }[] }>(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: {
        id: "~denied.0123",
        type: "node.added",
        actor: { type: "user", id: "mallory@evil.example" },
        node: { id: "n1" },
        sourceIp: "198.51.100.66",
        context: {},
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e) => e.path)).toContain("/id");
  });

  it("stops starting windows when the invocation's time runs short, and the next run writes the rest", async () => {
    const a = await workspace("short-a");
    const b = await workspace("short-b");
    await callFrom("127.0.0.31", api, "GET", "/v1/events", { key: wrongSecret(a) });
    await callFrom("127.0.0.32", api, "GET", "/v1/events", { key: wrongSecret(b) });
    api.clock.advance(60_000);
    // Lambda's clock, as the handler reads it: plenty left, then short after one window.
    let remaining = 60_000;
    const context = { getRemainingTimeInMillis: () => remaining };
    const flushing = makeFlush({
      ...api.deps,
      // The store itself, with the clock turning short after each append.
      events: Object.assign(Object.create(api.deps.events) as typeof api.deps.events, {
        append: async (records: Parameters<typeof api.deps.events.append>[0]) => {
          const out = await api.deps.events.append(records);
          remaining = 5_000;
          return out;
        },
      }),
    });
    const first = await flushing(undefined, context);
    const written = (await deniedIn(a, "127.0.0.31")).length + (await deniedIn(b, "127.0.0.32")).length;
    expect(first.left).toBeGreaterThan(0);
    expect(written).toBeLessThan(2);
    expect(first.oldestPendingSeconds).toBeGreaterThan(0);
    api.clock.advance(60_000);
    remaining = 60_000;
    const second = await flushing(undefined, context);
    expect(second.left).toBe(0);
    expect(await deniedIn(a, "127.0.0.31")).toHaveLength(1);
    expect(await deniedIn(b, "127.0.0.32")).toHaveLength(1);
  });

  it("goes on past a window it cannot write, reports it, and writes it on the next run", async () => {
    // Prepare: two windows; the first write of the first one fails, as a storage fault would make
    // it (SDK middleware: no engine can be told to fail one write of one item).
    const stuck = await workspace("stuck");
    const fine = await workspace("fine");
    await callFrom("127.0.0.24", api, "GET", "/v1/events", { key: wrongSecret(stuck) });
    await callFrom("127.0.0.25", api, "GET", "/v1/events", { key: wrongSecret(fine) });
    api.clock.advance(60_000);
    let faults = 1;
    api.dynamo.middlewareStack.add(
      (next) => async (args) => {
        const items = (args.input as { TransactItems?: { Put?: { Item?: { pk?: string } } }[] })
          .TransactItems;
        if (faults > 0 && items?.[0]?.Put?.Item?.pk?.startsWith(`${stuck.id}#id#~denied.`)) {
          faults--;
          throw new Error("injected: the write of this window failed");
        }
        return next(args);
      },
      { step: "initialize", name: "failStuckWindow" },
    );

    // Act
    let first: Awaited<ReturnType<typeof flush>>;
    try {
      first = await flush();
    } finally {
      api.dynamo.middlewareStack.remove("failStuckWindow");
    }
    const afterFirst = {
      stuck: await deniedIn(stuck, "127.0.0.24"),
      fine: await deniedIn(fine, "127.0.0.25"),
    };
    api.clock.advance(60_000);
    const second = await flush();

    // Assess
    expect(first.failed).toBe(1);
    // The window ended 5 s before this flush (requests at hh:mm:05, the clock 60 s on).
    expect(first.oldestPendingSeconds).toBe(5);
    expect(afterFirst.stuck).toHaveLength(0);
    expect(afterFirst.fine).toHaveLength(1);
    expect(second.failed).toBe(0);
    expect(await deniedIn(stuck, "127.0.0.24")).toHaveLength(1);
  });
});

describe("reaches into another workspace (issue 11, item 3)", () => {
  let api: TestApi;
  let demo: TestWorkspace;
  let other: TestWorkspace;
  beforeAll(async () => {
    api = await startApi({ now: "2026-03-11T05:00:05.000Z" });
    demo = await workspace("reach-demo");
    other = await workspace("reach-other");
    const body = {
      id: "demo-only",
      type: "node.added",
      actor: { type: "user", id: "alice@acme.example" },
      node: { id: "n1" },
      context: {},
    };
    expect((await call(api, "POST", "/v1/events", { key: demo.keys.writer, body })).status).toBe(201);
  });
  afterAll(() => api.close());

  /** The DynamoDB requests one call makes, by command, in order (SDK middleware that only counts). */
  /**
   * The DynamoDB requests `run` sends, as `<command> <first segment of the partition key>`, sorted
   * (the rate count and the source check go out beside the route's own read).
   */
  async function requestsOf(run: () => Promise<unknown>): Promise<string[]> {
    const sent: string[] = [];
    const name = `count-${Math.random()}`;
    api.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: { pk?: string } }).Key?.pk ?? "";
        sent.push(`${String(context.commandName)} ${key.split("#")[0]}`);
        sent.sort();
        return next(args);
      },
      { step: "initialize", name },
    );
    try {
      await run();
    } finally {
      api.dynamo.middlewareStack.remove(name);
    }
    return sent;
  }

  it("counts no reach for an id no resource can have, so junk cannot jam the flush", async () => {
    const junk = "z".repeat(3_000);
    const requests = await requestsOf(async () =>
      expect((await call(api, "GET", `/v1/keys/${junk}`, { key: other.keys.admin })).status).toBe(404),
    );
    expect(requests.filter((r) => r.endsWith(" reach"))).toEqual([]);
    api.clock.advance(60_000);
    expect((await makeFlush(api.deps)()).failed).toBe(0);
  });

  it("answers another workspace's export id exactly as an unknown one, with the same requests", async () => {
    const created = await call<{ id: string }>(api, "POST", "/v1/exports", {
      key: demo.keys.reader,
      body: { format: "csv", type: "node.added" },
    });
    expect(created.status).toBe(202);
    await call(api, "GET", "/v1/exports/01ARZ3NDEKTSV4RRFFQ69G5FAV", { key: other.keys.reader });
    const foreign = await requestsOf(() =>
      call(api, "GET", `/v1/exports/${created.body.id}`, { key: other.keys.reader }),
    );
    const unknown = await requestsOf(() =>
      call(api, "GET", "/v1/exports/01ARZ3NDEKTSV4RRFFQ69G5FAW", { key: other.keys.reader }),
    );
    expect(foreign).toEqual(unknown);
    // The export job, the source's failure window, the reach count (the rate count went with the
    // first request of this second).
    expect(foreign).toEqual(["GetItemCommand export", "GetItemCommand fail", "UpdateItemCommand reach"]);
  });

  it("answers another workspace's id exactly as an unknown one, with the same requests", async () => {
    // Prepare: the key's record cached, as on any warm request.
    await call(api, "GET", "/v1/events/warm-up", { key: other.keys.reader });
    const foreign = await requestsOf(async () =>
      expect((await call(api, "GET", "/v1/events/demo-only", { key: other.keys.reader })).status).toBe(404),
    );
    const unknown = await requestsOf(async () =>
      expect((await call(api, "GET", "/v1/events/nobody-has-this", { key: other.keys.reader })).status).toBe(
        404,
      ),
    );
    expect(foreign).toEqual(unknown);
    // The id guard in the caller's own workspace, the source's failure window, the reach count (the
    // rate count went with the first request of this second).
    expect(foreign).toEqual(
      [`GetItemCommand ${other.id}`, "GetItemCommand fail", "UpdateItemCommand reach"].sort(),
    );
  });

  it("writes nothing into the owner's log on the request path, then one aggregated event per window", async () => {
    // Act: a burst from one key and address, known and unknown ids mixed.
    for (let i = 0; i < 40; i++) {
      await callFrom("127.0.0.31", api, "GET", `/v1/events/${i % 2 ? "demo-only" : `guess-${i}`}`, {
        key: other.keys.reader,
      });
    }
    const before = await listAll(api, demo.keys.reader, "type=access.denied");
    api.clock.advance(60_000);
    await makeFlush(api.deps)();
    await makeFlush(api.deps)(); // a rerun writes nothing twice

    // Assess
    expect(before).toEqual([]);
    const seen = ((await listAll(api, demo.keys.reader, "type=access.denied")) as Ev[]).filter(
      (e) => e.sourceIp === "127.0.0.31",
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.context).toMatchObject({
      reason: "cross_workspace",
      count: 40,
      resource: { type: "event", id: "demo-only" },
      resources: [{ type: "event", id: "demo-only" }],
    });
    expect(await listAll(api, other.keys.reader, "type=access.denied")).toEqual([]);
  });
});
