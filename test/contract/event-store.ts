import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FixedClock } from "../../functions/shared/clock.js";
import { UnavailableError } from "../../functions/shared/errors.js";
import {
  APPEND_DEADLINE_MS,
  type AppendGuard,
  type ControlStore,
  type EventQuery,
  type EventRecord,
  type EventStore,
  type Position,
} from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { at, type EventSpec, future, NEVER, NOW_SECONDS, recordOf, storedEvent } from "./events.js";

/** One EventStore under test, with what its contract needs around it. */
export interface EventStoreSubject {
  store: EventStore;
  /** The control store whose failure counters an {@link AppendGuard} holds a condition on. */
  control: ControlStore;
  /** The store's clock: the append deadline is measured on it. */
  clock: FixedClock;
  /** A workspace id no other test uses. */
  workspace(label: string): string;
  cleanup(): Promise<void>;
}

const ids = (events: { id: string }[]) => events.map((e) => e.id);

/** A source address no other test counts failures for. */
const uniqueIp = () => {
  const hex = randomUUID().replaceAll("-", "");
  return `2001:db8:${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}::1`;
};

/**
 * The EventStore port's documented behaviour (functions/shared/ports.ts), run against every
 * implementation: the write-once append and its per-record results, the append guard and
 * deadline, reads by id, and queries (order, filters, bounds, paging, expiry).
 */
export function eventStoreContract(name: string, factory: () => Promise<EventStoreSubject>): void {
  describe(`EventStore contract: ${name}`, () => {
    let s: EventStoreSubject;
    beforeEach(async () => {
      s = await factory();
    });
    afterEach(async () => {
      await s.cleanup();
    });

    /** Appends with the clock at the records' recordedAt (as the core stamps them). */
    async function append(records: EventRecord[], guard?: AppendGuard) {
      s.clock.set(records[0]?.event.recordedAt ?? at(0));
      return s.store.append(records, guard);
    }

    /** Stores each event, one append per instant, and checks each was created. */
    async function seed(workspaceId: string, specs: EventSpec[], expiresAt = NEVER): Promise<StoredEvent[]> {
      const events = specs.map(storedEvent);
      const instants = [...new Set(events.map((e) => e.recordedAt))];
      for (const instant of instants) {
        const batch = events
          .filter((e) => e.recordedAt === instant)
          .map((e) => recordOf(workspaceId, e, { expiresAt }));
        expect((await append(batch)).map((r) => r.status)).toEqual(batch.map(() => "created"));
      }
      return events;
    }

    /** Every page of a query, following `next` the way its order walks. */
    async function allPages(q: EventQuery): Promise<{ pages: string[][]; nexts: (Position | undefined)[] }> {
      const pages: string[][] = [];
      const nexts: (Position | undefined)[] = [];
      let next: Position | undefined;
      do {
        const page = await s.store.query({
          ...q,
          ...(next === undefined ? {} : q.ascending ? { after: next } : { before: next }),
        });
        pages.push(ids(page.events));
        nexts.push(page.next);
        next = page.next;
        if (pages.length > 50) throw new Error("paging does not end");
      } while (next !== undefined);
      return { pages, nexts };
    }

    async function streamed(q: Omit<EventQuery, "limit">): Promise<string[]> {
      const out: string[] = [];
      for await (const e of s.store.stream(q)) out.push(e.id);
      return out;
    }

    describe("append and reads by id", () => {
      it("stores each record whole: getAt, findById and query return the event as given", async () => {
        // Prepare
        const ws = s.workspace("evt-whole");
        const event = storedEvent({
          id: "inc-1",
          at: at(0),
          node: "nyc-edge-01",
          sourceIp: "203.0.113.42",
          context: { incidentId: "inc-1", peak: { pps: 1_840_000, bps: 9.42e9 }, tags: ["a", "b"] },
        });
        const record = recordOf(ws, event, { expiresAt: NEVER - 1 });

        // Act
        const results = await append([record]);

        // Assert
        expect(results).toEqual([{ status: "created" }]);
        expect(await s.store.getAt(ws, "inc-1", event.recordedAt, NOW_SECONDS)).toEqual(event);
        expect(await s.store.findById(ws, "inc-1", NOW_SECONDS)).toEqual({
          contentHash: record.contentHash,
          recordedAt: event.recordedAt,
          event,
        });
        const page = await s.store.query({ workspaceId: ws, limit: 10, nowEpochSeconds: NOW_SECONDS });
        expect(page).toEqual({ events: [event], next: undefined });
      });

      it("hands out copies: changing a returned event changes nothing stored", async () => {
        // Prepare
        const ws = s.workspace("evt-copy");
        const [event] = await seed(ws, [{ id: "c-1", at: at(0) }]);
        const read = await s.store.getAt(ws, "c-1", at(0), NOW_SECONDS);
        if (!read) throw new Error("the event was not stored");

        // Act
        read.actor.id = "mallory";
        read.context.incidentId = "forged";

        // Assert
        expect(await s.store.getAt(ws, "c-1", at(0), NOW_SECONDS)).toEqual(event);
      });

      it("never overwrites: a second append of an id answers `taken` with the first guard, and the first event stays", async () => {
        // Prepare
        const ws = s.workspace("evt-once");
        const first = storedEvent({ id: "dup-1", at: at(0), actor: "alice" });
        const firstRecord = recordOf(ws, first, { contentHash: "a".repeat(64), expiresAt: NEVER - 7 });
        await append([firstRecord]);
        const second = storedEvent({ id: "dup-1", at: at(5), actor: "mallory" });

        // Act
        const results = await append([
          recordOf(ws, second, { contentHash: "b".repeat(64), expiresAt: NEVER }),
        ]);

        // Assert
        expect(results).toEqual([
          {
            status: "taken",
            contentHash: "a".repeat(64),
            recordedAt: first.recordedAt,
            expiresAt: NEVER - 7,
            withEvent: true,
          },
        ]);
        expect(await s.store.getAt(ws, "dup-1", second.recordedAt, NOW_SECONDS)).toBeUndefined();
        expect(await s.store.findById(ws, "dup-1", NOW_SECONDS)).toEqual({
          contentHash: "a".repeat(64),
          recordedAt: first.recordedAt,
          event: first,
        });
        const page = await s.store.query({ workspaceId: ws, limit: 10, nowEpochSeconds: NOW_SECONDS });
        expect(page.events).toEqual([first]);
      });

      it("answers one result per record, in order, storing the free ids of a batch that has taken ones", async () => {
        // Prepare
        const ws = s.workspace("evt-batch");
        await seed(ws, [{ id: "b-2", at: at(0) }]);
        const batch = ["b-1", "b-2", "b-3"].map((id) => recordOf(ws, storedEvent({ id, at: at(1) })));

        // Act
        const results = await append(batch);

        // Assert
        expect(results.map((r) => r.status)).toEqual(["created", "taken", "created"]);
        expect(results[1]).toMatchObject({ status: "taken", recordedAt: at(0) });
        const page = await s.store.query({ workspaceId: ws, limit: 10, nowEpochSeconds: NOW_SECONDS });
        expect(ids(page.events)).toEqual(["b-3", "b-1", "b-2"]);
      });

      it("stores a batch larger than one transaction, and settles each taken id in it", async () => {
        // Prepare
        const ws = s.workspace("evt-large");
        const all = Array.from({ length: 120 }, (_, i) =>
          recordOf(ws, storedEvent({ id: `l-${String(i).padStart(3, "0")}`, at: at(0) })),
        );
        const taken = new Set([0, 48, 49, 50, 98, 119]);
        await append(all.filter((_, i) => taken.has(i)));

        // Act
        const results = await append(all);

        // Assert
        expect(results.map((r) => r.status)).toEqual(all.map((_, i) => (taken.has(i) ? "taken" : "created")));
        const listed = await streamed({ workspaceId: ws, nowEpochSeconds: NOW_SECONDS, ascending: true });
        expect(listed).toEqual(all.map((r) => r.event.id));
      });

      it("keeps one id per workspace: the same id in two workspaces is two events, and findOwners names both", async () => {
        // Prepare
        const id = `shared-${randomUUID()}`;
        const [a, b] = [s.workspace("evt-own-a"), s.workspace("evt-own-b")].sort();
        if (!a || !b) throw new Error("two workspaces expected");

        // Act
        const results = [
          ...(await append([recordOf(b, storedEvent({ id, at: at(0), actor: "bob" }))])),
          ...(await append([recordOf(a, storedEvent({ id, at: at(1), actor: "alice" }))])),
        ];

        // Assert
        expect(results).toEqual([{ status: "created" }, { status: "created" }]);
        expect(await s.store.findOwners(id)).toEqual([a, b]);
        expect(await s.store.findOwners(`unknown-${randomUUID()}`)).toEqual([]);
        expect((await s.store.findById(a, id, NOW_SECONDS))?.event?.actor.id).toBe("alice");
        expect((await s.store.findById(b, id, NOW_SECONDS))?.event?.actor.id).toBe("bob");
      });

      it("hides an expired event from every read (expiresAt at or before now), but its id stays taken", async () => {
        // Prepare
        const ws = s.workspace("evt-ttl");
        const expiresAt = NOW_SECONDS + 60;
        const [event] = await seed(ws, [{ id: "ttl-1", at: at(0) }], expiresAt);
        if (!event) throw new Error("seeded nothing");

        // Act
        const retry = await append([recordOf(ws, storedEvent({ id: "ttl-1", at: at(3) }))]);

        // Assert
        expect(retry).toEqual([
          expect.objectContaining({ status: "taken", recordedAt: at(0), expiresAt, withEvent: true }),
        ]);
        expect(await s.store.getAt(ws, "ttl-1", at(0), expiresAt - 1)).toEqual(event);
        expect((await s.store.findById(ws, "ttl-1", expiresAt - 1))?.event).toEqual(event);
        expect(
          ids((await s.store.query({ workspaceId: ws, limit: 5, nowEpochSeconds: expiresAt - 1 })).events),
        ).toEqual(["ttl-1"]);
        for (const now of [expiresAt, expiresAt + 1]) {
          expect(await s.store.getAt(ws, "ttl-1", at(0), now)).toBeUndefined();
          expect(await s.store.findById(ws, "ttl-1", now)).toBeUndefined();
          expect(await s.store.query({ workspaceId: ws, limit: 5, nowEpochSeconds: now })).toEqual({
            events: [],
            next: undefined,
          });
          expect(await streamed({ workspaceId: ws, nowEpochSeconds: now })).toEqual([]);
        }
      });

      it("getAt finds an event only at the recordedAt it was stored at, and only in its workspace", async () => {
        // Prepare
        const ws = s.workspace("evt-getat");
        const other = s.workspace("evt-getat-other");
        await seed(ws, [{ id: "g-1", at: at(0) }]);

        // Act
        const reads = await Promise.all([
          s.store.getAt(ws, "g-1", at(0, 1), NOW_SECONDS),
          s.store.getAt(other, "g-1", at(0), NOW_SECONDS),
          s.store.findById(other, "g-1", NOW_SECONDS),
          s.store.getAt(ws, "g-1", at(0), NOW_SECONDS),
        ]);

        // Assert
        expect(reads.slice(0, 3)).toEqual([undefined, undefined, undefined]);
        expect(reads[3]?.id).toBe("g-1");
      });
    });

    describe("the append guard and deadline", () => {
      const failOnce = (ip: string, windowStart: string) =>
        s.control.countFailure({
          target: s.workspace("evt-guard-target"),
          ip,
          windowStart,
          windowEnd: new Date(Date.parse(windowStart) + 60_000).toISOString(),
          method: "GET",
          path: "/v1/events",
          reason: "unknown_key",
        });

      it("refuses every record while the source's failures in its window are over maxFailures, storing nothing", async () => {
        // Prepare
        const ws = s.workspace("evt-guard");
        const ip = uniqueIp();
        const windowStart = future(0);
        for (let i = 0; i < 3; i++) await failOnce(ip, windowStart);
        const batch = ["r-1", "r-2"].map((id) => recordOf(ws, storedEvent({ id, at: at(0, 500) })));

        // Act
        const results = await append(batch, { sourceIp: ip, windowStart, maxFailures: 2 });

        // Assert
        expect(results).toEqual([{ status: "refused" }, { status: "refused" }]);
        expect(await s.store.findById(ws, "r-1", NOW_SECONDS)).toBeUndefined();
        expect(await s.store.findById(ws, "r-2", NOW_SECONDS)).toBeUndefined();
      });

      it("writes while the count is at most maxFailures, absent, or counted in another window", async () => {
        // Prepare
        const ws = s.workspace("evt-guard-ok");
        const ip = uniqueIp();
        for (let i = 0; i < 2; i++) await failOnce(ip, future(0));
        for (let i = 0; i < 5; i++) await failOnce(ip, future(1));
        const write = (id: string, guard: AppendGuard) =>
          append([recordOf(ws, storedEvent({ id, at: at(1, 10) }))], guard);

        // Act
        const results = [
          ...(await write("ok-at-max", { sourceIp: ip, windowStart: future(0), maxFailures: 2 })),
          ...(await write("ok-no-count", { sourceIp: uniqueIp(), windowStart: future(1), maxFailures: 0 })),
          ...(await write("ok-other-window", { sourceIp: ip, windowStart: future(2), maxFailures: 0 })),
          ...(await write("refused", { sourceIp: ip, windowStart: future(1), maxFailures: 4 })),
        ];

        // Assert
        expect(results.map((r) => r.status)).toEqual(["created", "created", "created", "refused"]);
      });

      it("refuses a throttled source's whole append even where an id is taken", async () => {
        // Prepare
        const ws = s.workspace("evt-guard-taken");
        const ip = uniqueIp();
        await seed(ws, [{ id: "t-1", at: at(0) }]);
        await failOnce(ip, future(0));

        // Act
        const results = await append(
          ["t-1", "t-2"].map((id) => recordOf(ws, storedEvent({ id, at: at(0, 900) }))),
          { sourceIp: ip, windowStart: future(0), maxFailures: 0 },
        );

        // Assert
        expect(results).toEqual([{ status: "refused" }, { status: "refused" }]);
        expect(await s.store.findById(ws, "t-2", NOW_SECONDS)).toBeUndefined();
      });

      it(`answers unavailable, storing nothing, once ${APPEND_DEADLINE_MS} ms have passed since the records' recordedAt`, async () => {
        // Prepare
        const ws = s.workspace("evt-deadline");
        const late = recordOf(ws, storedEvent({ id: "late", at: at(0) }));
        const inTime = recordOf(ws, storedEvent({ id: "in-time", at: at(0) }));

        // Act
        s.clock.set(new Date(Date.parse(at(0)) + APPEND_DEADLINE_MS));
        const lateResults = await s.store.append([late]);
        // What is left of the deadline is the request's real timeout: leave it a few seconds.
        s.clock.set(new Date(Date.parse(at(0)) + APPEND_DEADLINE_MS - 5_000));
        const inTimeResults = await s.store.append([inTime]);

        // Assert
        expect(lateResults).toEqual([{ status: "unavailable", error: expect.any(UnavailableError) }]);
        expect(await s.store.findById(ws, "late", NOW_SECONDS)).toBeUndefined();
        expect(inTimeResults).toEqual([{ status: "created" }]);
      });
    });

    it("rejects an append that names one id twice (a caller's defect), storing neither", async () => {
      // Prepare
      const ws = s.workspace("evt-twice");
      const twice = [
        recordOf(ws, storedEvent({ id: "twice", at: at(0) })),
        recordOf(ws, storedEvent({ id: "twice", at: at(0), actor: "bob" })),
      ];

      // Act
      const appended = append(twice);

      // Assert
      await expect(appended).rejects.toThrow();
      expect(await s.store.findById(ws, "twice", NOW_SECONDS)).toBeUndefined();
    });

    describe("query", () => {
      /** Eight events over seven minutes; two share the instant at(3) and are ordered by id. */
      const LOG: EventSpec[] = [
        { id: "e0", at: at(0), type: "incident.opened", actor: "system", node: "nyc-edge-01" },
        {
          id: "e1",
          at: at(1),
          type: "pcap.download",
          actor: "bob",
          node: "sgp-edge-05",
          sourceIp: "198.51.100.2",
        },
        {
          id: "e2",
          at: at(2),
          type: "node.added",
          actor: "alice",
          node: "sgp-edge-05",
          sourceIp: "203.0.113.42",
        },
        {
          id: "e3-a",
          at: at(3),
          type: "auth.login_failed",
          actor: "mallory",
          outcome: "failure",
          sourceIp: "198.51.100.66",
        },
        {
          id: "e3-b",
          at: at(3),
          type: "pcap.download",
          actor: "alice",
          node: "nyc-edge-01",
          sourceIp: "203.0.113.42",
        },
        { id: "e4", at: at(4), type: "incident.resolved", actor: "system", node: "nyc-edge-01" },
        { id: "e5", at: at(5), type: "pcap.uploaded", actor: "bob" },
        {
          id: "e6",
          at: at(6),
          type: "auth.login_failed",
          actor: "alice",
          outcome: "failure",
          sourceIp: "198.51.100.66",
        },
      ];
      const NEWEST_FIRST = ["e6", "e5", "e4", "e3-b", "e3-a", "e2", "e1", "e0"];
      let ws: string;
      let events: Map<string, StoredEvent>;
      const pos = (id: string) => s.store.positionOf(events.get(id) as StoredEvent);
      const run = async (q: Partial<EventQuery>) =>
        ids(
          (await s.store.query({ workspaceId: ws, limit: 100, nowEpochSeconds: NOW_SECONDS, ...q })).events,
        );

      beforeEach(async () => {
        ws = s.workspace("evt-query");
        events = new Map((await seed(ws, LOG)).map((e) => [e.id, e]));
        // The same ids and more in another workspace: no query of `ws` may see them.
        await seed(s.workspace("evt-query-other"), [
          ...LOG.map((e) => ({ ...e, actor: "alice", at: at(3) })),
          { id: "x", at: at(3), actor: "alice" },
        ]);
      });

      it("answers newest first, or oldest first when ascending, events of one instant ordered by id", async () => {
        // Act
        const newest = await run({});
        const oldest = await run({ ascending: true });

        // Assert
        expect(newest).toEqual(NEWEST_FIRST);
        expect(oldest).toEqual([...NEWEST_FIRST].reverse());
      });

      it("positionOf orders events as the log does (recordedAt, then id), and is what `next` hands out", async () => {
        // Act
        const positions = NEWEST_FIRST.map(pos);
        const page = await s.store.query({ workspaceId: ws, limit: 3, nowEpochSeconds: NOW_SECONDS });

        // Assert
        expect([...positions].sort().reverse()).toEqual(positions);
        expect(new Set(positions).size).toBe(positions.length);
        expect(s.store.positionOf({ recordedAt: at(3), id: "e3-a" })).toBe(pos("e3-a"));
        expect(page.next).toBe(pos("e4"));
      });

      it("filters by actor, node, types, outcome and source IP, alone and combined", async () => {
        // Act
        const answers = {
          actor: await run({ actorId: "alice" }),
          node: await run({ nodeId: "nyc-edge-01" }),
          types: await run({ types: ["pcap.download", "pcap.uploaded"] }),
          oneType: await run({ types: ["auth.login_failed"] }),
          outcome: await run({ outcome: "failure" }),
          success: await run({ outcome: "success", sourceIp: "203.0.113.42" }),
          sourceIp: await run({ sourceIp: "198.51.100.66" }),
          actorNode: await run({ actorId: "alice", nodeId: "nyc-edge-01" }),
          actorTypes: await run({ actorId: "bob", types: ["pcap.uploaded"] }),
          nodeTypes: await run({ nodeId: "sgp-edge-05", types: ["pcap.download", "node.added"] }),
          typesOutcome: await run({ types: ["auth.login_failed", "pcap.download"], outcome: "success" }),
          nodeIp: await run({ nodeId: "nyc-edge-01", sourceIp: "203.0.113.42" }),
          none: await run({ actorId: "alice", outcome: "failure", nodeId: "nyc-edge-01" }),
          unknownActor: await run({ actorId: "nobody" }),
        };

        // Assert
        expect(answers).toEqual({
          actor: ["e6", "e3-b", "e2"],
          node: ["e4", "e3-b", "e0"],
          types: ["e5", "e3-b", "e1"],
          oneType: ["e6", "e3-a"],
          outcome: ["e6", "e3-a"],
          success: ["e3-b", "e2"],
          sourceIp: ["e6", "e3-a"],
          actorNode: ["e3-b"],
          actorTypes: ["e5"],
          nodeTypes: ["e2", "e1"],
          typesOutcome: ["e3-b", "e1"],
          nodeIp: ["e3-b"],
          none: [],
          unknownActor: [],
        });
      });

      it("bounds by time: since inclusive, until exclusive, recordedBy inclusive of its whole instant", async () => {
        // Act
        const answers = {
          since: await run({ since: at(3) }),
          until: await run({ until: at(3) }),
          recordedBy: await run({ recordedBy: at(3) }),
          window: await run({ since: at(1), until: at(4) }),
          oneInstant: await run({ since: at(3), until: at(3, 1) }),
          byAndUntil: await run({ recordedBy: at(5), until: at(5) }),
          ascending: await run({ since: at(2), recordedBy: at(4), ascending: true }),
        };

        // Assert
        expect(answers).toEqual({
          since: ["e6", "e5", "e4", "e3-b", "e3-a"],
          until: ["e2", "e1", "e0"],
          recordedBy: ["e3-b", "e3-a", "e2", "e1", "e0"],
          window: ["e3-b", "e3-a", "e2", "e1"],
          oneInstant: ["e3-b", "e3-a"],
          byAndUntil: ["e4", "e3-b", "e3-a", "e2", "e1", "e0"],
          ascending: ["e2", "e3-a", "e3-b", "e4"],
        });
      });

      it("bounds by position: after and before exclusive, through inclusive, also between events of one instant", async () => {
        // Act
        const answers = {
          after: await run({ after: pos("e3-a"), ascending: true }),
          before: await run({ before: pos("e3-b") }),
          through: await run({ through: pos("e3-a") }),
          afterThrough: await run({ after: pos("e1"), through: pos("e3-b"), ascending: true }),
          afterBefore: await run({ after: pos("e2"), before: pos("e4") }),
          sinceBefore: await run({ since: at(3), before: pos("e5") }),
          afterUntil: await run({ after: pos("e3-a"), until: at(5) }),
          throughRecordedBy: await run({ through: pos("e5"), recordedBy: at(3) }),
        };

        // Assert
        expect(answers).toEqual({
          after: ["e3-b", "e4", "e5", "e6"],
          before: ["e3-a", "e2", "e1", "e0"],
          through: ["e3-a", "e2", "e1", "e0"],
          afterThrough: ["e2", "e3-a", "e3-b"],
          afterBefore: ["e3-b", "e3-a"],
          sinceBefore: ["e4", "e3-b", "e3-a"],
          afterUntil: ["e4", "e3-b"],
          throughRecordedBy: ["e3-b", "e3-a", "e2", "e1", "e0"],
        });
      });

      it("answers nothing, without an error, for bounds that cross or meet exclusively", async () => {
        // Act
        const answers = await Promise.all(
          [
            { since: at(4), until: at(2) },
            { since: at(3), until: at(3) },
            { after: pos("e4"), before: pos("e2") },
            { after: pos("e3-a"), before: pos("e3-b") },
            { after: pos("e3-a"), through: pos("e3-a") },
            { since: at(5), through: pos("e2") },
            { after: pos("e6"), ascending: true },
            { before: pos("e0") },
            { since: at(7) },
          ].map((q) => run(q)),
        );

        // Assert
        expect(answers).toEqual(answers.map(() => []));
      });

      it("pages with `next`: each page ends where the next begins, every event exactly once, both ways", async () => {
        // Act
        const newest = await allPages({ workspaceId: ws, limit: 3, nowEpochSeconds: NOW_SECONDS });
        const oldest = await allPages({
          workspaceId: ws,
          limit: 3,
          nowEpochSeconds: NOW_SECONDS,
          ascending: true,
        });

        // Assert
        expect(newest.pages).toEqual([
          ["e6", "e5", "e4"],
          ["e3-b", "e3-a", "e2"],
          ["e1", "e0"],
        ]);
        expect(newest.nexts).toEqual([pos("e4"), pos("e2"), undefined]);
        expect(oldest.pages).toEqual([
          ["e0", "e1", "e2"],
          ["e3-a", "e3-b", "e4"],
          ["e5", "e6"],
        ]);
        expect(oldest.nexts).toEqual([pos("e2"), pos("e4"), undefined]);
      });

      it("says there is no next page when the last page is exactly full, and pages a filtered, bounded query", async () => {
        // Act
        const exact = await allPages({ workspaceId: ws, limit: 4, nowEpochSeconds: NOW_SECONDS });
        const one = await allPages({
          workspaceId: ws,
          limit: 1,
          nowEpochSeconds: NOW_SECONDS,
          nodeId: "nyc-edge-01",
        });
        const filtered = await allPages({
          workspaceId: ws,
          limit: 2,
          nowEpochSeconds: NOW_SECONDS,
          types: ["pcap.download", "auth.login_failed", "pcap.uploaded"],
          since: at(1),
          recordedBy: at(5),
        });
        const all = await allPages({ workspaceId: ws, limit: 100, nowEpochSeconds: NOW_SECONDS });

        // Assert
        expect(exact.pages).toEqual([NEWEST_FIRST.slice(0, 4), NEWEST_FIRST.slice(4)]);
        expect(exact.nexts).toEqual([pos("e3-b"), undefined]);
        expect(one.pages).toEqual([["e4"], ["e3-b"], ["e0"]]);
        expect(filtered.pages).toEqual([
          ["e5", "e3-b"],
          ["e3-a", "e1"],
        ]);
        expect(filtered.nexts).toEqual([pos("e3-b"), undefined]);
        expect(all).toEqual({ pages: [NEWEST_FIRST], nexts: [undefined] });
      });

      it("streams every match in the query's order, with its filters and bounds", async () => {
        // Act
        const answers = {
          all: await streamed({ workspaceId: ws, nowEpochSeconds: NOW_SECONDS }),
          ascendingAfter: await streamed({
            workspaceId: ws,
            nowEpochSeconds: NOW_SECONDS,
            after: pos("e3-a"),
            until: at(6),
            ascending: true,
          }),
          actor: await streamed({ workspaceId: ws, nowEpochSeconds: NOW_SECONDS, actorId: "bob" }),
        };

        // Assert
        expect(answers).toEqual({
          all: NEWEST_FIRST,
          ascendingAfter: ["e3-b", "e4", "e5"],
          actor: ["e5", "e1"],
        });
      });

      it("never answers another workspace's events", async () => {
        // Act
        const answers = await Promise.all([
          run({}),
          run({ actorId: "alice" }),
          run({ since: at(3), recordedBy: at(3) }),
          streamed({ workspaceId: ws, nowEpochSeconds: NOW_SECONDS, types: ["incident.opened"] }),
        ]);

        // Assert
        expect(answers).toEqual([NEWEST_FIRST, ["e6", "e3-b", "e2"], ["e3-b", "e3-a"], ["e0"]]);
      });
    });

    it("leaves expired events out of pages and their paging, whatever their position", async () => {
      // Prepare
      const ws = s.workspace("evt-ttl-page");
      const soon = NOW_SECONDS + 10;
      const live = await seed(
        ws,
        [0, 2, 4].map((m) => ({ id: `live-${m}`, at: at(m) })),
      );
      await seed(
        ws,
        [1, 3, 5].map((m) => ({ id: `gone-${m}`, at: at(m) })),
        soon,
      );

      // Act
      const before = await allPages({ workspaceId: ws, limit: 2, nowEpochSeconds: soon - 1 });
      const after = await allPages({ workspaceId: ws, limit: 2, nowEpochSeconds: soon });

      // Assert
      expect(before.pages.flat()).toEqual(["gone-5", "live-4", "gone-3", "live-2", "gone-1", "live-0"]);
      expect(after.pages).toEqual([["live-4", "live-2"], ["live-0"]]);
      expect(after.nexts[0]).toBe(s.store.positionOf(live[1] as StoredEvent));
    });
  });
}
