import type { Context, ScheduledEvent } from "aws-lambda";
import { type LogDeps, runSealer } from "#shared/core/log.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { logDeps } from "#shared/log-deps.js";
import { Metric, publishMetrics, seconds } from "#shared/metrics.js";

/**
 * Every minute: each workspace's new events into its tree, and a signed checkpoint. Emits
 * SealingLagSeconds: how far behind a workspace the run could not finish is (0 when all caught up).
 */
export const makeHandler =
  (base: Deps = jobDeps(), deps: LogDeps = logDeps(base)) =>
  async (_event?: Pick<ScheduledEvent, "time">, context?: Pick<Context, "getRemainingTimeInMillis">) => {
    const now = deps.clock.now();
    // A workspace of MAX_SEAL_PER_RUN events seals in about 6 s (npm run bench): none starts in the last 15.
    const run = await runSealer(deps, now, () =>
      context ? context.getRemainingTimeInMillis() < 15_000 : false,
    );
    const behind = run.outcomes.flatMap((o) => (o.status === "sealed" && o.behindFrom ? [o.behindFrom] : []));
    seconds(Metric.sealingLag, Math.max(0, ...behind.map((at) => (now.getTime() - Date.parse(at)) / 1000)));
    publishMetrics();
    return run;
  };

export const handler = makeHandler();
