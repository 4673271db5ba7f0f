import { getExport } from "#shared/core/exports.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { archiveStore } from "#shared/export-deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import type { ArchiveStore } from "#shared/ports.js";

export const makeHandler = (deps: Deps = defaultDeps(), archive: ArchiveStore = archiveStore(deps.config)) =>
  authedRoute(deps, "get-export", async ({ event, principal, client }) =>
    json(200, await getExport({ ...deps, archive }, principal, client, event.pathParameters?.id ?? "")),
  );

export const handler = makeHandler();
