import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

/**
 * A property (fast-check): whatever two workspaces record, and whatever filters and cursors one of
 * them uses, no list, get, export or cursor of one ever returns or reveals the other's events. Both
 * workspaces draw ids, actors, nodes and types from the same small pools, so they collide often.
 */
describe("tenant isolation, as a property", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  const TYPES = ["node.added", "node.removed", "config.threshold_changed"] as const;
  const ids = fc.constantFrom("e1", "e2", "e3", "e4", "shared-id");
  const actors = fc.constantFrom("alice@acme.example", "bob@acme.example", "mallory@evil.example");
  const nodes = fc.constantFrom("nyc-edge-01", "fra-core-01");
  const event = fc.record({ id: ids, actor: actors, node: nodes, type: fc.constantFrom(...TYPES) });
  const filters = fc.record(
    {
      actor: actors,
      node: nodes,
      type: fc.constantFrom<string>(...TYPES, "node.*", "config.*"),
      outcome: fc.constantFrom("success", "failure"),
      limit: fc.integer({ min: 1, max: 3 }),
    },
    { requiredKeys: [] },
  );

  const body = (e: { id: string; actor: string; node: string; type: string }, ws: string) => ({
    id: e.id,
    type: e.type,
    actor: { type: "user", id: e.actor },
    node: { id: e.node },
    context:
      e.type === "config.changed" ? { changes: [{ field: "owner", from: "x", to: ws }] } : { owner: ws },
  });

  it("never shows one workspace's events to the other", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 1, maxLength: 4 }),
        fc.array(event, { minLength: 1, maxLength: 4 }),
        filters,
        async (mine, theirs, filter) => {
          // Prepare: two fresh workspaces, each recording its events (same ids may repeat: replays).
          const a: TestWorkspace = await workspace("prop-a");
          const b: TestWorkspace = await workspace("prop-b");
          for (const e of mine)
            await call(api, "POST", "/v1/events", { key: a.keys.writer, body: body(e, a.id) });
          for (const e of theirs)
            await call(api, "POST", "/v1/events", { key: b.keys.writer, body: body(e, b.id) });
          const owned = (events: Record<string, unknown>[], ws: string) =>
            events.filter((e) => JSON.stringify(e.context).includes(ws));

          // Act + Assess: b's filtered listing, page by page, holds only b's events (and its audit).
          const qs = new URLSearchParams(
            Object.fromEntries(Object.entries(filter).map(([k, v]) => [k, String(v)])),
          );
          const seen = await listAll(api, b.keys.reader, qs.toString());
          expect(owned(seen, a.id)).toEqual([]);
          expect(
            seen.every((e) => String(e.type).startsWith("audit.") || owned([e], b.id).length === 1),
          ).toBe(true);

          // A cursor of a's is refused to b, and b's gets of a's ids show b's own or nothing.
          const firstPage = await call<{ nextCursor: string | null }>(api, "GET", "/v1/events?limit=1", {
            key: a.keys.reader,
          });
          if (firstPage.body.nextCursor) {
            const stolen = await call(api, "GET", `/v1/events?limit=1&cursor=${firstPage.body.nextCursor}`, {
              key: b.keys.reader,
            });
            expect(stolen.status).toBe(400);
          }
          for (const e of mine) {
            const got = await call<{ context?: unknown }>(api, "GET", `/v1/events/${e.id}`, {
              key: b.keys.reader,
            });
            if (got.status === 200) expect(JSON.stringify(got.body.context)).toContain(b.id);
            else expect(got.status).toBe(404);
          }

          // An export of b's, with the same filter, holds none of a's events either.
          const { limit: _limit, ...exportFilter } = filter;
          const created = await call<{ id: string }>(api, "POST", "/v1/exports", {
            key: b.keys.reader,
            body: { format: "ndjson", ...exportFilter },
          });
          expect(created.status).toBe(202);
          await api.runQueuedExports();
          const view = await call<{ status: string; url?: string }>(
            api,
            "GET",
            `/v1/exports/${created.body.id}`,
            {
              key: b.keys.reader,
            },
          );
          expect(view.body.status).toBe("ready");
          const file = await (await fetch(view.body.url as string)).text();
          expect(file.includes(a.id)).toBe(false);
        },
      ),
      { numRuns: 15 },
    );
  }, 120_000);
});
