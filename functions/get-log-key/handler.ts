import { type LogKeyDeps, logKeyInfo } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logKeyDeps } from "#shared/log-key-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogKeyDeps = logKeyDeps(base)) =>
  authedRoute(deps, "get-log-key", async ({ principal, client }) =>
    json(200, await logKeyInfo(deps, principal, client)),
  );

export const handler = makeHandler();
