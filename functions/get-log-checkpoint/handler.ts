import { type LogDeps, latestCheckpoint } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { raw } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logDeps } from "#shared/log-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogDeps = logDeps(base)) =>
  authedRoute(deps, "get-log-checkpoint", async ({ principal, client }) =>
    raw(200, await latestCheckpoint(deps, principal, client), "text/plain; charset=utf-8"),
  );

export const handler = makeHandler();
