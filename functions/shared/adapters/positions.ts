import type { EventQuery, Position, StoredEventKey } from "../ports.js";
import { Keys } from "../table.js";

/**
 * Positions as the storage encodes them: an event's sort key, `<recordedAt>#<id>`. The one place
 * that turns a query's instants and positions into a sort-key range, for the DynamoDB adapter and
 * for the test stores that must order and bound events exactly as it does.
 */

export interface KeyRange {
  lo: string;
  hi: string;
  /** Keys at the ends that BETWEEN includes but the query does not (`after`, `before`). */
  exclude: Set<string>;
}

/**
 * The query's bounds as one sort-key range for BETWEEN. Sort keys are `<recordedAt>#<id>`, so the
 * key of every event recorded at instant `t` sorts after `t` itself and before `t~`.
 */
export function keyRange(q: Omit<EventQuery, "limit">): KeyRange {
  const lows = ["0", q.since, q.after].filter((k): k is string => k !== undefined);
  const highs = [
    "~",
    q.until,
    q.recordedBy === undefined ? undefined : `${q.recordedBy}~`,
    q.before,
    q.through,
  ].filter((k): k is string => k !== undefined);
  return {
    // Strings, in the sort key's order: the greatest lower bound and the least upper bound.
    lo: lows.sort().at(-1) as string,
    hi: highs.sort()[0] as string,
    exclude: new Set<string>([q.after, q.before].filter((k): k is Position => k !== undefined)),
  };
}

/** Where an event sits in its workspace's order: its sort key. */
export function positionOf(event: StoredEventKey): Position {
  return Keys.eventSk(event.recordedAt, event.id) as Position;
}
