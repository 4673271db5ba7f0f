import { randomUUID } from "node:crypto";
import type * as z from "zod";
import { ConflictError, NotFoundError } from "../errors.js";
import { CONTENT_TYPES, type EvidenceFrame } from "../export-formats.js";
import { logger } from "../logger.js";
import type { ArchiveStore, ExportJob, ExportQueue, Principal } from "../ports.js";
import { type StoredEvent, USER_AGENT_MAX_LENGTH } from "../schemas/event.js";
import type { createExportBodySchema } from "../schemas/exports.js";
import type { EventFilters } from "../schemas/query.js";
import { leafHash } from "../tlog/merkle.js";
import { actionEvent, type Client, ownedOrNotFound } from "./access.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";
import { ExportTooLargeError, type FileResult, writeExportFile } from "./export-file.js";
import { storeQueryOf } from "./filters.js";
import { evidenceFrame, type LogReadDeps, leafDataOf, leafRangeCheck, reportViolation } from "./log.js";

type WithArchive = EventsDeps & { archive: ArchiveStore };

/** How long a download URL works. */
export const DOWNLOAD_URL_SECONDS = 600;
/** On-demand files are locked for a day (evidence while in use), then lifecycle may expire them. */
const ON_DEMAND_LOCK_MS = 86_400_000;

const extension = (job: ExportJob) =>
  job.format === "evidence" ? "evidence.ndjson.gz" : `${job.format}${job.gzip ? ".gz" : ""}`;

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
  input: z.output<typeof createExportBodySchema>,
) {
  const { format, gzip, trustedSize, ...filters } = input;
  const now = deps.clock.now();
  const job: ExportJob = {
    exportId: deps.newId(now),
    workspaceId: principal.workspaceId,
    format,
    // An evidence bundle is always gzip (docs/evidence.md).
    gzip: format === "evidence" ? true : gzip,
    ...(trustedSize !== undefined ? { trustedSize } : {}),
    filters: Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >,
    status: "pending",
    revision: 0,
    createdAt: now.toISOString(),
    createdBy: { keyId: principal.keyId, sourceIp: client.sourceIp, userAgent: client.userAgent },
  };
  await deps.control.putExportJob(job);
  await deps.exportQueue.enqueue(job.exportId);
  return view(job);
}

/**
 * Deliveries of one queue message that may try the export; the next delivery marks it failed. The
 * queue's maxReceiveCount is one more (lib/export-queue.ts), so even a run that was killed (a
 * timeout, which no code sees) is followed by a delivery that records the failure.
 */
export const MAX_EXPORT_ATTEMPTS = 3;

export interface RunExportOptions {
  /** True when the invocation should hand the rest over (Lambda's time nearly spent). */
  timeIsShort?: () => boolean;
  partBytes?: number;
  /** How often the queue has delivered this message (SQS ApproximateReceiveCount); 1 at first. */
  delivery?: number;
}

export type RunExportDeps = WithArchive & {
  exportQueue: ExportQueue;
  /** The verifiable log, for evidence bundles. */
  log?: LogReadDeps;
};

/**
 * Writes one export: the paged query, newest first as the API pages it, through
 * the encoder into a multipart upload, so memory stays flat whatever the size. After every part
 * the job item records where the file stands; when `timeIsShort()` the run stops there and queues
 * the job again, and the next invocation resumes after the last event written. A run that dies is
 * redelivered by the queue and resumes the same way (a hand-over starts a new message); a message
 * that failed {@link MAX_EXPORT_ATTEMPTS} times marks the job `failed`, as does an export too large
 * for one file. A run that dies after the file was completed finds it stored and only finishes the
 * bookkeeping. The query is pinned to the job's creation (events recorded later
 * and expiries after it change nothing), so every invocation reads the same log.
 *
 * When the file is complete the job is `ready` and the log gets `audit.exported` with the count and
 * the file's SHA-256.
 */
export async function runExport(
  deps: RunExportDeps,
  exportId: string,
  options: RunExportOptions = {},
): Promise<ExportJob | undefined> {
  const found = await deps.control.getExportJob(exportId);
  if (!found || found.status === "ready" || found.status === "failed") return found;
  const delivery = options.delivery ?? 1;
  const objectKey = `on-demand/${found.workspaceId}/${found.exportId}.${extension(found)}`;
  const fail = async (current: ExportJob, reason: string) => {
    if (current.progress) {
      await deps.archive.abortUpload(objectKey, current.progress.uploadId).catch(() => undefined);
    }
    const failed: ExportJob = {
      ...current,
      status: "failed",
      revision: (current.revision ?? 0) + 1,
      progress: undefined,
      finishedAt: deps.clock.now().toISOString(),
      error: reason,
    };
    return (await deps.control.updateExportJob(failed)) ? failed : deps.control.getExportJob(exportId);
  };
  if (delivery > MAX_EXPORT_ATTEMPTS) {
    return fail(found, "the export could not be written; create a new one");
  }
  let job: ExportJob = {
    ...found,
    status: "running",
    attempts: delivery,
    revision: (found.revision ?? 0) + 1,
    // This run's own: two deliveries of one message never write the same job, so a write resent
    // after its answer was lost is told apart from another worker's (ControlStore.updateExportJob).
    runId: randomUUID(),
  };
  // Another worker moved the job on since we read it: it is theirs.
  if (!(await deps.control.updateExportJob(job))) return deps.control.getExportJob(exportId);

  const createdAt = new Date(job.createdAt);
  const query = storeQueryOf(
    job.workspaceId,
    job.filters as EventFilters,
    Math.floor(createdAt.getTime() / 1000),
  );
  // A snapshot: nothing recorded after the export was asked for; a resumed run goes on before the
  // last event it wrote (newest first).
  const span = { since: query.since, until: query.until, recordedBy: job.createdAt };
  let events: AsyncIterable<StoredEvent> = deps.events.stream({
    ...query,
    ...span,
    before: job.progress?.lastKey || undefined,
  });
  if (job.format === "evidence") {
    if (!deps.log) throw new Error("evidence bundles need the verifiable log");
    if (!job.evidence) {
      try {
        const evidence = await evidenceFrame(deps.log, job, span);
        job = { ...job, evidence, revision: job.revision + 1 };
      } catch (err: unknown) {
        if (err instanceof NotFoundError || err instanceof ConflictError) return fail(job, err.message);
        throw err;
      }
      if (!(await deps.control.updateExportJob(job))) return deps.control.getExportJob(exportId);
    }
    events = evidenceEvents(deps, job, query.since, job.evidence as EvidenceFrame);
  }
  // A bundle written in one run is checked against the tree as it streams (a resumed one is not: the
  // check's state does not outlive the invocation; the offline verifier checks every bundle).
  const check =
    job.format === "evidence" && job.evidence && !job.progress && deps.log
      ? await leafRangeCheck(deps.log, job.workspaceId, job.evidence.start)
      : undefined;
  let result: FileResult;
  try {
    result = await writeExportFile({
      archive: deps.archive,
      key: objectKey,
      contentType: job.gzip ? "application/gzip" : CONTENT_TYPES[job.format],
      retainUntil: new Date(createdAt.getTime() + ON_DEMAND_LOCK_MS),
      format: job.format,
      gzip: job.gzip,
      partBytes: options.partBytes,
      events,
      positionOf: (event) => deps.events.positionOf(event),
      frame: job.evidence,
      onEvent: check ? (event) => check.add(leafHash(leafDataOf(event))) : undefined,
      resume: job.progress,
      afterPart: async (progress) => {
        job = { ...job, progress, revision: job.revision + 1 };
        if (!(await deps.control.updateExportJob(job))) throw new LostJobError(exportId);
        return options.timeIsShort?.() ? "stop" : "continue";
      },
    });
  } catch (err: unknown) {
    if (err instanceof LostJobError) return deps.control.getExportJob(exportId);
    logger.error("export run failed", { exportId, delivery, error: err as Error });
    if (err instanceof ExportTooLargeError) return fail(job, err.message);
    if (delivery < MAX_EXPORT_ATTEMPTS) throw err; // the queue redelivers; the next run resumes
    return fail(job, "the export could not be written; create a new one");
  }

  if (
    result.status === "written" &&
    job.evidence &&
    result.eventCount !== JSON.parse(job.evidence.header).count
  ) {
    // The log no longer holds what the checkpoint covered (events removed or inserted since): no bundle.
    return fail(
      job,
      `the log changed under the export: ${result.eventCount} events, the checkpoint covers ${JSON.parse(job.evidence.header).count}`,
    );
  }
  const wrong = result.status === "written" ? await check?.finish() : undefined;
  if (wrong && deps.log) {
    await reportViolation(deps.log, {
      kind: "item_modified",
      workspace: job.workspaceId,
      detail: `evidence export ${exportId}: ${wrong}`,
      dedupeKey: `evidence:${exportId}`,
    });
    return fail(job, `the log changed under the export: ${wrong}`);
  }
  if (result.status === "stopped") {
    await deps.exportQueue.enqueue(exportId);
    logger.info("export handed over", { exportId, events: result.checkpoint.eventCount });
    return job;
  }
  const ready: ExportJob = {
    ...job,
    status: "ready",
    revision: job.revision + 1,
    objectKey,
    eventCount: result.eventCount,
    bytes: result.bytes,
    sha256: result.sha256,
    progress: undefined,
    finishedAt: deps.clock.now().toISOString(),
  };
  await recordServiceEvent(deps, job.workspaceId, {
    // A fixed id: a run that dies after this write and before the job update replays it, once.
    id: `exported-${job.exportId}`,
    type: "audit.exported",
    actor: { type: "api_key", id: job.createdBy.keyId },
    sourceIp: job.createdBy.sourceIp,
    // Jobs created before the gateway's User-Agent was bounded may hold a longer one.
    ...(job.createdBy.userAgent
      ? { userAgent: job.createdBy.userAgent.slice(0, USER_AGENT_MAX_LENGTH).toWellFormed() }
      : {}),
    resource: { type: "export", id: job.exportId },
    context: {
      exportId: job.exportId,
      format: job.format,
      filters: job.filters,
      count: result.eventCount,
      sha256: result.sha256,
    },
  });
  // Lost to another worker: the job is whatever it made of it (the event above is idempotent).
  return (await deps.control.updateExportJob(ready)) ? ready : deps.control.getExportJob(exportId);
}

/** Another invocation moved the job on: this one stops without touching it. */
class LostJobError extends Error {
  constructor(exportId: string) {
    super(`export ${exportId} was moved on by another invocation`);
  }
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

/** An evidence bundle's events: oldest first, from the span's start (or after the last one written) to its last sealed event. */
function evidenceEvents(
  deps: RunExportDeps,
  job: ExportJob,
  since: string | undefined,
  frame: EvidenceFrame,
): AsyncIterable<StoredEvent> {
  if (!frame.lastKey) return (async function* () {})();
  return deps.events.stream({
    workspaceId: job.workspaceId,
    since,
    after: job.progress?.lastKey || undefined,
    through: frame.lastKey,
    ascending: true,
    nowEpochSeconds: 0,
  });
}
