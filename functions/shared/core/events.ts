import { canonicalJson, sha256Hex } from "../canonical.js";
import type { Clock, IdGenerator } from "../clock.js";
import {
  ConflictError,
  DuplicateIdError,
  type FieldError,
  UnavailableError,
  ValidationError,
} from "../errors.js";
import type { ControlStore, EventRecord, EventStore, Principal } from "../ports.js";
import { categoryOf } from "../schemas/catalogue.js";
import {
  type EventInput,
  inFieldOrder,
  parsePostEventsBody,
  type StoredEvent,
  serviceEventInputSchema,
} from "../schemas/event.js";
import { OPERATOR_LOG, OPERATOR_LOG_RETENTION_DAYS } from "../table.js";
import { validationError } from "./zod-errors.js";

export interface EventsDeps {
  events: EventStore;
  control: ControlStore;
  clock: Clock;
  newId: IdGenerator;
  defaultRetentionDays: number;
  cursorKey: () => Promise<Buffer>;
}

/** occurredAt may trail recordedAt by 7 days and lead it by 5 minutes (producer clock skew). */
export const OCCURRED_AT_MAX_AHEAD_MS = 5 * 60 * 1000;
export const OCCURRED_AT_MAX_BEHIND_MS = 7 * 24 * 60 * 60 * 1000;
const DAY_SECONDS = 86_400;
/** Events of one batch written at once; each is two conditional puts (id guard, then event). */
const BATCH_WRITE_CONCURRENCY = 8;

export type ItemStatus = "created" | "duplicate" | "conflict";

export type RecordOutcome =
  | { kind: "single"; status: "created" | "duplicate"; event: StoredEvent }
  | { kind: "batch"; results: { id: string; status: "created" | "duplicate" }[] };

/** The retention in force for new events of a workspace (the operator log keeps its own). */
async function retentionDaysOf(deps: EventsDeps, workspaceId: string): Promise<number> {
  if (workspaceId === OPERATOR_LOG) return OPERATOR_LOG_RETENTION_DAYS;
  return (await deps.control.getWorkspace(workspaceId))?.retentionDays ?? deps.defaultRetentionDays;
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

/** Runs `fn` over `items`, at most `limit` at a time. */
async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface Pending {
  input: EventInput;
  record: EventRecord;
}

/**
 * Appends one event. A taken id with the same content is a duplicate (the stored event is
 * returned); with other content, a conflict. A claim whose event was never stored (the writer died
 * in between, or is still in flight) is completed under the claim's recordedAt, so every racer
 * writes the same item.
 */
async function writeOnce(
  deps: EventsDeps,
  { input, record }: Pending,
  nowSeconds: number,
): Promise<{ status: ItemStatus; event: StoredEvent }> {
  try {
    await deps.events.append(record);
    return { status: "created", event: record.event };
  } catch (err: unknown) {
    if (!(err instanceof DuplicateIdError)) throw err;
  }
  const existing = await deps.events.findById(record.workspaceId, record.event.id, nowSeconds);
  if (!existing || existing.contentHash !== record.contentHash)
    return { status: "conflict", event: record.event };
  if (existing.event) return { status: "duplicate", event: existing.event };
  const event = buildEvent(input, record.event.id, existing.recordedAt);
  await deps.events.complete({ ...record, event });
  return { status: "created", event };
}

/**
 * Validates the whole request, then appends. Nothing is written unless every item is valid. A
 * replayed id with identical content is a duplicate (no second item); with other content, a conflict.
 */
export async function recordEvents(
  deps: EventsDeps,
  principal: Principal,
  body: unknown,
): Promise<RecordOutcome> {
  const { batch, parsed } = parsePostEventsBody(body);
  if (!parsed.success) throw validationError(parsed.error);
  const inputs: EventInput[] = "events" in parsed.data ? parsed.data.events : [parsed.data];
  const pathOf = (i: number) => (batch ? `/events/${i}` : "");

  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const expiresAt = nowSeconds + (await retentionDaysOf(deps, principal.workspaceId)) * DAY_SECONDS;

  // One pending write per distinct id; a repeated id within the batch points at its first use.
  const errors = inputs.flatMap((input, i) => occurredAtErrors(input, now, pathOf(i)));
  const pending: Pending[] = [];
  const firstUse = new Map<string, number>();
  const writeOf = inputs.map((input, i) => {
    const id = input.id ?? deps.newId(now);
    const contentHash = contentHashOf(input);
    const seen = firstUse.get(id);
    if (seen !== undefined) {
      if (pending[seen]?.record.contentHash !== contentHash) {
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
    pending.push({ input, record });
    return { index: pending.length - 1, repeat: false };
  });
  if (errors.length > 0) throw new ValidationError(errors);

  const write = (p: Pending) => writeOnce(deps, p, nowSeconds);

  if (!batch) {
    const result = await write(pending[0] as Pending);
    if (result.status === "conflict") {
      throw new ConflictError(`event ${result.event.id} already exists with different content`);
    }
    return { kind: "single", status: result.status, event: result.event };
  }

  const done: ({ id: string; status: ItemStatus } | undefined)[] = new Array(pending.length);
  try {
    await forEachLimit(
      pending.map((p, i) => [p, i] as const),
      BATCH_WRITE_CONCURRENCY,
      async ([p, i]) => {
        done[i] = { id: p.record.event.id, status: (await write(p)).status };
      },
    );
  } catch (err: unknown) {
    // Say exactly what was stored before the failure, so nothing acknowledged is in doubt.
    if (err instanceof UnavailableError) err.extensions.results = done.filter(Boolean);
    throw err;
  }
  const results = writeOf.map(({ index, repeat }) => {
    const result = done[index] as { id: string; status: ItemStatus };
    return repeat ? { id: result.id, status: "duplicate" as const } : result;
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
 * is a no-op, so retried jobs never duplicate.
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
    event: buildEvent(parsed.data, parsed.data.id ?? deps.newId(now), now.toISOString()),
    contentHash: contentHashOf(parsed.data),
    expiresAt: nowSeconds + (await retentionDaysOf(deps, workspaceId)) * DAY_SECONDS,
  };
  const result = await writeOnce(deps, { input: parsed.data, record }, nowSeconds);
  if (result.status === "conflict")
    throw new Error(`service event id ${record.event.id} reused for other content`);
  return result.event;
}
