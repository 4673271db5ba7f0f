import { flushFailures } from "#shared/core/access.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { logger } from "#shared/logger.js";

/** Every minute (EventBridge): one access.denied event per ended window of failed authentications. */
export const makeHandler =
  (deps: Deps = defaultDeps()) =>
  async () => {
    const flushed = await flushFailures(deps);
    if (flushed > 0) logger.info("flushed failure windows", { flushed });
    return { flushed };
  };

export const handler = makeHandler();
