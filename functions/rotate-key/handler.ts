import { rotateKey } from "#shared/core/keys.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "rotate-key", async ({ event, principal, client, body }) =>
    json(200, await rotateKey(deps, principal, client, event.pathParameters?.keyId ?? "", body)),
  );

export const handler = makeHandler();
