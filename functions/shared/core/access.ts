import { sha256Hex } from "../canonical.js";
import {
  type AuthenticationFailure,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
} from "../errors.js";
import type { Principal } from "../ports.js";
import { OPERATOR_LOG } from "../table.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

/**
 * Access auditing (PCI DSS 10.2.1.3–10.2.1.5): failed authentications, denied access and every read
 * of the log become events in the log itself.
 */

export { OPERATOR_LOG } from "../table.js";
/** Failed authentications are counted per (target, source IP) in windows of this length. */
export const FAILURE_WINDOW_MS = 60_000;
/** Failures per window after which a source gets 429 instead of 401. */
export const FAILURE_THRESHOLD = 10;

/** What the gateway says about the caller: never taken from the body. */
export interface Client {
  sourceIp: string;
  userAgent?: string;
  method: string;
  path: string;
}

const keyActor = (principal: Principal) => ({ type: "api_key" as const, id: principal.keyId });
const ua = (client: Client) => (client.userAgent ? { userAgent: client.userAgent.slice(0, 1024) } : {});

/**
 * Counts a failed authentication in its window and answers 401, or 429 past the threshold. The
 * window's one aggregate `access.denied` event is written by {@link flushFailures} when the window
 * ends, so a flood costs one event per source per minute and every attempt is still counted.
 */
export async function onAuthenticationFailure(
  deps: EventsDeps,
  failure: AuthenticationFailure,
  client: Client,
): Promise<never> {
  const now = deps.clock.now().getTime();
  const windowStart = Math.floor(now / FAILURE_WINDOW_MS) * FAILURE_WINDOW_MS;
  const windowEnd = windowStart + FAILURE_WINDOW_MS;
  const count = await deps.control.countFailure({
    target: failure.keyWorkspace ?? OPERATOR_LOG,
    ip: client.sourceIp,
    windowStart: new Date(windowStart).toISOString(),
    windowEnd: new Date(windowEnd).toISOString(),
    method: client.method,
    path: client.path,
    userAgent: client.userAgent,
    reason: failure.reason,
  });
  if (count > FAILURE_THRESHOLD) {
    throw new TooManyRequestsError(
      "too many failed attempts from this address; retry later",
      (windowEnd - now) / 1000,
    );
  }
  throw new UnauthorizedError(
    failure.reason === "missing_key"
      ? "send the API key as `Authorization: Bearer <key>`"
      : "the API key is not valid",
  );
}

/**
 * Writes one `access.denied` event per ended failure window, then marks the window flushed. Event
 * ids derive from the window, so a rerun after a crash writes nothing twice.
 */
export async function flushFailures(deps: EventsDeps): Promise<number> {
  const windows = await deps.control.pendingFailures(deps.clock.now().toISOString());
  for (const w of windows) {
    const reasons = Object.entries(w.reasons).sort((a, b) => b[1] - a[1]);
    await recordServiceEvent(deps, w.target, {
      id: `denied.${sha256Hex(`${w.target}|${w.ip}|${w.windowStart}`).slice(0, 32)}`,
      type: "access.denied",
      actor: { type: "api_key", id: "unauthenticated", name: "invalid or missing API key" },
      sourceIp: w.ip,
      userAgent: w.userAgent || undefined,
      outcome: "failure",
      context: {
        reason: reasons[0]?.[0] ?? "invalid_api_key",
        method: w.method,
        path: w.path,
        count: w.count,
        reasons: w.reasons,
        windowStart: w.windowStart,
        windowEnd: w.windowEnd,
      },
    });
    await deps.control.markFailuresFlushed(w);
  }
  return windows.length;
}

/** An authenticated request refused: a missing scope, or a reach into another workspace. */
export async function recordDenied(
  deps: EventsDeps,
  workspaceId: string,
  principal: Principal,
  client: Client,
  reason: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await recordServiceEvent(deps, workspaceId, {
    type: "access.denied",
    actor: {
      ...keyActor(principal),
      ...(principal.workspaceId !== workspaceId ? { name: `key of workspace ${principal.workspaceId}` } : {}),
    },
    sourceIp: client.sourceIp,
    ...ua(client),
    outcome: "failure",
    context: { reason, method: client.method, path: client.path, ...extra },
  });
}

/**
 * The resource if it belongs to the caller's workspace. Otherwise 404, exactly as for an unknown
 * id, and when it belongs to another workspace, that workspace gets an `access.denied` event.
 */
export async function ownedOrNotFound<T extends { workspaceId: string }>(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  resource: { type: string; id: string },
  found: T | undefined,
): Promise<T> {
  if (found && found.workspaceId !== principal.workspaceId) {
    await recordDenied(deps, found.workspaceId, principal, client, "cross_workspace", { resource });
  }
  if (!found || found.workspaceId !== principal.workspaceId) {
    throw new NotFoundError(`no ${resource.type} ${resource.id} in this workspace`);
  }
  return found;
}

/** Every read of the log leaves one `audit.queried` event with the filters it used. */
export async function recordQueried(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  route: string,
  filters: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await recordServiceEvent(deps, principal.workspaceId, {
    type: "audit.queried",
    actor: keyActor(principal),
    sourceIp: client.sourceIp,
    ...ua(client),
    context: { route, filters, ...extra },
  });
}

/** Events the service records about an authenticated action (key changes, settings). */
export function actionEvent(principal: Principal, client: Client) {
  return { actor: keyActor(principal), sourceIp: client.sourceIp, ...ua(client) };
}
