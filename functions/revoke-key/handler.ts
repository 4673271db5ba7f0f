import { revokeKey } from "#shared/core/keys.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "revoke-key", async ({ event, principal, client }) =>
    json(200, await revokeKey(deps, principal, client, event.pathParameters?.keyId ?? "")),
  );

export const handler = makeHandler();
