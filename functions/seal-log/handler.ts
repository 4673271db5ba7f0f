import type { Context, ScheduledEvent } from "aws-lambda";
import { type LogDeps, runSealer } from "#shared/core/log.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { logDeps } from "#shared/log-deps.js";

/** Every minute: each workspace's new events into its tree, and a signed checkpoint. */
export const makeHandler =
  (base: Deps = jobDeps(), deps: LogDeps = logDeps(base)) =>
  async (_event?: Pick<ScheduledEvent, "time">, context?: Pick<Context, "getRemainingTimeInMillis">) =>
    // A workspace of MAX_SEAL_PER_RUN events seals in about 6 s (npm run bench): none starts in the last 15.
    runSealer(deps, deps.clock.now(), () => (context ? context.getRemainingTimeInMillis() < 15_000 : false));

export const handler = makeHandler();
