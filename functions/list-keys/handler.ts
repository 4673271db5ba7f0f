import { listKeys } from "#shared/core/keys.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "list-keys", async ({ principal }) => json(200, await listKeys(deps, principal)));

export const handler = makeHandler();
