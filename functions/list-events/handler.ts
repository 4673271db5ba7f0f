import { listEvents } from "#shared/core/reads.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "list-events", async ({ principal, client, query }) =>
    json(200, await listEvents(deps, principal, client, query)),
  );

export const handler = makeHandler();
