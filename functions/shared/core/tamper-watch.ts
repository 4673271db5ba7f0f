import type { AttributeValue, DynamoDBRecord } from "aws-lambda";
import { canonicalJson, sha256Hex } from "../canonical.js";
import { logger } from "../logger.js";
import { APPEND_DEADLINE_MS } from "../ports.js";
import { EventAttr, GuardAttr, OPERATOR_LOG, PK, SK } from "../table.js";
import { type EventsDeps, recordServiceEvent, type ServiceEvent, ServiceEventConflict } from "./events.js";

/**
 * The tamper watch (issue 10, item 7): reads every change the events table's stream reports and
 * flags what the write path never does. The table is write-once, so any MODIFY is tampering; any
 * REMOVE that DynamoDB's TTL sweep did not make after the item expired is too; and an event that
 * appears at or before its workspace's sealed position was put there by someone other than the
 * service, since the sealer only seals what it has already read. Each finding is logged as
 * {@link INTEGRITY_VIOLATION} (a metric filter counts these and alarms on the first) and recorded
 * as an `integrity.violation` event in the operator's security log.
 */

/** Logged (error) once per violation with a `violation` field; the stack's metric filter matches it exactly. */
export const INTEGRITY_VIOLATION = "integrity violation";

/** `userIdentity` of a REMOVE made by DynamoDB's TTL sweep, as AWS documents it. */
export const TTL_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" } as const;

/**
 * How long after its `recordedAt` a real event item may still reach the table: the append deadline
 * (no attempt is sent later, and one in flight lands within moments; ports.ts). An event in a sealed range that landed within it was sealed
 * after it landed, which is what the watch sees when it runs behind the sealer (a retried batch, or
 * TRIM_HORIZON on a first deploy). One that landed later cannot have been sealed after landing:
 * the sealer stays `SEAL_SETTLE_MS` behind the clock, longer than the deadline plus the
 * stream's one-second rounding, so everything it sealed had recordedAt at least that long before.
 */
const WRITE_ALLOWANCE_SECONDS = APPEND_DEADLINE_MS / 1000;

export type ViolationKind = "item_modified" | "item_removed" | "sealed_range_insert";

/** One finding, as logged and recorded. */
export interface Violation {
  kind: ViolationKind;
  workspace: string;
  pk: string;
  sk: string;
  /** The event the item is (an event item) or guards (an id guard). */
  eventId?: string;
  recordedAt?: string;
  /** The stream record's `eventID`. */
  streamEventId: string;
  detail: string;
  /** MODIFY: names of the attributes whose value changed (at most {@link MAX_NAMES}). */
  changed?: string[];
  /** REMOVE: who the stream says removed it. */
  removedBy?: string;
  /** sealed_range_insert: the sealed position it fell behind. */
  sealedKey?: string;
}

export interface WatchOutcome {
  records: number;
  violations: Violation[];
}

type Image = Record<string, AttributeValue>;

/** What an events-table item is, from its keys (docs/storage.md). */
type ItemRef =
  | { kind: "event"; workspace: string; eventId: string; recordedAt: string }
  | { kind: "guard"; workspace: string; eventId: string; recordedAt?: string }
  | { kind: "other"; workspace: string };

const EVENT_PK = /^([^#]+)#\d$/;
const EVENT_SK = /^([^#]+)#(.+)$/s;
const GUARD_PK = /^([^#]+)#id#(.+)$/s;
/** Attribute names a MODIFY lists at most (a forged item may carry thousands). */
const MAX_NAMES = 20;
const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function itemOf(pk: string, sk: string, image: Image): ItemRef {
  const event = EVENT_PK.exec(pk);
  const key = EVENT_SK.exec(sk);
  if (event?.[1] && key?.[1] && key[2]) {
    return { kind: "event", workspace: event[1], recordedAt: key[1], eventId: key[2] };
  }
  const guard = GUARD_PK.exec(pk);
  if (guard?.[1] && guard[2] && sk === "id") {
    const recordedAt = image[GuardAttr.recordedAt]?.S;
    return { kind: "guard", workspace: guard[1], eventId: guard[2], ...(recordedAt ? { recordedAt } : {}) };
  }
  return { kind: "other", workspace: pk.split("#")[0] || "unknown" };
}

/** Attribute names whose values differ between the two images, sorted. */
function changedAttributes(before: Image, after: Image): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names]
    .filter((name) => {
      const a = before[name];
      const b = after[name];
      return a === undefined || b === undefined || canonicalJson(a) !== canonicalJson(b);
    })
    .sort();
}

/** Epoch seconds of the change: the stream's timestamp (second precision), else the clock. */
function changedAt(record: DynamoDBRecord, now: Date): number {
  const at = record.dynamodb?.ApproximateCreationDateTime;
  return typeof at === "number" && Number.isFinite(at) ? at : Math.floor(now.getTime() / 1000);
}

const iso = (epochSeconds: number) =>
  Number.isFinite(epochSeconds) && Math.abs(epochSeconds) < 8.64e12
    ? new Date(epochSeconds * 1000).toISOString()
    : String(epochSeconds);

function identityOf(record: DynamoDBRecord): string | undefined {
  const id = record.userIdentity as { type?: unknown; principalId?: unknown } | undefined;
  if (!id || typeof id !== "object") return undefined;
  return `${String(id.type ?? "?")}/${String(id.principalId ?? "?")}`;
}

/**
 * Whether a REMOVE is DynamoDB's TTL sweep deleting an item that had expired: the TTL principal,
 * and an `expiresAt` at or before the time of the removal. The stream names the TTL service only
 * for its own deletions, so nobody can claim it; an unexpired item removed "by TTL" is flagged all
 * the same, since the sweep never does that.
 */
function expiredByTtl(record: DynamoDBRecord, image: Image, at: number): boolean {
  const id = record.userIdentity as { type?: unknown; principalId?: unknown } | undefined;
  if (id?.type !== TTL_IDENTITY.type || id?.principalId !== TTL_IDENTITY.principalId) return false;
  const expiresAt = Number(image[EventAttr.expiresAt]?.N);
  return Number.isFinite(expiresAt) && expiresAt <= at;
}

function describe(item: ItemRef): string {
  if (item.kind === "event")
    return `event ${cut(item.eventId, 200)} (recordedAt ${cut(item.recordedAt, 40)})`;
  if (item.kind === "guard") {
    const at = item.recordedAt ? ` (recordedAt ${cut(item.recordedAt, 40)})` : "";
    return `the id guard of event ${cut(item.eventId, 200)}${at}`;
  }
  return "an item";
}

/** What, if anything, one stream record shows that the write path never does. */
async function inspect(
  record: DynamoDBRecord,
  now: Date,
  sealedKeyOf: (workspaceId: string) => Promise<string | undefined>,
): Promise<Violation | undefined> {
  const change = record.dynamodb ?? {};
  const pk = change.Keys?.[PK]?.S ?? "";
  const sk = change.Keys?.[SK]?.S ?? "";
  const before: Image = change.OldImage ?? {};
  const after: Image = change.NewImage ?? {};
  const item = itemOf(pk, sk, record.eventName === "INSERT" ? after : before);
  const at = changedAt(record, now);
  const where = `in workspace ${cut(item.workspace, 256)} (item pk ${cut(pk, 300)}, sk ${cut(sk, 300)})`;
  const base = {
    workspace: cut(item.workspace, 256),
    pk,
    sk,
    ...(item.kind !== "other" ? { eventId: item.eventId } : {}),
    ...(item.kind !== "other" && item.recordedAt ? { recordedAt: item.recordedAt } : {}),
    streamEventId: record.eventID ?? "",
  };

  if (record.eventName === "MODIFY") {
    const changed = changedAttributes(before, after);
    const names = changed.length
      ? `: ${changed
          .slice(0, MAX_NAMES)
          .map((n) => cut(n, 64))
          .join(", ")}${changed.length > MAX_NAMES ? ` and ${changed.length - MAX_NAMES} more` : ""}`
      : "";
    return {
      ...base,
      kind: "item_modified",
      changed: changed.slice(0, MAX_NAMES).map((n) => cut(n, 64)),
      detail: `${describe(item)} ${where} was changed in place at ${iso(at)}${names}. The table is write-once: nothing modifies an item.`,
    };
  }

  if (record.eventName === "REMOVE") {
    if (expiredByTtl(record, before, at)) return undefined;
    const by = identityOf(record);
    const expiresAt = Number(before[EventAttr.expiresAt]?.N);
    const why =
      by === `${TTL_IDENTITY.type}/${TTL_IDENTITY.principalId}`
        ? `by the TTL sweep at ${iso(at)} although its expiresAt (${Number.isFinite(expiresAt) ? iso(expiresAt) : "none"}) had not passed`
        : `at ${iso(at)} by ${by ? cut(by, 200) : "a principal the stream does not name"}, not by TTL`;
    return {
      ...base,
      kind: "item_removed",
      removedBy: by ?? "unnamed",
      detail: `${describe(item)} ${where} was deleted ${why}. Only TTL removes items, and only expired ones.`,
    };
  }

  if (record.eventName === "INSERT" && item.kind === "event") {
    const sealedKey = await sealedKeyOf(item.workspace);
    if (sealedKey === undefined || sk > sealedKey) return undefined;
    // Landed within the append deadline of its recordedAt: a real write, sealed before the watch saw it.
    const lag = at - Date.parse(item.recordedAt) / 1000;
    if (lag <= WRITE_ALLOWANCE_SECONDS) return undefined;
    return {
      ...base,
      kind: "sealed_range_insert",
      sealedKey,
      detail: `${describe(item)} ${where} was inserted at ${iso(at)}, inside the range already sealed (up to ${cut(sealedKey, 300)}): no checkpoint covers it.`,
    };
  }
  return undefined;
}

/**
 * The event id of a record's violation: derived from the stream record alone, so a redelivered
 * batch replays the same events (a no-op) instead of recording them twice.
 */
export function violationEventId(record: Pick<DynamoDBRecord, "eventID" | "eventSourceARN">): string {
  return `integrity.${sha256Hex(`${record.eventSourceARN ?? ""}|${record.eventID ?? ""}`).slice(0, 32)}`;
}

function serviceEvent(record: DynamoDBRecord, v: Violation): ServiceEvent {
  return {
    id: violationEventId(record),
    type: "integrity.violation",
    actor: { type: "system", id: "tamper-watch" },
    outcome: "failure",
    ...(v.eventId ? { resource: { type: "event", id: cut(v.eventId, 256) } } : {}),
    context: {
      kind: v.kind,
      workspace: v.workspace,
      detail: cut(v.detail, 2048),
      item: { pk: cut(v.pk, 1024), sk: cut(v.sk, 1024) },
      ...(v.eventId ? { eventId: cut(v.eventId, 256) } : {}),
      ...(v.recordedAt ? { recordedAt: cut(v.recordedAt, 64) } : {}),
      ...(v.changed ? { changed: v.changed } : {}),
      ...(v.removedBy ? { removedBy: cut(v.removedBy, 256) } : {}),
      ...(v.sealedKey ? { sealedKey: cut(v.sealedKey, 1024) } : {}),
      stream: {
        eventId: cut(v.streamEventId, 256),
        eventName: record.eventName ?? "",
        sequenceNumber: cut(record.dynamodb?.SequenceNumber ?? "", 64),
      },
    },
  };
}

/**
 * Checks each record of one stream batch, in order; logs and records every violation before going
 * on. A violation that cannot be recorded throws, so Lambda retries the batch (the records already
 * handled replay as no-ops). The sealed position is read once per workspace per batch.
 */
export async function watchStream(deps: EventsDeps, records: DynamoDBRecord[]): Promise<WatchOutcome> {
  const sealed = new Map<string, Promise<string | undefined>>();
  const sealedKeyOf = (workspaceId: string) => {
    let key = sealed.get(workspaceId);
    if (!key) {
      key = deps.control.getSealedKey(workspaceId);
      sealed.set(workspaceId, key);
    }
    return key;
  };
  const violations: Violation[] = [];
  for (const record of records) {
    const violation = await inspect(record, deps.clock.now(), sealedKeyOf);
    if (!violation) continue;
    const { detail, changed: _changed, ...fields } = violation;
    // Logged first: the alarm fires even when the security log cannot be written.
    logger.error(INTEGRITY_VIOLATION, { violation: { ...fields, detail: cut(detail, 2048) } });
    try {
      await recordServiceEvent(deps, OPERATOR_LOG, serviceEvent(record, violation));
    } catch (err: unknown) {
      // The id holds other content: this record's violation was recorded before (by another build).
      if (!(err instanceof ServiceEventConflict)) throw err;
      logger.warn("integrity violation already recorded under its id", { id: err.id });
    }
    violations.push(violation);
  }
  return { records: records.length, violations };
}
