import { consistencyProof, type LogReadDeps } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logReadDeps } from "#shared/log-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogReadDeps = logReadDeps(base)) =>
  authedRoute(deps, "get-log-consistency", async ({ principal, client, query }) =>
    json(200, await consistencyProof(deps, principal, client, query)),
  );

export const handler = makeHandler();
