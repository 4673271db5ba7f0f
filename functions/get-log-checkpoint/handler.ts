import { type LogReadDeps, latestCheckpoint } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { raw } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logReadDeps } from "#shared/log-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogReadDeps = logReadDeps(base)) =>
  authedRoute(deps, "get-log-checkpoint", async ({ principal, client }) =>
    raw(200, await latestCheckpoint(deps, principal, client), "text/plain; charset=utf-8"),
  );

export const handler = makeHandler();
