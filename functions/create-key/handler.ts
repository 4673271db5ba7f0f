import { createKey } from "#shared/core/keys.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json, jsonBody } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "create-key", async ({ event, principal, client }) =>
    json(201, await createKey(deps, principal, client, jsonBody(event))),
  );

export const handler = makeHandler();
