import { createViewerSession } from "#shared/core/viewer-sessions.js";
import { validationError } from "#shared/core/zod-errors.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json, jsonBody } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";
import { createViewerSessionBodySchema } from "#shared/schemas/admin.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "create-viewer-session", async ({ event, principal, client }) => {
    const parsed = createViewerSessionBodySchema.safeParse(event.body ? jsonBody(event) : {});
    if (!parsed.success) throw validationError(parsed.error);
    return json(201, await createViewerSession(deps, principal, client, parsed.data));
  });

export const handler = makeHandler();
