import type { EventQuery } from "../ports.js";
import { typesInCategory } from "../schemas/catalogue.js";
import type { EventFilters } from "../schemas/query.js";

/** The store query for the API's filters (GET /v1/events, exports): one mapping, used by both. */
export function storeQueryOf(
  workspaceId: string,
  filters: EventFilters,
  nowEpochSeconds: number,
): Omit<EventQuery, "limit"> {
  return {
    workspaceId,
    actorId: filters.actor,
    nodeId: filters.node,
    types: filters.type
      ? filters.type.endsWith(".*")
        ? typesInCategory(filters.type.slice(0, -2))
        : [filters.type]
      : undefined,
    outcome: filters.outcome,
    sourceIp: filters.sourceIp,
    since: filters.since,
    until: filters.until,
    nowEpochSeconds,
  };
}
