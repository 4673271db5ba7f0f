import type { SQSEvent } from "aws-lambda";
import { runExport } from "#shared/core/exports.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { archiveStore } from "#shared/export-deps.js";
import { logger } from "#shared/logger.js";
import type { ArchiveStore } from "#shared/ports.js";

/** SQS → one export per message. A failed export is marked failed, not retried (the client asks again). */
export const makeHandler =
  (deps: Deps = jobDeps(), archive: ArchiveStore = archiveStore(deps.config)) =>
  async (event: SQSEvent) => {
    for (const record of event.Records) {
      const { exportId } = JSON.parse(record.body) as { exportId: string };
      const job = await runExport({ ...deps, archive }, exportId);
      logger.info("export finished", { exportId, status: job?.status, eventCount: job?.eventCount });
    }
  };

export const handler = makeHandler();
