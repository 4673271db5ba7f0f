import { createHash } from "node:crypto";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { CONTENT_TYPES, encoder } from "../export-formats.js";
import { logger } from "../logger.js";
import type { ArchiveStore, ExportJob, ExportQueue, Principal } from "../ports.js";
import { createExportBodySchema } from "../schemas/exports.js";
import type { EventFilters } from "../schemas/query.js";
import { actionEvent, type Client, ownedOrNotFound } from "./access.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";
import { storeQueryOf } from "./filters.js";
import { validationError } from "./zod-errors.js";

type WithArchive = EventsDeps & { archive: ArchiveStore };

/** How long a download URL works. */
export const DOWNLOAD_URL_SECONDS = 600;
/** On-demand files are locked for a day (evidence while in use), then lifecycle may expire them. */
const ON_DEMAND_LOCK_MS = 86_400_000;

const extension = (job: ExportJob) => `${job.format}${job.gzip ? ".gz" : ""}`;

/** What the API shows of a job: never the object key. */
function view(job: ExportJob, url?: string) {
  const { exportId, status, format, gzip, filters, createdAt, finishedAt, eventCount, bytes, sha256, error } =
    job;
  return {
    id: exportId,
    status,
    format,
    gzip,
    filters,
    createdAt,
    finishedAt,
    eventCount,
    bytes,
    sha256,
    url,
    error,
  };
}

/** Accepts an export request (202); the worker writes the file. */
export async function createExport(
  deps: EventsDeps & { exportQueue: ExportQueue },
  principal: Principal,
  client: Client,
  body: unknown,
) {
  const parsed = createExportBodySchema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  const { format, gzip, ...filters } = parsed.data;
  const now = deps.clock.now();
  const job: ExportJob = {
    exportId: deps.newId(now),
    workspaceId: principal.workspaceId,
    format,
    gzip,
    filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    status: "pending",
    createdAt: now.toISOString(),
    createdBy: { keyId: principal.keyId, sourceIp: client.sourceIp, userAgent: client.userAgent },
  };
  await deps.control.putExportJob(job);
  await deps.exportQueue.enqueue(job.exportId);
  return view(job);
}

/**
 * Writes one export: the paged query streamed through the encoder (and gzip) into a multipart
 * upload, hashing and counting on the way, so memory stays flat whatever the size. Then the job is
 * `ready` and the log gets `audit.exported` with the count and the file's SHA-256.
 */
export async function runExport(deps: WithArchive, exportId: string): Promise<ExportJob | undefined> {
  const job = await deps.control.getExportJob(exportId);
  if (!job || job.status === "ready") return job;
  await deps.control.updateExportJob({ ...job, status: "running" });
  const hash = createHash("sha256");
  let bytes = 0;
  let eventCount = 0;
  const objectKey = `on-demand/${job.workspaceId}/${job.exportId}.${extension(job)}`;
  try {
    const now = deps.clock.now();
    const query = storeQueryOf(
      job.workspaceId,
      job.filters as EventFilters,
      Math.floor(now.getTime() / 1000),
    );
    const counted = async function* () {
      for await (const event of deps.events.stream(query)) {
        eventCount++;
        yield event;
      }
    };
    const measure = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const body = new PassThrough();
    const stages = [
      Readable.from(counted()),
      encoder(job.format),
      ...(job.gzip ? [createGzip()] : []),
      measure,
      body,
    ] as const;
    const uploaded = deps.archive
      .upload(objectKey, body, {
        contentType: job.gzip ? "application/gzip" : CONTENT_TYPES[job.format],
        retainUntil: new Date(now.getTime() + ON_DEMAND_LOCK_MS),
      })
      .catch((err: unknown) => {
        body.destroy(err as Error); // unblock the pipeline, which then fails too
        throw err;
      });
    await Promise.all([pipeline(stages as unknown as [Readable, ...Transform[]]), uploaded]);
  } catch (err: unknown) {
    logger.error("export failed", { exportId, error: err as Error });
    const failed: ExportJob = {
      ...job,
      status: "failed",
      error: "the export could not be written; create a new one",
    };
    await deps.control.updateExportJob(failed);
    return failed;
  }
  const ready: ExportJob = {
    ...job,
    status: "ready",
    objectKey,
    eventCount,
    bytes,
    sha256: hash.digest("hex"),
    finishedAt: deps.clock.now().toISOString(),
  };
  await recordServiceEvent(deps, job.workspaceId, {
    type: "audit.exported",
    actor: { type: "api_key", id: job.createdBy.keyId },
    sourceIp: job.createdBy.sourceIp,
    ...(job.createdBy.userAgent ? { userAgent: job.createdBy.userAgent } : {}),
    resource: { type: "export", id: job.exportId },
    context: {
      exportId: job.exportId,
      format: job.format,
      filters: job.filters,
      count: eventCount,
      sha256: ready.sha256 as string,
    },
  });
  await deps.control.updateExportJob(ready);
  return ready;
}

/**
 * An export of the caller's workspace, with a fresh 10-minute download URL once it is ready (each
 * URL issued is recorded as `audit.export_downloaded`). Another workspace's export id answers 404,
 * and that workspace gets an `access.denied` event.
 */
export async function getExport(deps: WithArchive, principal: Principal, client: Client, exportId: string) {
  const found = /^[0-9A-Z]{26}$/.test(exportId) ? await deps.control.getExportJob(exportId) : undefined;
  const job = await ownedOrNotFound(deps, principal, client, { type: "export", id: exportId }, found);
  if (job.status !== "ready" || !job.objectKey) return view(job);
  const url = await deps.archive.presignGet(
    job.objectKey,
    DOWNLOAD_URL_SECONDS,
    `audit-log-${job.exportId}.${extension(job)}`,
  );
  await recordServiceEvent(deps, job.workspaceId, {
    type: "audit.export_downloaded",
    ...actionEvent(principal, client),
    resource: { type: "export", id: job.exportId },
    context: {
      exportId: job.exportId,
      filters: job.filters,
      count: job.eventCount ?? 0,
      sha256: job.sha256 as string,
    },
  });
  return view(job, url);
}
