import { eventProof, type LogDeps } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logDeps } from "#shared/log-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogDeps = logDeps(base)) =>
  authedRoute(deps, "get-event-proof", async ({ event, principal, client }) =>
    json(200, await eventProof(deps, principal, client, event.pathParameters?.id ?? "")),
  );

export const handler = makeHandler();
