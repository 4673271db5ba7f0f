import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import type { EventRecord } from "../../functions/shared/ports.js";
import type { EventType } from "../../functions/shared/schemas/catalogue.js";
import { inFieldOrder, type StoredEvent } from "../../functions/shared/schemas/event.js";

/** Epoch seconds far past every test's reads: an event that never expires here. */
export const NEVER = 4_000_000_000;
/** Reads happen "now" for the contract: a day after the events below were recorded. */
export const NOW_SECONDS = Date.parse("2026-03-10T10:00:00.000Z") / 1000;
const T0 = Date.parse("2026-03-09T10:00:00.000Z");

/**
 * Failure, reach and request windows of the contract lie far ahead of any clock the other tests
 * freeze, so no flush they run (at their "now") ever takes one of ours, and theirs end before ours.
 */
const FUTURE = Date.parse("2099-01-01T00:00:00.000Z");
export const future = (minutes: number) => new Date(FUTURE + minutes * 60_000).toISOString();

/** The instant `minutes` after the suite's first event. */
export const at = (minutes: number, ms = 0) => new Date(T0 + minutes * 60_000 + ms).toISOString();

export interface EventSpec {
  id: string;
  at: string;
  type?: EventType;
  actor?: string;
  node?: string;
  outcome?: "success" | "failure";
  sourceIp?: string;
  context?: Record<string, unknown>;
}

/** A stored event as the core builds one (fields in order, `hash` over the rest). */
export function storedEvent(spec: EventSpec): StoredEvent {
  const type = spec.type ?? "incident.opened";
  const content = inFieldOrder({
    id: spec.id,
    type,
    category: type.split(".")[0],
    recordedAt: spec.at,
    occurredAt: spec.at,
    actor: { type: "user", id: spec.actor ?? "alice@acme.example" },
    node: spec.node === undefined ? undefined : { id: spec.node },
    sourceIp: spec.sourceIp,
    outcome: spec.outcome ?? "success",
    context: spec.context ?? { incidentId: spec.id },
  });
  return inFieldOrder({ ...content, hash: sha256Hex(canonicalJson(content)) });
}

export function recordOf(
  workspaceId: string,
  event: StoredEvent,
  options: { contentHash?: string; expiresAt?: number } = {},
): EventRecord {
  return {
    workspaceId,
    event,
    contentHash: options.contentHash ?? sha256Hex(`content of ${event.id}`),
    expiresAt: options.expiresAt ?? NEVER,
  };
}
