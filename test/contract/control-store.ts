import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  ApiKeyRecord,
  ControlStore,
  ExportDestination,
  ExportJob,
  FailureWindow,
  ReachWindow,
  WorkspaceRecord,
} from "../../functions/shared/ports.js";
import { REACH_RESOURCES_MAX } from "../../functions/shared/table.js";
import { future } from "./events.js";

/** One ControlStore under test. */
export interface ControlStoreSubject {
  store: ControlStore;
  /** A workspace id no other test uses. */
  workspace(label: string): string;
  cleanup(): Promise<void>;
}

const unique = (label: string) => `${label}-${randomUUID()}`;
const uniqueIp = () => {
  const hex = randomUUID().replaceAll("-", "");
  return `2001:db8:${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}::2`;
};

function apiKey(workspaceId: string, keyId: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    keyId,
    workspaceId,
    secretHash: "1".repeat(64),
    scopes: ["events:read", "events:write"],
    name: `key ${keyId}`,
    createdAt: "2026-03-09T10:00:00.000Z",
    ...extra,
  };
}

function workspaceRecord(workspaceId: string, extra: Partial<WorkspaceRecord> = {}): WorkspaceRecord {
  return {
    workspaceId,
    plan: "per-node",
    retentionDays: 90,
    createdAt: "2026-03-09T10:00:00.000Z",
    ...extra,
  };
}

const destination: ExportDestination = {
  endpoint: "http://127.0.0.1:9",
  region: "eu-central-1",
  bucket: "acme-audit",
  prefix: "siem/",
  accessKeyId: "AKIAEXAMPLE",
  forcePathStyle: false,
  secretName: "audit-log/test/destinations/acme",
  updatedAt: "2026-03-09T11:00:00.000Z",
};

function exportJob(workspaceId: string, exportId: string): ExportJob {
  return {
    exportId,
    workspaceId,
    format: "csv",
    gzip: true,
    filters: { type: "pcap.*", since: "2026-03-01T00:00:00.000Z" },
    status: "pending",
    revision: 0,
    createdAt: "2026-03-09T10:00:00.000Z",
    createdBy: { keyId: "k-reader", sourceIp: "203.0.113.42", userAgent: "curl/8" },
  };
}

/**
 * Workspaces here are per-node, so the nightly export of a test running beside this one never
 * takes them (it exports enterprise workspaces), and the destination is a loopback port.
 *
 * The ControlStore port's documented behaviour (functions/shared/ports.ts), and where the port is
 * silent, what the DynamoDB adapter does: keys and workspaces created once, key rotation and
 * revocation as conditional changes, counted windows of failures, reaches and requests with their
 * pending/flushed marking, and export jobs replaced by revision.
 */
export function controlStoreContract(name: string, factory: () => Promise<ControlStoreSubject>): void {
  describe(`ControlStore contract: ${name}`, () => {
    let s: ControlStoreSubject;
    beforeEach(async () => {
      s = await factory();
    });
    afterEach(async () => {
      await s.cleanup();
    });

    describe("API keys", () => {
      it("creates a key once: a second put of its id answers false and keeps the first", async () => {
        // Prepare
        const ws = s.workspace("ctl-key");
        const keyId = unique("k");
        const session = apiKey(ws, keyId, {
          scopes: ["events:read"],
          validUntil: "2026-03-09T11:00:00.000Z",
          mintedBy: "k-admin",
          viewer: { id: "u-1", name: "Alice" },
        });

        // Act
        const first = await s.store.putApiKey(session);
        const second = await s.store.putApiKey(apiKey(ws, keyId, { secretHash: "2".repeat(64) }));

        // Assert
        expect([first, second]).toEqual([true, false]);
        expect(await s.store.getApiKey(keyId)).toEqual(session);
        expect(await s.store.getApiKey(unique("absent"))).toBeUndefined();
      });

      it("lists a workspace's keys, by key id, and no other workspace's", async () => {
        // Prepare
        const ws = s.workspace("ctl-list");
        const other = s.workspace("ctl-list-other");
        const base = unique("k");
        for (const suffix of ["c", "a", "b"]) await s.store.putApiKey(apiKey(ws, `${base}-${suffix}`));
        await s.store.putApiKey(apiKey(other, `${base}-0`));

        // Act
        const listed = await s.store.listApiKeys(ws);

        // Assert
        expect(listed.map((k) => k.keyId)).toEqual([`${base}-a`, `${base}-b`, `${base}-c`]);
        expect(listed[0]).toEqual(apiKey(ws, `${base}-a`));
        expect(await s.store.listApiKeys(s.workspace("ctl-list-none"))).toEqual([]);
      });

      it("rotates a live key only from its current secret (the same rotation resent is applied), keeping the old one until previousValidUntil", async () => {
        // Prepare
        const ws = s.workspace("ctl-rotate");
        const keyId = unique("k");
        await s.store.putApiKey(apiKey(ws, keyId, { secretHash: "1".repeat(64) }));
        const change = (from: string, to: string) => ({
          secretHash: to.repeat(64),
          previousSecretHash: from.repeat(64),
          previousValidUntil: "2026-03-10T10:00:00.000Z",
          rotatedAt: "2026-03-09T10:00:00.000Z",
        });

        // Act
        const rotated = await s.store.rotateApiKey(keyId, change("1", "2"));
        const resent = await s.store.rotateApiKey(keyId, change("1", "2"));
        const fromStale = await s.store.rotateApiKey(keyId, change("1", "3"));
        const absent = await s.store.rotateApiKey(unique("absent"), change("1", "2"));

        // Assert: the same rotation again is ours, resent after its answer was lost.
        expect([rotated, resent, fromStale, absent]).toEqual([true, true, false, false]);
        expect(await s.store.getApiKey(keyId)).toEqual({ ...apiKey(ws, keyId), ...change("1", "2") });
        expect(await s.store.getApiKey(unique("absent"))).toBeUndefined();
      });

      it("revokes a key once (a second call is a second revocation, even at the same instant); a revoked or absent key neither revokes nor rotates", async () => {
        // Prepare
        const ws = s.workspace("ctl-revoke");
        const keyId = unique("k");
        await s.store.putApiKey(apiKey(ws, keyId));

        // Act
        const outcomes = [
          await s.store.revokeApiKey(keyId, "2026-03-09T12:00:00.000Z"),
          await s.store.revokeApiKey(keyId, "2026-03-09T12:00:00.000Z"),
          await s.store.revokeApiKey(keyId, "2026-03-09T13:00:00.000Z"),
          await s.store.revokeApiKey(unique("absent"), "2026-03-09T12:00:00.000Z"),
          await s.store.rotateApiKey(keyId, {
            secretHash: "2".repeat(64),
            previousSecretHash: "1".repeat(64),
            previousValidUntil: "2026-03-10T10:00:00.000Z",
            rotatedAt: "2026-03-09T14:00:00.000Z",
          }),
        ];

        // Assert
        // Only the SDK's resend of one call is that call's own (test/integration/lost-answers.test.ts);
        // another call, even with the same instant, is refused, so a key is recorded revoked once.
        expect(outcomes).toEqual([true, false, false, false, false]);
        expect(await s.store.getApiKey(keyId)).toEqual({
          ...apiKey(ws, keyId),
          revokedAt: "2026-03-09T12:00:00.000Z",
        });
      });
    });

    describe("workspaces", () => {
      it("creates a workspace once, and lists every workspace by id", async () => {
        // Prepare
        const [a, b] = [s.workspace("ctl-ws-b"), s.workspace("ctl-ws-a")];
        if (!a || !b) throw new Error("two workspaces expected");

        // Act
        const created = [
          await s.store.putWorkspace(workspaceRecord(a)),
          await s.store.putWorkspace(workspaceRecord(b, { retentionDays: 30 })),
          await s.store.putWorkspace(workspaceRecord(a, { retentionDays: 30 })),
        ];
        const listed = (await s.store.listWorkspaces()).filter(
          (w) => w.workspaceId === a || w.workspaceId === b,
        );

        // Assert
        expect(created).toEqual([true, true, false]);
        expect(await s.store.getWorkspace(a)).toEqual(workspaceRecord(a));
        expect(listed).toEqual([workspaceRecord(b, { retentionDays: 30 }), workspaceRecord(a)]);
        expect(await s.store.getWorkspace(s.workspace("ctl-ws-none"))).toBeUndefined();
      });

      it("changes retention and the export destination of a workspace, and creates none that is absent", async () => {
        // Prepare
        const ws = s.workspace("ctl-settings");
        const absent = s.workspace("ctl-settings-none");
        await s.store.putWorkspace(workspaceRecord(ws));

        // Act
        await s.store.setRetention(ws, 200);
        await s.store.setExportDestination(ws, destination);
        const withDestination = await s.store.getWorkspace(ws);
        await s.store.setExportDestination(ws, undefined);
        await s.store.setRetention(absent, 30);
        await s.store.setExportDestination(absent, destination);

        // Assert
        expect(withDestination).toEqual(
          workspaceRecord(ws, { retentionDays: 200, exportDestination: destination }),
        );
        expect(await s.store.getWorkspace(ws)).toEqual(workspaceRecord(ws, { retentionDays: 200 }));
        expect(await s.store.getWorkspace(absent)).toBeUndefined();
      });
    });

    describe("failed authentications", () => {
      const failure = (
        target: string,
        ip: string,
        minute: number,
        extra: Partial<Omit<FailureWindow, "count" | "reasons">> & { reason?: string } = {},
      ) =>
        s.store.countFailure({
          target,
          ip,
          windowStart: future(minute),
          windowEnd: future(minute + 1),
          method: "GET",
          path: "/v1/events",
          reason: "unknown_key",
          ...extra,
        });
      const pendingOf = async (targets: string[], endedBy: string) =>
        (await s.store.pendingFailures(endedBy)).filter((w) => targets.includes(w.target));

      it("answers the source's count in its window across every target, which sourceFailures reads", async () => {
        // Prepare
        const ip = uniqueIp();
        const [a, b] = [s.workspace("ctl-fail-a"), s.workspace("ctl-fail-b")];
        if (!a || !b) throw new Error("two targets expected");

        // Act
        const counts = [
          await failure(a, ip, 0),
          await failure(b, ip, 0),
          await failure(a, ip, 0),
          await failure(a, ip, 1),
          await failure(a, uniqueIp(), 0),
        ];

        // Assert
        expect(counts).toEqual([1, 2, 3, 1, 1]);
        expect(await s.store.sourceFailures(ip, future(0))).toBe(3);
        expect(await s.store.sourceFailures(ip, future(1))).toBe(1);
        expect(await s.store.sourceFailures(ip, future(2))).toBe(0);
        expect(await s.store.sourceFailures(uniqueIp(), future(0))).toBe(0);
      });

      it("keeps one pending window per target, source and window, with its count, reasons and last request", async () => {
        // Prepare
        const ip = uniqueIp();
        const [a, b] = [s.workspace("ctl-pend-a"), s.workspace("ctl-pend-b")];
        if (!a || !b) throw new Error("two targets expected");
        await failure(a, ip, 10, { reason: "unknown_key", userAgent: "first/1" });
        await failure(a, ip, 10, { reason: "wrong_secret", method: "POST", path: "/v1/keys" });
        await failure(a, ip, 10, {
          reason: "wrong_secret",
          method: "DELETE",
          path: "/v1/keys/k1",
          userAgent: "last/2",
        });
        await failure(b, ip, 11);
        await failure(a, ip, 12);

        // Act
        const pending = await pendingOf([a, b], future(12));

        // Assert: the window ending after `endedBy` is not yet pending.
        expect(pending).toEqual([
          {
            target: a,
            ip,
            windowStart: future(10),
            windowEnd: future(11),
            count: 3,
            reasons: { unknown_key: 1, wrong_secret: 2 },
            method: "DELETE",
            path: "/v1/keys/k1",
            userAgent: "last/2",
          },
          {
            target: b,
            ip,
            windowStart: future(11),
            windowEnd: future(12),
            count: 1,
            reasons: { unknown_key: 1 },
            method: "GET",
            path: "/v1/events",
            userAgent: undefined,
          },
        ]);
        expect((await pendingOf([a, b], future(13))).map((w) => [w.target, w.windowStart])).toEqual([
          [a, future(10)],
          [b, future(11)],
          [a, future(12)],
        ]);
      });

      it("takes a flushed window out of the pending ones, and puts it back, counted on, when a failure comes late", async () => {
        // Prepare
        const ip = uniqueIp();
        const ws = s.workspace("ctl-flush");
        await failure(ws, ip, 20);
        await failure(ws, ip, 20);
        await failure(ws, ip, 21);

        // Act
        await s.store.markFailuresFlushed({ target: ws, ip, windowStart: future(20) });
        const afterFlush = await pendingOf([ws], future(30));
        await failure(ws, ip, 20, { reason: "late" });
        const afterLate = await pendingOf([ws], future(30));

        // Assert
        expect(afterFlush.map((w) => [w.windowStart, w.count])).toEqual([[future(21), 1]]);
        expect(afterLate.map((w) => [w.windowStart, w.count, w.reasons])).toEqual([
          [future(20), 3, { unknown_key: 2, late: 1 }],
          [future(21), 1, { unknown_key: 1 }],
        ]);
        expect(await s.store.sourceFailures(ip, future(20))).toBe(3);
      });
    });

    describe("reaches and requests", () => {
      const reach = (
        workspaceId: string,
        keyId: string,
        ip: string,
        minute: number,
        type: string,
        id: string,
      ) =>
        s.store.countReach({
          workspaceId,
          keyId,
          ip,
          windowStart: future(minute),
          windowEnd: future(minute + 1),
          method: "GET",
          path: `/v1/${type}s/${id}`,
          userAgent: "harness/1.0",
          resource: { type, id },
        });
      const pendingOf = async (ws: string, endedBy: string): Promise<ReachWindow[]> =>
        (await s.store.pendingReaches(endedBy)).filter((w) => w.workspaceId === ws);

      it("counts every reach of a key from a source in its window, with the distinct resources, sorted", async () => {
        // Prepare
        const ws = s.workspace("ctl-reach");
        const ip = uniqueIp();
        await reach(ws, "k1", ip, 40, "event", "e-2");
        await reach(ws, "k1", ip, 40, "event", "e-1");
        await reach(ws, "k1", ip, 40, "event", "e-2");
        await reach(ws, "k1", ip, 40, "export", "x:1");
        await reach(ws, "k2", ip, 40, "event", "e-1");
        await reach(ws, "k1", ip, 42, "event", "e-9");

        // Act
        const pending = await pendingOf(ws, future(41));

        // Assert
        expect([...pending].sort((x, y) => x.keyId.localeCompare(y.keyId))).toEqual([
          {
            workspaceId: ws,
            keyId: "k1",
            ip,
            windowStart: future(40),
            windowEnd: future(41),
            count: 4,
            resources: [
              { type: "event", id: "e-1" },
              { type: "event", id: "e-2" },
              { type: "export", id: "x:1" },
            ],
            method: "GET",
            path: "/v1/exports/x:1",
            userAgent: "harness/1.0",
          },
          expect.objectContaining({ keyId: "k2", count: 1, resources: [{ type: "event", id: "e-1" }] }),
        ]);
        expect((await s.store.pendingFailures(future(41))).filter((w) => w.target === ws)).toEqual([]);
      });

      it(`keeps at most ${REACH_RESOURCES_MAX} distinct resources of a window, counting every reach past them`, async () => {
        // Prepare
        const ws = s.workspace("ctl-reach-cap");
        const ip = uniqueIp();
        const ids = Array.from(
          { length: REACH_RESOURCES_MAX + 5 },
          (_, i) => `e-${String(i).padStart(3, "0")}`,
        );
        for (const id of ids) await reach(ws, "k1", ip, 50, "event", id);
        await reach(ws, "k1", ip, 50, "event", "e-000");

        // Act
        const [window] = await pendingOf(ws, future(51));

        // Assert
        expect(window?.count).toBe(REACH_RESOURCES_MAX + 6);
        expect(window?.resources).toEqual(
          ids.slice(0, REACH_RESOURCES_MAX).map((id) => ({ type: "event", id })),
        );
      });

      it("takes a flushed reach window out of the pending ones", async () => {
        // Prepare
        const ws = s.workspace("ctl-reach-flush");
        const ip = uniqueIp();
        await reach(ws, "k1", ip, 60, "event", "e-1");
        await reach(ws, "k1", ip, 61, "event", "e-2");

        // Act
        await s.store.markReachesFlushed({ workspaceId: ws, keyId: "k1", ip, windowStart: future(60) });

        // Assert
        expect((await pendingOf(ws, future(70))).map((w) => w.windowStart)).toEqual([future(61)]);
      });

      it("counts a workspace's requests per rate window", async () => {
        // Prepare
        const [ws, other] = [s.workspace("ctl-rate"), s.workspace("ctl-rate-other")];
        if (!ws || !other) throw new Error("two workspaces expected");
        const w0 = { start: future(0), end: future(0.1) };
        const w1 = { start: future(0.1), end: future(0.2) };

        // Act
        const counts = [
          await s.store.countRequest(ws, w0),
          await s.store.countRequest(ws, w0),
          await s.store.countRequest(other, w0),
          await s.store.countRequest(ws, w1),
          await s.store.countRequest(ws, w0),
          // An environment's requests since its last count, added at once.
          await s.store.countRequest(ws, w0, 7),
        ];

        // Assert
        expect(counts).toEqual([1, 2, 1, 1, 3, 10]);
      });
    });

    describe("export jobs", () => {
      it("creates a job once: a second put of its id answers false and keeps the first", async () => {
        // Prepare
        const ws = s.workspace("ctl-job");
        const job = exportJob(ws, unique("x"));

        // Act
        const created = [
          await s.store.putExportJob(job),
          await s.store.putExportJob({ ...job, format: "json" }),
        ];

        // Assert
        expect(created).toEqual([true, false]);
        expect(await s.store.getExportJob(job.exportId)).toEqual(job);
        expect(await s.store.getExportJob(unique("absent"))).toBeUndefined();
      });

      it("replaces a job only from the revision before it (the same update resent is applied), so two workers cannot both move it on", async () => {
        // Prepare
        const ws = s.workspace("ctl-occ");
        const job = exportJob(ws, unique("x"));
        await s.store.putExportJob(job);
        const running = { ...job, status: "running" as const, revision: 1, attempts: 1 };
        const rival = { ...job, status: "failed" as const, revision: 1, error: "rival" };
        const ready = {
          ...running,
          status: "ready" as const,
          revision: 2,
          objectKey: `exports/${ws}/${job.exportId}.csv.gz`,
          eventCount: 12,
          bytes: 3456,
          sha256: "c".repeat(64),
          finishedAt: "2026-03-09T10:05:00.000Z",
          progress: {
            uploadId: "u-1",
            parts: [{ partNumber: 1, etag: '"e1"', checksumSha256: "q83vEjRWeJA=", bytes: 3456 }],
            lastKey: "",
            eventCount: 12,
          },
        } satisfies ExportJob;

        // Act
        const outcomes = [
          await s.store.updateExportJob(running),
          await s.store.updateExportJob(rival),
          await s.store.updateExportJob({ ...ready, revision: 3 }),
          await s.store.updateExportJob(ready),
          await s.store.updateExportJob(ready),
          await s.store.updateExportJob({ ...ready, eventCount: 13 }),
          await s.store.updateExportJob({ ...exportJob(ws, unique("absent")), revision: 1 }),
        ];

        // Assert
        // Exactly the stored job again is our update, resent after its answer was lost; another
        // worker's update of the same revision differs, and loses.
        expect(outcomes).toEqual([true, false, false, true, true, false, false]);
        expect(await s.store.getExportJob(job.exportId)).toEqual(ready);
      });
    });
  });
}
