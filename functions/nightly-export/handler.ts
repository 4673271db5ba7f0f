import type { ScheduledEvent } from "aws-lambda";
import { s3Client } from "#shared/adapters/clients.js";
import { S3ArchiveStore } from "#shared/adapters/s3-archive-store.js";
import { previousUtcDay, runNightlyExport } from "#shared/core/nightly-export.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { logger } from "#shared/logger.js";
import type { ArchiveStore } from "#shared/ports.js";

/** EventBridge's scheduled event; `detail.day` (YYYY-MM-DD) reruns a given day by hand. */
type NightlyEvent = Pick<ScheduledEvent, "time"> & { detail?: { day?: string } };

export const makeHandler = (deps: Deps = defaultDeps(), archive?: ArchiveStore) => {
  const bucket = deps.config.EXPORT_BUCKET;
  if (!archive && !bucket)
    throw new Error("invalid configuration: EXPORT_BUCKET is required by the export function");
  const store = archive ?? new S3ArchiveStore(s3Client(deps.config.S3_FORCE_PATH_STYLE), bucket as string);
  return async (event: NightlyEvent) => {
    const now = deps.clock.now();
    const day = event.detail?.day ?? previousUtcDay(new Date(event.time ?? now));
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day)))
      throw new Error(`not a day: ${day}`);
    const results = await runNightlyExport({ ...deps, archive: store }, day, now);
    logger.info("nightly export finished", { day, results });
    return { day, results };
  };
};

export const handler = makeHandler();
