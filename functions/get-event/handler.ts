import { getEvent } from "#shared/core/reads.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "get-event", async ({ event, principal, client }) =>
    json(200, await getEvent(deps, principal, client, event.pathParameters?.id ?? "")),
  );

export const handler = makeHandler();
