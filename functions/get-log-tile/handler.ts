import { type LogReadDeps, readTile } from "#shared/core/log.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { raw } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { logReadDeps } from "#shared/log-deps.js";

export const makeHandler = (base: Deps = defaultDeps(), deps: LogReadDeps = logReadDeps(base)) =>
  authedRoute(deps, "get-log-tile", async ({ event, principal, client }) =>
    raw(
      200,
      await readTile(deps, principal, client, `tile/${event.pathParameters?.path ?? ""}`),
      "application/octet-stream",
    ),
  );

export const handler = makeHandler();
