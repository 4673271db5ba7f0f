import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ArchiveStore } from "../../functions/shared/adapters/s3-archive-store.js";
import { MAX_EXPORT_ATTEMPTS } from "../../functions/shared/core/exports.js";
import type { ArchiveStore } from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { bulkLoad } from "../../scripts/lib/bulk-load.js";
import {
  call,
  type ExportView,
  engineEnv,
  heavyRecord,
  startApi,
  type TestApi,
  type TestWorkspace,
  workspace,
} from "./harness.js";

/**
 * Exports that span invocations. Each event carries ~15 KB of incompressible context, so 800 of
 * them make a file of several 5 MiB parts (S3's smallest) in every format, gzip included.
 */
const N = 800;
const PART = 5 * 1024 * 1024;

describe("on-demand exports that hand over and resume", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const s3 = localClients(engineEnv()).s3;
  const bucket = engineEnv().exportBucket;
  const archive = new S3ArchiveStore(s3, bucket);
  const stored: StoredEvent[] = [];

  beforeAll(async () => {
    api = await startApi({ now: "2026-03-09T18:00:00.000Z" });
    ws = await workspace("resume", { plan: "enterprise" });
    const records = Array.from({ length: N }, (_, i) =>
      heavyRecord(
        ws.id,
        `r-${String(i).padStart(4, "0")}`,
        new Date(Date.parse("2026-03-09T06:00:00.000Z") + i * 1000).toISOString(),
        i,
      ),
    );
    stored.push(...records.map((r) => r.event));
    await bulkLoad(localClients(engineEnv()).document, engineEnv().eventsTable, records);
    stored.reverse(); // the export's order: newest first
  });
  afterAll(() => api.close());

  const create = async (body: Record<string, unknown>) => {
    // The workspace's own key events are not part of the loaded log.
    const created = await call<ExportView>(api, "POST", "/v1/exports", {
      key: ws.keys.reader,
      body: { ...body, type: "pcap.download" },
    });
    expect(created.status).toBe(202);
    return created.body.id;
  };
  const fetchReady = async (id: string) => {
    const view = await call<ExportView>(api, "GET", `/v1/exports/${id}`, { key: ws.keys.reader });
    expect(view.body).toMatchObject({ status: "ready", eventCount: N });
    const file = Buffer.from(await (await fetch(view.body.url as string)).arrayBuffer());
    expect(createHash("sha256").update(file).digest("hex")).toBe(view.body.sha256);
    expect(file.length).toBe(view.body.bytes);
    return file;
  };
  const expectExactly = (events: StoredEvent[]) => {
    expect(events.map((e) => e.id)).toEqual(stored.map((e) => e.id));
    expect(events).toEqual(stored);
  };

  it("hands over after every part and resumes after the last event written, in each format", async () => {
    // ~12 MB per file (~9 MB gzipped) in 5 MiB parts: three invocations each, two for gzip.
    const runs = async (body: Record<string, unknown>, atLeast: number) => {
      const id = await create(body);
      const before = api.workerInvocations();
      await api.runQueuedExports({ run: { partBytes: PART, timeIsShort: () => true } });
      expect(api.workerInvocations() - before).toBeGreaterThanOrEqual(atLeast);
      return id;
    };
    const ids = {
      ndjson: await runs({ format: "ndjson" }, 3),
      json: await runs({ format: "json" }, 3),
      csvGzip: await runs({ format: "csv", gzip: true }, 2),
    };

    const ndjson = (await fetchReady(ids.ndjson)).toString("utf8");
    expectExactly(
      ndjson
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as StoredEvent),
    );
    expectExactly(JSON.parse((await fetchReady(ids.json)).toString("utf8")) as StoredEvent[]);
    const csv = gunzipSync(await fetchReady(ids.csvGzip)).toString("utf8");
    const { parse } = await import("csv-parse/sync");
    const { eventFromCsv } = await import("../../functions/shared/export-formats.js");
    expectExactly((parse(csv, { columns: true }) as Record<string, string>[]).map(eventFromCsv));
  });

  it("survives a run that dies after a part: the queue redelivers and the next run resumes", async () => {
    const id = await create({ format: "ndjson", gzip: true });
    let parts = 0;
    const dyingOnce: ArchiveStore = Object.assign(Object.create(archive) as ArchiveStore, {
      // A fault moto cannot produce on cue: the process dies right after its first part.
      uploadPart: async (...args: Parameters<ArchiveStore["uploadPart"]>) => {
        const part = await archive.uploadPart(...args);
        if (++parts === 2) throw new Error("killed");
        return part;
      },
    });
    const before = api.workerInvocations();
    await api.runQueuedExports({ archive: dyingOnce, run: { partBytes: PART } });
    expect(api.workerInvocations() - before).toBe(2);
    const job = await api.deps.control.getExportJob(id);
    expect(job?.status).toBe("ready");
    expect(job?.progress).toBeUndefined();
    const lines = gunzipSync(await fetchReady(id))
      .toString("utf8")
      .trimEnd()
      .split("\n");
    expectExactly(lines.map((l) => JSON.parse(l) as StoredEvent));
  });

  it("survives a run that dies after completing the upload: the next finds the file and finishes", async () => {
    const id = await create({ format: "json" });
    let killed = false;
    const dyingAfterComplete: ArchiveStore = Object.assign(Object.create(archive) as ArchiveStore, {
      // The process dies right after CompleteMultipartUpload succeeded, before the job says so.
      completeUpload: async (...args: Parameters<ArchiveStore["completeUpload"]>) => {
        const put = await archive.completeUpload(...args);
        if (!killed) {
          killed = true;
          throw new Error("killed");
        }
        return put;
      },
    });
    const before = api.workerInvocations();
    await api.runQueuedExports({ archive: dyingAfterComplete, run: { partBytes: PART } });
    expect(killed).toBe(true);
    expect(api.workerInvocations() - before).toBe(2);
    expectExactly(JSON.parse((await fetchReady(id)).toString("utf8")) as StoredEvent[]);
  });

  it(`marks the export failed when its message failed ${MAX_EXPORT_ATTEMPTS} times, and aborts the upload`, async () => {
    const id = await create({ format: "ndjson" });
    const broken: ArchiveStore = Object.assign(Object.create(archive) as ArchiveStore, {
      // A storage outage moto cannot produce: every part after the first is refused.
      uploadPart: async (...args: Parameters<ArchiveStore["uploadPart"]>) => {
        if (args[2] > 1) throw new Error("storage unavailable");
        return archive.uploadPart(...args);
      },
    });
    const before = api.workerInvocations();
    await api.runQueuedExports({ archive: broken, run: { partBytes: PART } });
    // Each delivery resumes after part 1 and fails on part 2; the third gives up.
    expect(api.workerInvocations() - before).toBe(MAX_EXPORT_ATTEMPTS);
    const view = await call<ExportView & { error?: string }>(api, "GET", `/v1/exports/${id}`, {
      key: ws.keys.reader,
    });
    expect(view.body).toMatchObject({ status: "failed", error: expect.stringMatching(/create a new one/) });
    expect(view.body.url).toBeUndefined();
    const uploads = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `on-demand/${ws.id}/${id}` }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });
});
