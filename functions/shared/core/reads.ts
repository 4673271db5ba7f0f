import { openCursor, sealCursor } from "../cursor.js";
import { NotFoundError } from "../errors.js";
import type { Principal } from "../ports.js";
import { type StoredEvent, storedEventIdSchema } from "../schemas/event.js";
import type { ListEventsQuery } from "../schemas/query.js";
import { type Client, recordQueried, recordReach } from "./access.js";
import type { EventsDeps } from "./events.js";
import { storeQueryOf } from "./filters.js";

function storeFilters(q: ListEventsQuery) {
  const { limit: _limit, cursor: _cursor, ...filters } = q;
  return filters;
}

/**
 * Lists events newest first, one page at a time. The read itself is then recorded as
 * `audit.queried`; if that record cannot be written, the read fails (503) rather than go unlogged.
 */
export async function listEvents(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  q: ListEventsQuery,
): Promise<{ events: StoredEvent[]; nextCursor: string | null }> {
  const filters = storeFilters(q);
  const key = await deps.cursorKey();
  // A cursor holds the position of the last event of the page before (newest first).
  const after = q.cursor ? openCursor(key, principal.workspaceId, filters, q.cursor) : undefined;
  const page = await deps.events.query({
    ...storeQueryOf(principal.workspaceId, filters, Math.floor(deps.clock.now().getTime() / 1000)),
    before: after,
    limit: q.limit,
  });
  await recordQueried(deps, principal, client, "list", filters, {
    limit: q.limit,
    returned: page.events.length,
    page: after ? "next" : "first",
  });
  return {
    events: page.events,
    nextCursor: page.next ? sealCursor(key, principal.workspaceId, filters, page.next) : null,
  };
}

/**
 * One event by id, from the caller's workspace only. An id that exists only in other workspaces
 * answers 404 like any unknown id, and each owning workspace gets an `access.denied` event naming
 * the key that reached for it.
 */
export async function getEvent(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  id: string,
): Promise<StoredEvent> {
  const event = await ownEventOrNotFound(deps, principal, client, id);
  await recordQueried(deps, principal, client, "get", { id });
  return event;
}

/**
 * The caller's own event by id, or 404. An id that exists only in other workspaces answers like
 * any unknown id, with the same one write either way (a reach, see recordReach), so the answer
 * says nothing about other workspaces.
 */
export async function ownEventOrNotFound(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  id: string,
): Promise<StoredEvent> {
  const notFound = new NotFoundError(`no event ${id} in this workspace`);
  if (!storedEventIdSchema.safeParse(id).success) throw notFound;
  const found = await deps.events.findById(
    principal.workspaceId,
    id,
    Math.floor(deps.clock.now().getTime() / 1000),
  );
  if (!found?.event) {
    await recordReach(deps, principal, client, { type: "event", id });
    throw notFound;
  }
  return found.event;
}
