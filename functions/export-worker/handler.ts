import type { Context, SQSEvent } from "aws-lambda";
import { type RunExportOptions, runExport } from "#shared/core/exports.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { archiveStore, exportQueue } from "#shared/export-deps.js";
import { logReadDeps } from "#shared/log-deps.js";
import { logger } from "#shared/logger.js";
import { bytes, count, Metric, milliseconds, publishMetrics } from "#shared/metrics.js";
import type { ArchiveStore, ExportQueue } from "#shared/ports.js";

/**
 * Time left when a run stops after its current part and queues the rest: producing and uploading
 * one 8 MiB part takes seconds, so three minutes leaves room for a slow, heavily filtered page walk.
 */
export const HAND_OVER_MS = 3 * 60_000;

export interface WorkerExtras {
  archive?: ArchiveStore;
  queue?: ExportQueue;
  /** Tests: part size and when to hand over. */
  run?: RunExportOptions;
}

/**
 * SQS → one export per message (batch size 1). A run near Lambda's time limit hands over by queueing
 * the export again; a run that throws leaves the message for redelivery, and the next resumes from
 * the job's checkpoint. The message's receive count tells runExport when to give up.
 */
export const makeHandler = (deps: Deps = jobDeps(), extras: WorkerExtras = {}) => {
  const archive = extras.archive ?? archiveStore(deps.config);
  const queue = extras.queue ?? exportQueue(deps.config);
  // Evidence bundles read the verifiable log (its state, anchors and tiles; no signing).
  const log = { ...logReadDeps(deps), archive };
  return async (event: SQSEvent, context?: Pick<Context, "getRemainingTimeInMillis">) => {
    for (const record of event.Records) {
      const { exportId } = JSON.parse(record.body) as { exportId: string };
      const job = await runExport({ ...deps, archive, exportQueue: queue, log }, exportId, {
        timeIsShort: () => (context ? context.getRemainingTimeInMillis() < HAND_OVER_MS : false),
        delivery: Number(record.attributes?.ApproximateReceiveCount ?? 1),
        ...extras.run,
      });
      logger.info("export run finished", { exportId, status: job?.status, eventCount: job?.eventCount });
      // This run finished the export: from its request to its file, its size and its events.
      if (job?.status === "ready" && job.finishedAt) {
        milliseconds(Metric.exportDuration, Date.parse(job.finishedAt) - Date.parse(job.createdAt));
        bytes(Metric.exportBytes, job.bytes ?? 0);
        count(Metric.exportEvents, job.eventCount ?? 0);
      }
      publishMetrics();
    }
  };
};

export const handler = makeHandler();
