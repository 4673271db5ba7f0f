import { FAILURE_FLUSH_BACKLOG, FAILURE_FLUSH_FAILED, flushFailures } from "#shared/core/access.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { logger } from "#shared/logger.js";

/**
 * Every minute (EventBridge): one access.denied event per ended window of failed authentications.
 * A window that fails is logged (an alarm counts these) and left for the next run; the age of the
 * oldest window left is logged every run (an alarm watches it).
 */
export const makeHandler =
  (deps: Deps = defaultDeps()) =>
  async () => {
    const { flushed, failed, oldestPendingSeconds } = await flushFailures(deps);
    for (const { error, ...window } of failed)
      logger.error(FAILURE_FLUSH_FAILED, { ...window, error: error as Error });
    logger.info(FAILURE_FLUSH_BACKLOG, { flushed, failed: failed.length, oldestPendingSeconds });
    return { flushed, failed: failed.length, oldestPendingSeconds };
  };

export const handler = makeHandler();
