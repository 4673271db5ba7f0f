import { getSettings } from "#shared/core/settings.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "get-settings", async ({ principal }) => json(200, await getSettings(deps, principal)));

export const handler = makeHandler();
