import type { ScheduledEvent } from "aws-lambda";
import { previousUtcDay, runNightlyExport } from "#shared/core/nightly-export.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { archiveStore } from "#shared/export-deps.js";
import { logger } from "#shared/logger.js";
import type { ArchiveStore } from "#shared/ports.js";

/** EventBridge's scheduled event; `detail.day` (YYYY-MM-DD) reruns a given day by hand. */
type NightlyEvent = Pick<ScheduledEvent, "time"> & { detail?: { day?: string } };

export const makeHandler = (deps: Deps = jobDeps(), archive: ArchiveStore = archiveStore(deps.config)) => {
  return async (event: NightlyEvent) => {
    const now = deps.clock.now();
    const day = event.detail?.day ?? previousUtcDay(new Date(event.time ?? now));
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day)))
      throw new Error(`not a day: ${day}`);
    const results = await runNightlyExport({ ...deps, archive }, day, now);
    logger.info("nightly export finished", { day, results });
    return { day, results };
  };
};

export const handler = makeHandler();
