import type { Context } from "aws-lambda";
import {
  FAILURE_FLUSH_BACKLOG,
  FAILURE_FLUSH_FAILED,
  flushFailures,
  flushReaches,
} from "#shared/core/access.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { logger } from "#shared/logger.js";
import { Metric, publishMetrics, seconds } from "#shared/metrics.js";

/**
 * Every minute (EventBridge): one access.denied event per ended window of failed authentications,
 * and one per owning workspace for each ended window of reaches into other workspaces. A window
 * that fails is logged (an alarm counts these) and left for the next run; the age of the oldest
 * window left is logged every run (an alarm watches it).
 */
export const makeHandler =
  (deps: Deps = defaultDeps()) =>
  async (_event?: unknown, context?: Pick<Context, "getRemainingTimeInMillis">) => {
    // No window starts in the last 10 s of the invocation: what is left waits for the next minute.
    const timeIsShort = () => (context ? context.getRemainingTimeInMillis() < 10_000 : false);
    // Side by side, so a flood of one kind of window cannot keep the other from being written.
    const [failures, reaches] = await Promise.all([
      flushFailures(deps, timeIsShort),
      flushReaches(deps, timeIsShort),
    ]);
    const failed = [...failures.failed, ...reaches.failed];
    for (const { error, ...window } of failed)
      logger.error(FAILURE_FLUSH_FAILED, { ...window, error: error as Error });
    const outcome = {
      flushed: failures.flushed,
      reaches: reaches.flushed,
      failed: failed.length,
      left: failures.left + reaches.left,
      oldestPendingSeconds: Math.max(failures.oldestPendingSeconds, reaches.oldestPendingSeconds),
    };
    logger.info(FAILURE_FLUSH_BACKLOG, outcome);
    seconds(Metric.flushBacklog, outcome.oldestPendingSeconds);
    publishMetrics();
    return outcome;
  };

export const handler = makeHandler();
