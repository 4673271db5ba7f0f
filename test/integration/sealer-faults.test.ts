import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LogDeps, leafDataOf, sealWorkspace, tileKey } from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { SEAL_SETTLE_MS } from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { CompactRange, leafHash } from "../../functions/shared/tlog/merkle.js";
import { compactFromEdges, edgeTiles } from "../../functions/shared/tlog/tiles.js";
import { call, listAll, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

const T0 = "2026-11-30T12:00:00.000Z";

/**
 * The same 300 events in every workspace, stamped at the same frozen instant. Each workspace's
 * tree starts with its own keys' three apikey.created events, a minute earlier.
 */
const batch = Array.from({ length: 300 }, (_, i) => ({
  id: `f-${String(i).padStart(4, "0")}`,
  type: "node.added",
  actor: { type: "system", id: "provisioner" },
  node: { id: `n${i}` },
  context: {},
}));

class Killed extends Error {}

/** The log's side effects, numbered: the k-th one throws, as a run killed there would stop. */
function killedAt(log: LogDeps, k: number): LogDeps {
  let n = 0;
  const step = () => {
    if (++n === k) throw new Killed(`killed at step ${k}`);
  };
  return {
    ...log,
    archive: {
      ...log.archive,
      get: log.archive.get.bind(log.archive),
      putOnce: async (...a) => {
        step();
        return log.archive.putOnce(...a);
      },
    },
    log: {
      getState: (w) => log.log.getState(w),
      anchorAtOrBefore: (w, k2) => log.log.anchorAtOrBefore(w, k2),
      putAnchor: async (...a) => {
        step();
        return log.log.putAnchor(...a);
      },
      putState: async (s) => {
        step();
        return log.log.putState(s);
      },
    },
    checkpoints: {
      signer: async () => {
        const s = await log.checkpoints.signer();
        return {
          ...s,
          signer: {
            ...s.signer,
            sign: async (t: Buffer) => {
              step();
              return s.signer.sign(t);
            },
          },
        };
      },
    },
  };
}

const SEEDED = 3;

describe("the sealer killed at each step, and two sealers racing", () => {
  let api: TestApi;
  let log: LogDeps;

  async function freshWorkspace(label: string) {
    api.clock.set(T0);
    const ws = await workspace(label, { now: new Date(Date.parse(T0) - 60_000) });
    for (let i = 0; i < batch.length; i += 100) {
      const res = await call(api, "POST", "/v1/events", {
        key: ws.keys.writer,
        body: { events: batch.slice(i, i + 100) },
      });
      expect(res.status).toBe(200);
    }
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    return ws;
  }

  /** The root over the workspace's keys' creation, then its node.added events, from the events themselves. */
  async function referenceRoot(ws: TestWorkspace): Promise<Buffer> {
    const listed = [
      ...(await listAll(api, ws.keys.reader, "type=apikey.created")).reverse(),
      ...(await listAll(api, ws.keys.reader, "type=node.added")).reverse(),
    ] as StoredEvent[];
    const r = CompactRange.empty();
    for (const e of listed) r.append(leafHash(leafDataOf(e)));
    return r.root();
  }

  /** The stored tree is whole: its edge tiles give the state's root, which is the reference. */
  async function expectWholeTree(ws: TestWorkspace) {
    const reference = await referenceRoot(ws);
    const state = await log.log.getState(ws.id);
    expect(state?.size).toBe(SEEDED + 300);
    expect(state?.root.equals(reference)).toBe(true);
    const edges = await Promise.all(
      edgeTiles(SEEDED + 300).map(async (id) => ({
        ...id,
        data: (await log.archive.get(tileKey(ws.id, id))) as Buffer,
      })),
    );
    expect(
      compactFromEdges(SEEDED + 300, edges)
        .root()
        .equals(reference),
    ).toBe(true);
    const full = await log.archive.get(tileKey(ws.id, { level: 0, n: 0, width: 256 }));
    expect(full).toHaveLength(256 * 32);
  }

  beforeAll(async () => {
    api = await startApi({ now: T0 });
    log = logDeps(api.deps, api.dynamo);
  });
  afterAll(() => api.close());

  it("killed at any step and run again, it gives the same tree", async () => {
    // Side effects of a first run of 300 events: 2 level-0 tiles, 2 anchors, a signature, the checkpoint object, the state.
    for (let k = 1; k <= 7; k++) {
      const ws = await freshWorkspace(`seal-kill-${k}`);
      await expect(
        sealWorkspace(killedAt(log, k), ws.id, api.clock.now()),
        `step ${k}`,
      ).rejects.toBeInstanceOf(Killed);
      expect((await log.log.getState(ws.id))?.size, `step ${k}`).toBeUndefined();
      const rerun = await sealWorkspace(log, ws.id, api.clock.now());
      expect(rerun, `step ${k}`).toMatchObject({ status: "sealed", size: SEEDED + 300 });
      await expectWholeTree(ws);
    }
    // and a run killed after its state was written has nothing left to do
    const ws = await freshWorkspace("seal-kill-after");
    await sealWorkspace(log, ws.id, api.clock.now());
    expect(await sealWorkspace(log, ws.id, api.clock.now())).toMatchObject({ status: "idle" });
  });

  it("two sealers at once give one tree", async () => {
    const ws = await freshWorkspace("seal-race");
    const outcomes = await Promise.all([
      sealWorkspace(log, ws.id, api.clock.now()),
      sealWorkspace(log, ws.id, api.clock.now()),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["raced", "sealed"]);
    await expectWholeTree(ws);
  });

  it("two sealers with different clocks (the nightly's start time, the schedule's now) give one tree", async () => {
    const ws = await freshWorkspace("seal-race-clocks");
    // 20 more events, 40 s after the first 300: only the later clock's cutoff reaches them.
    api.clock.set(new Date(Date.parse(T0) + 40_000));
    const more = batch.slice(0, 20).map((e) => ({ ...e, id: `${e.id}-more` }));
    expect(
      (await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: { events: more } })).status,
    ).toBe(200);
    const early = new Date(Date.parse(T0) + SEAL_SETTLE_MS + 1_000); // sees the 300
    const late = new Date(Date.parse(T0) + 40_000 + SEAL_SETTLE_MS + 1_000); // sees all 320
    const [a, b] = await Promise.all([sealWorkspace(log, ws.id, early), sealWorkspace(log, ws.id, late)]);
    expect([a.status, b.status]).toContain("sealed");
    // Whichever won, the next run reaches 320 and the stored tiles agree with the state.
    const after = await sealWorkspace(log, ws.id, late);
    const state = await log.log.getState(ws.id);
    expect(state?.size).toBe(SEEDED + 320);
    expect(["sealed", "idle"]).toContain(after.status);
    const reference = await referenceRoot(ws);
    expect(state?.root.equals(reference)).toBe(true);
    const edges = await Promise.all(
      edgeTiles(SEEDED + 320).map(async (id) => ({
        ...id,
        data: (await log.archive.get(tileKey(ws.id, id))) as Buffer,
      })),
    );
    expect(
      compactFromEdges(SEEDED + 320, edges)
        .root()
        .equals(reference),
    ).toBe(true);
  });
});
