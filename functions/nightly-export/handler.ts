import type { Context, ScheduledEvent } from "aws-lambda";
import { openS3Destination } from "#shared/adapters/s3-destination.js";
import { type NightlyExportDeps, previousUtcDay, runNightlyExport } from "#shared/core/nightly-export.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { archiveStore } from "#shared/export-deps.js";
import { logDeps } from "#shared/log-deps.js";
import { logger } from "#shared/logger.js";
import { Metric, publishMetrics, seconds } from "#shared/metrics.js";

/** EventBridge's scheduled event; `detail.day` (YYYY-MM-DD) reruns a given day by hand. */
type NightlyEvent = Pick<ScheduledEvent, "time"> & { detail?: { day?: string } };

/** Tests replace the stores, the destination opener, the backoff's sleep and the part size. */
export type NightlyExtras = Partial<
  Pick<NightlyExportDeps, "archive" | "openDestination" | "sleep" | "partBytes">
>;

export const makeHandler = (deps: Deps = jobDeps(), extras: NightlyExtras = {}) => {
  const jobDepsWithArchive: NightlyExportDeps = {
    ...deps,
    ...logDeps(deps),
    archive: extras.archive ?? archiveStore(deps.config),
    openDestination:
      extras.openDestination ??
      ((destination, secret) =>
        openS3Destination(destination, secret, { allowPrivate: deps.config.ALLOW_HTTP_DESTINATIONS })),
    sleep: extras.sleep,
    partBytes: extras.partBytes,
  };
  return async (event: NightlyEvent, context?: Pick<Context, "getRemainingTimeInMillis">) => {
    const now = deps.clock.now();
    const day = event.detail?.day ?? previousUtcDay(new Date(event.time ?? now));
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day)))
      throw new Error(`not a day: ${day}`);
    // Copies to customers' buckets stop two minutes before Lambda's limit; the next night catches up.
    const timeIsShort = () => (context ? context.getRemainingTimeInMillis() < 120_000 : false);
    const results = await runNightlyExport(jobDepsWithArchive, day, now, timeIsShort);
    logger.info("nightly export finished", { day, results });
    // The scheduled run (not a rerun of a given day): every enterprise workspace has the day (a
    // failure throws above, so no value: the alarm's missing data). Normally about 15 minutes after
    // the day ended.
    if (event.detail?.day === undefined) {
      seconds(Metric.nightlyExportLag, (deps.clock.now().getTime() - (Date.parse(day) + 86_400_000)) / 1000);
    }
    publishMetrics();
    return { day, results };
  };
};

export const handler = makeHandler();
