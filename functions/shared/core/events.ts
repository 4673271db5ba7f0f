import { canonicalJson, sha256Hex } from "../canonical.js";
import type { Clock, IdGenerator } from "../clock.js";
import {
  ConflictError,
  type FieldError,
  type TooManyRequestsError,
  UnavailableError,
  ValidationError,
} from "../errors.js";
import type { ControlStore, EventRecord, EventStore, Principal } from "../ports.js";
import { categoryOf } from "../schemas/catalogue.js";
import {
  type EventInput,
  inFieldOrder,
  type PostEventsRequest,
  SERVICE_EVENT_ID_PREFIX,
  type StoredEvent,
  serviceEventInputSchema,
} from "../schemas/event.js";
import { OPERATOR_LOG, OPERATOR_LOG_RETENTION_DAYS } from "../table.js";
import type { RecordCache } from "./record-cache.js";
import { THROTTLED_SOURCE, throttledUntil, type WriteGuard } from "./throttle.js";

export interface EventsDeps {
  events: EventStore;
  control: ControlStore;
  /** API keys and workspaces as the hot path reads them: cached for a bounded time. */
  records: RecordCache;
  clock: Clock;
  newId: IdGenerator;
  defaultRetentionDays: number;
  cursorKey: () => Promise<Buffer>;
}

/** occurredAt may trail recordedAt by 7 days and lead it by 5 minutes (producer clock skew). */
export const OCCURRED_AT_MAX_AHEAD_MS = 5 * 60 * 1000;
export const OCCURRED_AT_MAX_BEHIND_MS = 7 * 24 * 60 * 60 * 1000;
const DAY_SECONDS = 86_400;

export type ItemStatus = "created" | "duplicate" | "conflict";

export type RecordOutcome =
  | { kind: "single"; status: "created" | "duplicate"; event: StoredEvent }
  | { kind: "batch"; results: { id: string; status: "created" | "duplicate" }[] };

/** The retention in force for new events of a workspace (the operator log keeps its own). */
export async function retentionDaysOf(deps: EventsDeps, workspaceId: string): Promise<number> {
  if (workspaceId === OPERATOR_LOG) return OPERATOR_LOG_RETENTION_DAYS;
  return (await deps.records.workspace(workspaceId))?.retentionDays ?? deps.defaultRetentionDays;
}

/** The stored form of one input, hashed as the evidence that anchors later integrity seals. */
export function buildEvent(input: EventInput, id: string, recordedAt: string): StoredEvent {
  const { id: _id, occurredAt, ...rest } = input;
  const withoutHash = {
    id,
    ...rest,
    category: categoryOf(input.type),
    recordedAt,
    occurredAt: occurredAt ?? recordedAt,
  };
  return inFieldOrder({ ...withoutHash, hash: sha256Hex(canonicalJson(withoutHash)) });
}

/** Same id + same content hash = a replay; same id + another hash = a conflict. */
export function contentHashOf(input: EventInput): string {
  const { id: _id, ...content } = input;
  return sha256Hex(canonicalJson(content));
}

function occurredAtErrors(input: EventInput, now: Date, prefix: string): FieldError[] {
  if (!input.occurredAt) return [];
  const at = Date.parse(input.occurredAt);
  if (at > now.getTime() + OCCURRED_AT_MAX_AHEAD_MS) {
    return [{ path: `${prefix}/occurredAt`, message: "must be at most 5 minutes after the server's time" }];
  }
  if (at < now.getTime() - OCCURRED_AT_MAX_BEHIND_MS) {
    return [{ path: `${prefix}/occurredAt`, message: "must be at most 7 days before the server's time" }];
  }
  return [];
}

type Written = { status: ItemStatus; event: StoredEvent };

/**
 * Appends the records (each atomically: its id and its event, or nothing) and says what became of
 * each: created; a taken id with the same content, a duplicate (with the recordedAt it was first
 * stored at); with other content, or only an expired event left, a conflict. `failed` is the
 * storage error of any record whose outcome is unknown (their entries in `written` are undefined).
 */
async function writeAll(
  deps: EventsDeps,
  records: EventRecord[],
  nowSeconds: number,
  guard?: WriteGuard,
): Promise<{ written: (Written | undefined)[]; failed?: UnavailableError | TooManyRequestsError }> {
  const results = await deps.events.append(records, guard);
  let failed: UnavailableError | TooManyRequestsError | undefined;
  const written = await Promise.all(
    results.map(async (result, i): Promise<Written | undefined> => {
      const { event, contentHash, workspaceId } = records[i] as EventRecord;
      if (result.status === "created") return { status: "created", event };
      if (result.status === "unavailable") {
        // The outcome of these is unknown: that, not a refusal elsewhere in the batch, is the answer.
        failed = result.error;
        return undefined;
      }
      if (result.status === "refused") {
        if (!(failed instanceof UnavailableError)) {
          failed = throttledUntil((guard as WriteGuard).windowEnd, deps.clock.now(), THROTTLED_SOURCE);
        }
        return undefined;
      }
      const first = { ...event, recordedAt: result.recordedAt };
      if (result.contentHash !== contentHash || result.expiresAt <= nowSeconds) {
        return { status: "conflict", event: first };
      }
      // A guard of the earlier two-put writer may lack its event (that writer died between its
      // puts): a duplicate is answered only for an event that is there.
      if (
        !result.withEvent &&
        !(await deps.events.getAt(workspaceId, event.id, result.recordedAt, nowSeconds))
      ) {
        return { status: "conflict", event: first };
      }
      return { status: "duplicate", event: first };
    }),
  );
  return { written, ...(failed ? { failed } : {}) };
}

/**
 * Appends one event and answers with the stored form: for a duplicate, the event as first stored
 * (one GetItem at the recordedAt its guard names).
 */
async function writeOne(
  deps: EventsDeps,
  record: EventRecord,
  nowSeconds: number,
  guard?: WriteGuard,
): Promise<Written> {
  const { written, failed } = await writeAll(deps, [record], nowSeconds, guard);
  const [result] = written;
  if (failed || !result) throw failed;
  if (result.status !== "duplicate") return result;
  const stored = await deps.events.getAt(
    record.workspaceId,
    record.event.id,
    result.event.recordedAt,
    nowSeconds,
  );
  // Gone between the two reads: expired just now.
  return stored ? { status: "duplicate", event: stored } : { status: "conflict", event: result.event };
}

/**
 * Checks the whole request (its shape the route validated: here, the rules of time and of ids
 * within the batch), then appends. Nothing is written unless every item passes. A replayed id with
 * identical content is a duplicate (no second item); with other content, a conflict.
 * With a guard, the writes are refused (429) if the source is throttled when they are made.
 */
export async function recordEvents(
  deps: EventsDeps,
  principal: Principal,
  request: PostEventsRequest,
  guard?: WriteGuard,
): Promise<RecordOutcome> {
  const { batch, events: inputs } = request;
  const pathOf = (i: number) => (batch ? `/events/${i}` : "");

  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const expiresAt = nowSeconds + (await retentionDaysOf(deps, principal.workspaceId)) * DAY_SECONDS;

  // One pending write per distinct id; a repeated id within the batch points at its first use.
  const errors = inputs.flatMap((input, i) => occurredAtErrors(input, now, pathOf(i)));
  const pending: EventRecord[] = [];
  const firstUse = new Map<string, number>();
  const writeOf = inputs.map((input, i) => {
    const id = input.id ?? deps.newId(now);
    const contentHash = contentHashOf(input);
    const seen = firstUse.get(id);
    if (seen !== undefined) {
      if (pending[seen]?.contentHash !== contentHash) {
        errors.push({
          path: `${pathOf(i)}/id`,
          message: "repeats an earlier id of this batch with different content",
        });
      }
      return { index: seen, repeat: true };
    }
    firstUse.set(id, pending.length);
    const record = {
      workspaceId: principal.workspaceId,
      event: buildEvent(input, id, now.toISOString()),
      contentHash,
      expiresAt,
    };
    pending.push(record);
    return { index: pending.length - 1, repeat: false };
  });
  if (errors.length > 0) throw new ValidationError(errors);

  if (!batch) {
    const result = await writeOne(deps, pending[0] as EventRecord, nowSeconds, guard);
    if (result.status === "conflict") {
      throw new ConflictError(`event ${result.event.id} already exists with different content`);
    }
    return { kind: "single", status: result.status, event: result.event };
  }

  const { written, failed } = await writeAll(deps, pending, nowSeconds, guard);
  if (failed) {
    // Say what was settled before the failure; the rest is for the client's retry (same ids) to settle.
    failed.extensions.results = written.flatMap((w) => (w ? [{ id: w.event.id, status: w.status }] : []));
    throw failed;
  }
  const results = writeOf.map(({ index, repeat }) => {
    const { event, status } = written[index] as Written;
    // A repeat answers as its first use: the same event's duplicate once created, a conflict as one.
    return { id: event.id, status: repeat && status === "created" ? ("duplicate" as const) : status };
  });
  if (results.some((r) => r.status === "conflict")) {
    const conflict = new ConflictError(
      "some event ids already exist with different content; the other events were stored",
    );
    conflict.extensions.results = results;
    throw conflict;
  }
  return { kind: "batch", results: results as { id: string; status: "created" | "duplicate" }[] };
}

/**
 * A record the service owes the log (a read, a denial, a key change) could not be written: storage
 * trouble, so a 503 like any other, told apart for the `AuditWriteFailed` metric.
 */
export class AuditWriteUnavailable extends UnavailableError {
  readonly auditRecord = true;
}

/** The service's own fixed event id already holds other content (a bug, or a window counted again). */
export class ServiceEventConflict extends Error {
  override readonly name = "ServiceEventConflict";
  constructor(readonly id: string) {
    super(`service event id ${id} reused for other content`);
  }
}

/** A service event: who did what, from where. The service's own writes go through here. */
export interface ServiceEvent {
  id?: string;
  type: string;
  actor: { type: "user" | "system" | "service" | "api_key"; id: string; name?: string };
  sourceIp?: string;
  userAgent?: string;
  outcome?: "success" | "failure";
  resource?: { type: string; id: string };
  context: Record<string, unknown>;
}

/**
 * Records an event the service itself observed (key actions, denied access, reads of the log).
 * Validated against the full catalogue like any event. With an id, a repeat of the same content
 * is a no-op, so retried jobs never duplicate; the id is stored with
 * {@link SERVICE_EVENT_ID_PREFIX}, in a namespace no client can post into.
 */
export async function recordServiceEvent(
  deps: EventsDeps,
  workspaceId: string,
  event: ServiceEvent,
): Promise<StoredEvent> {
  const parsed = serviceEventInputSchema.safeParse(event);
  if (!parsed.success) throw new Error(`invalid service event: ${parsed.error.message}`);
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const record: EventRecord = {
    workspaceId,
    event: buildEvent(
      parsed.data,
      parsed.data.id === undefined ? deps.newId(now) : `${SERVICE_EVENT_ID_PREFIX}${parsed.data.id}`,
      now.toISOString(),
    ),
    contentHash: contentHashOf(parsed.data),
    expiresAt: nowSeconds + (await retentionDaysOf(deps, workspaceId)) * DAY_SECONDS,
  };
  let result: Written;
  try {
    result = await writeOne(deps, record, nowSeconds);
  } catch (err: unknown) {
    if (!(err instanceof UnavailableError)) throw err;
    throw new AuditWriteUnavailable(err.message, {
      cause: err,
      operation: err.operation,
      retryAfterSeconds: Number(err.headers["retry-after"]),
    });
  }
  if (result.status === "conflict") throw new ServiceEventConflict(record.event.id);
  return result.event;
}
