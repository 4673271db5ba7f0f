import { createExport } from "#shared/core/exports.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { exportQueue } from "#shared/export-deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import type { ExportQueue } from "#shared/ports.js";

export const makeHandler = (deps: Deps = defaultDeps(), queue: ExportQueue = exportQueue(deps.config)) =>
  authedRoute(deps, "create-export", async ({ principal, client, body }) => {
    const created = await createExport({ ...deps, exportQueue: queue }, principal, client, body);
    return json(202, created, { location: `/v1/exports/${created.id}` });
  });

export const handler = makeHandler();
