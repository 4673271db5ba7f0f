import { createKey } from "#shared/core/keys.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "create-key", async ({ principal, client, body }) =>
    json(201, await createKey(deps, principal, client, body)),
  );

export const handler = makeHandler();
