import { keyRange, positionOf } from "../../../functions/shared/adapters/positions.js";
import { STORAGE_UNAVAILABLE } from "../../../functions/shared/adapters/storage-errors.js";
import { UnavailableError } from "../../../functions/shared/errors.js";
import {
  APPEND_DEADLINE_MS,
  type AppendGuard,
  type AppendResult,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventStore,
  type ExistingId,
  type Position,
} from "../../../functions/shared/ports.js";
import type { StoredEvent } from "../../../functions/shared/schemas/event.js";
import { Keys } from "../../../functions/shared/table.js";

/** Records that share one transaction in the DynamoDB adapter (its EVENTS_PER_TRANSACTION). */
export const IN_MEMORY_EVENTS_PER_TRANSACTION = 49;
/** findOwners answers at most this many workspaces, as the adapter's index query does. */
const OWNERS_LIMIT = 25;

interface StoredItem {
  sk: Position;
  event: StoredEvent;
  expiresAt: number;
}

interface Guard {
  workspaceId: string;
  contentHash: string;
  recordedAt: string;
  expiresAt: number;
}

export interface InMemoryEventStoreOptions {
  /**
   * The source's failed authentications in a window, as the control store counts them: what an
   * {@link AppendGuard} holds a condition on. Without it, an append with a guard is a defect (as
   * for the DynamoDB adapter without the control table's name).
   */
  sourceFailures?: (ip: string, windowStart: string) => number;
  /** The clock the records' recordedAt came from: the append deadline is measured on it. */
  now?: () => Date;
}

/**
 * The write-once log in memory, for fast tests of the core. Same semantics as the DynamoDB
 * adapter, pinned by test/contract/event-store.ts: each record's id guard and event are written
 * together or not at all, in chunks of {@link IN_MEMORY_EVENTS_PER_TRANSACTION} that each check the
 * append guard and the append deadline; positions and a query's bounds are the storage's own
 * (functions/shared/adapters/positions.ts: `positionOf`, `keyRange`).
 * Nothing is ever updated or deleted; expired events stay stored (as before a TTL sweep) and are
 * only hidden from reads.
 */
export class InMemoryEventStore implements EventStore {
  /** Per workspace, in position order. */
  private readonly events = new Map<string, StoredItem[]>();
  private readonly guards = new Map<string, Guard>();

  constructor(private readonly options: InMemoryEventStoreOptions = {}) {}

  async append(records: EventRecord[], guard?: AppendGuard): Promise<AppendResult[]> {
    if (guard && !this.options.sourceFailures) {
      throw new Error("an append guard needs the control store's failure counters");
    }
    const ids = new Set(records.map((r) => guardKey(r.workspaceId, r.event.id)));
    // DynamoDB refuses a transaction with two operations on one item: a defect of the caller.
    if (ids.size !== records.length) throw new Error("an append names one id twice");
    const results: AppendResult[] = new Array(records.length);
    const now = (this.options.now ?? (() => new Date()))().getTime();
    for (let start = 0; start < records.length; start += IN_MEMORY_EVENTS_PER_TRANSACTION) {
      const chunk = records.slice(start, start + IN_MEMORY_EVENTS_PER_TRANSACTION);
      // One transaction: past its deadline it is never sent; a held guard cancels all of it.
      const deadline = Math.min(...chunk.map((r) => Date.parse(r.event.recordedAt))) + APPEND_DEADLINE_MS;
      const refused =
        guard !== undefined &&
        (this.options.sourceFailures?.(guard.sourceIp, guard.windowStart) ?? 0) > guard.maxFailures;
      const late = deadline - now <= 0;
      const error = new UnavailableError(STORAGE_UNAVAILABLE, { operation: "append: past its deadline" });
      for (const [i, record] of chunk.entries()) {
        results[start + i] = late
          ? { status: "unavailable", error }
          : refused
            ? { status: "refused" }
            : this.put(record);
      }
    }
    return results;
  }

  private put({ workspaceId, event, contentHash, expiresAt }: EventRecord): AppendResult {
    const key = guardKey(workspaceId, event.id);
    const taken = this.guards.get(key);
    if (taken) {
      return {
        status: "taken",
        contentHash: taken.contentHash,
        recordedAt: taken.recordedAt,
        expiresAt: taken.expiresAt,
        withEvent: true,
      };
    }
    this.guards.set(key, { workspaceId, contentHash, recordedAt: event.recordedAt, expiresAt });
    const items = this.events.get(workspaceId) ?? [];
    this.events.set(workspaceId, items);
    const sk = this.positionOf(event);
    items.splice(insertionPoint(items, sk), 0, { sk, event: structuredClone(event), expiresAt });
    return { status: "created" };
  }

  positionOf(event: Pick<StoredEvent, "recordedAt" | "id">): Position {
    return positionOf(event);
  }

  async getAt(
    workspaceId: string,
    id: string,
    recordedAt: string,
    nowEpochSeconds: number,
  ): Promise<StoredEvent | undefined> {
    const items = this.events.get(workspaceId) ?? [];
    const sk: string = positionOf({ recordedAt, id });
    const item = items[insertionPoint(items, sk)];
    return item?.sk === sk && item.expiresAt > nowEpochSeconds ? structuredClone(item.event) : undefined;
  }

  async findById(workspaceId: string, id: string, nowEpochSeconds: number): Promise<ExistingId | undefined> {
    const guard = this.guards.get(guardKey(workspaceId, id));
    if (!guard || guard.expiresAt <= nowEpochSeconds) return undefined;
    return {
      contentHash: guard.contentHash,
      recordedAt: guard.recordedAt,
      event: await this.getAt(workspaceId, id, guard.recordedAt, nowEpochSeconds),
    };
  }

  async findOwners(id: string): Promise<string[]> {
    // The adapter's index sorts a guard by its table key, `<workspace>#id#<id>`.
    return [...this.guards.entries()]
      .filter(([key]) => key.endsWith(`\u0000${id}`))
      .map(([, guard]) => guard.workspaceId)
      .sort((a, b) => compare(Keys.guardPk(a, id), Keys.guardPk(b, id)))
      .slice(0, OWNERS_LIMIT);
  }

  async query(q: EventQuery): Promise<EventPage> {
    const matches = this.matches(q);
    const page = matches.slice(0, q.limit);
    return {
      events: page.map((item) => structuredClone(item.event)),
      next: matches.length > q.limit ? page.at(-1)?.sk : undefined,
    };
  }

  async *stream(q: Omit<EventQuery, "limit">): AsyncGenerator<StoredEvent> {
    for (const item of this.matches(q)) yield structuredClone(item.event);
  }

  /** Every live match of the query, in its order. */
  private matches(q: Omit<EventQuery, "limit">): StoredItem[] {
    const { lo, hi, exclude } = keyRange(q);
    const out = (this.events.get(q.workspaceId) ?? []).filter(
      ({ sk, event, expiresAt }) =>
        sk >= lo &&
        sk <= hi &&
        !exclude.has(sk) &&
        expiresAt > q.nowEpochSeconds &&
        (q.actorId === undefined || event.actor.id === q.actorId) &&
        (q.nodeId === undefined || event.node?.id === q.nodeId) &&
        (q.types === undefined || q.types.includes(event.type)) &&
        (q.outcome === undefined || event.outcome === q.outcome) &&
        (q.sourceIp === undefined || event.sourceIp === q.sourceIp),
    );
    return q.ascending ? out : out.reverse();
  }
}

const guardKey = (workspaceId: string, id: string) => `${workspaceId}\u0000${id}`;
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The first index whose sort key is not below `sk`. */
function insertionPoint(items: StoredItem[], sk: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((items[mid] as StoredItem).sk < sk) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
