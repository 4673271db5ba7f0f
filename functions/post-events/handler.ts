import { recordEvents } from "#shared/core/events.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { json } from "#shared/http/request.js";
import { authedRoute } from "#shared/http/route.js";

export const makeHandler = (deps: Deps = defaultDeps()) =>
  authedRoute(deps, "post-events", async ({ principal, guard, body }) => {
    const outcome = await recordEvents(deps, principal, body, guard);
    if (outcome.kind === "batch") return json(200, { results: outcome.results });
    const location = { location: `/v1/events/${encodeURIComponent(outcome.event.id)}` };
    return json(outcome.status === "created" ? 201 : 200, outcome.event, location);
  });

export const handler = makeHandler();
