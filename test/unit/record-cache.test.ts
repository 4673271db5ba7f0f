import { describe, expect, it } from "vitest";
import { FixedClock } from "../../functions/shared/clock.js";
import { RecordCache } from "../../functions/shared/core/record-cache.js";
import type { ApiKeyRecord, ControlStore, WorkspaceRecord } from "../../functions/shared/ports.js";

/** A control store that counts its reads (only the two methods the cache calls). */
function countingStore(records: {
  keys?: Record<string, ApiKeyRecord>;
  workspaces?: Record<string, WorkspaceRecord>;
}) {
  const reads: string[] = [];
  const store = {
    getApiKey: async (id: string) => {
      reads.push(`key:${id}`);
      return records.keys?.[id];
    },
    getWorkspace: async (id: string) => {
      reads.push(`ws:${id}`);
      return records.workspaces?.[id];
    },
  } as unknown as ControlStore;
  return { store, reads };
}

const key = (keyId: string, secretHash = "a".repeat(64)): ApiKeyRecord => ({
  keyId,
  workspaceId: "ws",
  secretHash,
  scopes: ["events:write"],
  name: keyId,
  createdAt: "2026-03-09T00:00:00.000Z",
});
const ws = (workspaceId: string): WorkspaceRecord => ({
  workspaceId,
  plan: "per-node",
  retentionDays: 90,
  createdAt: "2026-03-09T00:00:00.000Z",
});

describe("RecordCache", () => {
  it("reads a record once per TTL, then again", async () => {
    const clock = new FixedClock(new Date("2026-03-09T12:00:00.000Z"));
    const { store, reads } = countingStore({ keys: { k1: key("k1") }, workspaces: { w1: ws("w1") } });
    const cache = new RecordCache(store, 60, clock);
    await cache.apiKey("k1", () => true);
    await cache.workspace("w1");
    clock.advance(59_999);
    await cache.apiKey("k1", () => true);
    await cache.workspace("w1");
    expect(reads).toEqual(["key:k1", "ws:w1"]);
    clock.advance(1);
    await cache.apiKey("k1", () => true);
    expect(reads).toEqual(["key:k1", "ws:w1", "key:k1"]);
  });

  it("never keeps a record that does not exist, so a new key works at once", async () => {
    const clock = new FixedClock(new Date("2026-03-09T12:00:00.000Z"));
    const records: { keys: Record<string, ApiKeyRecord> } = { keys: {} };
    const { store, reads } = countingStore(records);
    const cache = new RecordCache(store, 60, clock);
    expect(await cache.apiKey("new", () => true)).toBeUndefined();
    records.keys.new = key("new");
    expect((await cache.apiKey("new", () => true))?.keyId).toBe("new");
    expect(reads).toEqual(["key:new", "key:new"]);
  });

  it("reads again when the cached record does not admit the token (rotated elsewhere)", async () => {
    const clock = new FixedClock(new Date("2026-03-09T12:00:00.000Z"));
    const records = { keys: { k: key("k", "old".padEnd(64, "0")) } };
    const { store, reads } = countingStore(records);
    const cache = new RecordCache(store, 60, clock);
    await cache.apiKey("k", () => true);
    records.keys.k = key("k", "new".padEnd(64, "0"));
    const found = await cache.apiKey("k", (k) => k.secretHash.startsWith("new"));
    expect(found?.secretHash.startsWith("new")).toBe(true);
    expect(reads).toEqual(["key:k", "key:k"]);
  });

  it("reads every time with a TTL of 0", async () => {
    const clock = new FixedClock(new Date("2026-03-09T12:00:00.000Z"));
    const { store, reads } = countingStore({ workspaces: { w: ws("w") } });
    const cache = new RecordCache(store, 0, clock);
    await cache.workspace("w");
    await cache.workspace("w");
    expect(reads).toEqual(["ws:w", "ws:w"]);
  });

  it("holds at most maxEntries records, dropping the oldest first", async () => {
    const clock = new FixedClock(new Date("2026-03-09T12:00:00.000Z"));
    const { store, reads } = countingStore({ workspaces: { a: ws("a"), b: ws("b"), c: ws("c") } });
    const cache = new RecordCache(store, 60, clock, 2);
    for (const id of ["a", "b", "c", "c", "b", "a"]) await cache.workspace(id);
    expect(reads).toEqual(["ws:a", "ws:b", "ws:c", "ws:a"]);
  });
});
