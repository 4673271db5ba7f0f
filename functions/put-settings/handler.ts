import { putSettings } from "#shared/core/settings.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "put-settings", async ({ principal, client, body }) =>
    json(200, await putSettings(deps, principal, client, body)),
  );

export const handler = makeHandler();
