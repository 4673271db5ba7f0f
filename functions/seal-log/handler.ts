import type { ScheduledEvent } from "aws-lambda";
import { type LogDeps, runSealer } from "#shared/core/log.js";
import { type Deps, jobDeps } from "#shared/deps.js";
import { logDeps } from "#shared/log-deps.js";

/** Every minute: each workspace's new events into its tree, and a signed checkpoint. */
export const makeHandler =
  (base: Deps = jobDeps(), deps: LogDeps = logDeps(base)) =>
  async (_event?: Pick<ScheduledEvent, "time">) => ({ outcomes: await runSealer(deps, deps.clock.now()) });

export const handler = makeHandler();
