import { listNightlyExports } from "#shared/core/nightly-export.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { archiveStore } from "#shared/export-deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import type { ArchiveStore } from "#shared/ports.js";

export const makeHandler = (deps: Deps = defaultDeps(), archive: ArchiveStore = archiveStore(deps.config)) =>
  authedRoute(deps, "list-nightly-exports", async ({ principal, client, query }) =>
    json(200, await listNightlyExports({ ...deps, archive }, principal, client, query)),
  );

export const handler = makeHandler();
