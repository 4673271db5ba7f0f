import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FixedClock, ulidGenerator } from "../../functions/shared/clock.js";
import { type EventsDeps, recordEvents } from "../../functions/shared/core/events.js";
import { RecordCache } from "../../functions/shared/core/record-cache.js";
import { FAILURE_THRESHOLD, sourceGuard, type WriteGuard } from "../../functions/shared/core/throttle.js";
import { validationError } from "../../functions/shared/core/zod-errors.js";
import {
  ConflictError,
  TooManyRequestsError,
  UnavailableError,
  ValidationError,
} from "../../functions/shared/errors.js";
import type { AppendGuard, AppendResult, EventRecord, Principal } from "../../functions/shared/ports.js";
import { postEventsRequestSchema } from "../../functions/shared/schemas/event.js";
import { InMemoryControlStore, InMemoryEventStore, InMemoryLogStore } from "../support/in-memory/index.js";

/** POST /v1/events as the route makes it: the body validated at the edge, then the core. */
function post(deps: EventsDeps, principal: Principal, body: unknown, guard?: WriteGuard) {
  const parsed = postEventsRequestSchema.safeParse(body);
  if (!parsed.success) return Promise.reject(validationError(parsed.error));
  return recordEvents(deps, principal, parsed.data, guard);
}

/**
 * recordEvents (functions/shared/core/events.ts) on the in-memory ports: what becomes of every id
 * across many requests, checked against a model; and the answers the engine cannot be made to give
 * on demand, a lost answer and a throttled source.
 */

const DAY_MS = 86_400_000;
const principal: Principal = { workspaceId: "ws-1", keyId: "k-writer", scopes: ["events:write"] };

/** An event store whose answers are lost (the writes are made) for the records `lose` picks. */
class LossyEventStore extends InMemoryEventStore {
  lose: (index: number) => boolean = () => false;
  override async append(records: EventRecord[], guard?: AppendGuard): Promise<AppendResult[]> {
    const results = await super.append(records, guard);
    return results.map((r, i) =>
      this.lose(i)
        ? { status: "unavailable", error: new UnavailableError("lost", { operation: "append" }) }
        : r,
    );
  }
}

function setup(retentionDays = 1) {
  const clock = new FixedClock(new Date("2026-03-09T10:00:00.000Z"));
  const control = new InMemoryControlStore({ log: new InMemoryLogStore() });
  const events = new LossyEventStore({
    sourceFailures: (ip, windowStart) => control.sourceFailureCount(ip, windowStart),
    now: () => clock.now(),
  });
  const deps: EventsDeps = {
    events,
    control,
    records: new RecordCache(control, 60, clock),
    clock,
    newId: ulidGenerator(),
    defaultRetentionDays: retentionDays,
    cursorKey: async () => Buffer.alloc(32),
  };
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);
  return { clock, control, events, deps, nowSeconds };
}

const input = (id: string, content: string) => ({
  id,
  type: "incident.opened",
  actor: { type: "system", id: "detector" },
  node: { id: "nyc-edge-01" },
  context: { incidentId: content },
});

type Op =
  | { kind: "single"; id: string; content: string }
  | { kind: "batch"; items: { id: string; content: string }[] }
  | { kind: "advance"; ms: number };

const item = fc.record({
  id: fc.constantFrom("e-1", "e-2", "e-3", "e-4"),
  content: fc.constantFrom("A", "B"),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  item.map((i) => ({ kind: "single" as const, ...i })),
  fc.array(item, { minLength: 1, maxLength: 5 }).map((items) => ({ kind: "batch" as const, items })),
  fc.constantFrom(1_000, DAY_MS).map((ms) => ({ kind: "advance" as const, ms })),
);

type Status = "created" | "duplicate" | "conflict";

describe("recordEvents on the in-memory ports", () => {
  it("answers created once per id, duplicate for its content while it lives, conflict otherwise, and stores only the first", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const { clock, deps, events, nowSeconds } = setup();
        /** What the log holds per id: the content it was first stored with, when, and until when. */
        const model = new Map<string, { content: string; recordedAt: string; expiresAt: number }>();
        const expected = (id: string, content: string): Status => {
          const stored = model.get(id);
          if (!stored) return "created";
          return stored.content === content && stored.expiresAt > nowSeconds() ? "duplicate" : "conflict";
        };
        const store = (id: string, content: string) =>
          model.set(id, { content, recordedAt: clock.now().toISOString(), expiresAt: nowSeconds() + 86_400 });

        for (const o of ops) {
          if (o.kind === "advance") {
            clock.advance(o.ms);
            continue;
          }
          if (o.kind === "single") {
            const status = expected(o.id, o.content);
            const answer = post(deps, principal, input(o.id, o.content));
            if (status === "conflict") {
              await expect(answer).rejects.toBeInstanceOf(ConflictError);
              continue;
            }
            const outcome = await answer;
            expect(outcome).toMatchObject({
              kind: "single",
              status,
              event: { id: o.id, context: { incidentId: o.content } },
            });
            if (status === "created") store(o.id, o.content);
            if (outcome.kind === "single") expect(outcome.event.recordedAt).toBe(model.get(o.id)?.recordedAt);
            continue;
          }
          const firsts = new Map<string, string>();
          const invalid = o.items.some(
            ({ id, content }) => (firsts.get(id) ?? firsts.set(id, content).get(id)) !== content,
          );
          const answer = post(deps, principal, {
            events: o.items.map((i) => input(i.id, i.content)),
          });
          if (invalid) {
            await expect(answer).rejects.toBeInstanceOf(ValidationError);
            continue;
          }
          const statuses = new Map([...firsts].map(([id, content]) => [id, expected(id, content)]));
          // A repeat of an id within the batch answers as its first use does, but a repeat of a
          // created id is that event's duplicate. (A repeat of a conflicting id used to answer
          // "duplicate", as if its content were stored: this property found it.)
          const seen = new Set<string>();
          const results = o.items.map(({ id }) => {
            const first = statuses.get(id) as Status;
            const status = seen.has(id) && first === "created" ? "duplicate" : first;
            seen.add(id);
            return { id, status };
          });
          for (const [id, status] of statuses) if (status === "created") store(id, firsts.get(id) as string);
          if (results.some((r) => r.status === "conflict")) {
            const error = await answer.then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(ConflictError);
            expect((error as ConflictError).extensions.results).toEqual(results);
          } else {
            expect(await answer).toEqual({ kind: "batch", results });
          }
        }

        // Every id the model holds is stored once, with its first content, at its first recordedAt.
        const live = [...model].filter(([, m]) => m.expiresAt > nowSeconds());
        const listed = await events.query({ workspaceId: "ws-1", limit: 100, nowEpochSeconds: nowSeconds() });
        expect(listed.events.map((e) => [e.id, e.context.incidentId, e.recordedAt]).sort()).toEqual(
          live.map(([id, m]) => [id, m.content, m.recordedAt]).sort(),
        );
      }),
      { numRuns: 150 },
    );
  });

  it("settles a batch whose answer was lost by its retry: every event duplicate, each stored once", async () => {
    // Prepare
    const { clock, deps, events, nowSeconds } = setup(90);
    const body = {
      events: Array.from({ length: 60 }, (_, i) => input(`lost-${String(i).padStart(2, "0")}`, "A")),
    };
    const first = clock.now().toISOString();
    events.lose = (i) => i >= 49;
    const lost = await post(deps, principal, body).then(
      () => undefined,
      (e: unknown) => e,
    );

    // Act
    events.lose = () => false;
    clock.advance(5_000);
    const retry = await post(deps, principal, body);

    // Assert: the first answer named what was settled (the records whose answer came back), no more.
    expect(lost).toBeInstanceOf(UnavailableError);
    expect((lost as UnavailableError).extensions.results).toEqual(
      body.events.slice(0, 49).map((e) => ({ id: e.id, status: "created" })),
    );
    expect(retry).toEqual({
      kind: "batch",
      results: body.events.map((e) => ({ id: e.id, status: "duplicate" })),
    });
    const stored = await events.query({ workspaceId: "ws-1", limit: 100, nowEpochSeconds: nowSeconds() });
    expect(stored.events).toHaveLength(60);
    expect(new Set(stored.events.map((e) => e.recordedAt))).toEqual(new Set([first]));
  });

  it("refuses a throttled source's events (429 until its window ends), storing nothing; the next window writes", async () => {
    // Prepare
    const { clock, control, deps, events, nowSeconds } = setup(90);
    clock.set("2026-03-09T10:00:15.000Z");
    const ip = "198.51.100.66";
    for (let i = 0; i <= FAILURE_THRESHOLD; i++) {
      await control.countFailure({
        target: "_operator",
        ip,
        windowStart: "2026-03-09T10:00:00.000Z",
        windowEnd: "2026-03-09T10:01:00.000Z",
        method: "GET",
        path: "/v1/events",
        reason: "unknown_key",
      });
    }

    // Act
    const refused = await post(deps, principal, input("t-1", "A"), sourceGuard(clock, ip)).then(
      () => undefined,
      (e: unknown) => e,
    );
    clock.set("2026-03-09T10:01:00.000Z");
    const next = await post(deps, principal, input("t-1", "A"), sourceGuard(clock, ip));

    // Assert
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect((refused as TooManyRequestsError).headers["retry-after"]).toBe("45");
    expect(next).toMatchObject({
      kind: "single",
      status: "created",
      event: { recordedAt: "2026-03-09T10:01:00.000Z" },
    });
    expect((await events.findById("ws-1", "t-1", nowSeconds()))?.recordedAt).toBe("2026-03-09T10:01:00.000Z");
  });
});
