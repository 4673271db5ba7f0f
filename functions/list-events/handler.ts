import { listEvents } from "#shared/core/events.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "list-events", async ({ event, principal }) =>
    json(200, await listEvents(deps, principal, event.queryStringParameters ?? {})),
  );

export const handler = makeHandler();
