import { sha256Hex } from "../canonical.js";
import { type AuthenticationFailure, NotFoundError, UnauthorizedError } from "../errors.js";
import type { Principal } from "../ports.js";
import { REQUEST_PATH_MAX_LENGTH } from "../schemas/catalogue.js";
import { USER_AGENT_MAX_LENGTH } from "../schemas/event.js";
import { OPERATOR_LOG } from "../table.js";
import { type EventsDeps, recordServiceEvent, type ServiceEvent, ServiceEventConflict } from "./events.js";
import { FAILURE_THRESHOLD, FAILURE_WINDOW_MS, THROTTLED_SOURCE, throttledUntil } from "./throttle.js";

/**
 * Access auditing (PCI DSS 10.2.1.3–10.2.1.5): failed authentications, denied access and every read
 * of the log become events in the log itself.
 */

export { OPERATOR_LOG } from "../table.js";
export { FAILURE_THRESHOLD, FAILURE_WINDOW_MS } from "./throttle.js";

/** What the gateway says about the caller: never taken from the body. */
export interface Client {
  sourceIp: string;
  userAgent?: string;
  method: string;
  path: string;
}

/**
 * Who acted: the API key; for a viewer session minted for a person, that person, with the session
 * and the key that minted it in `name`.
 */
const keyActor = (principal: Principal) => {
  const session = principal.session;
  if (!session) return { type: "api_key" as const, id: principal.keyId };
  const via = `viewer session ${principal.keyId} minted by key ${session.mintedBy}`;
  return session.viewer
    ? {
        type: "user" as const,
        id: session.viewer.id,
        name: `${session.viewer.name ? `${session.viewer.name}, ` : ""}${via}`.slice(0, 256),
      }
    : { type: "api_key" as const, id: principal.keyId, name: via };
};
const ua = (client: Client) => (client.userAgent ? { userAgent: client.userAgent } : {});

/** What a 401 says. It never tells an unknown key id from a wrong secret. */
const UNAUTHORIZED_DETAIL: Partial<Record<AuthenticationFailure["reason"], string>> = {
  missing_key: "send the API key as `Authorization: Bearer <key>`",
  expired_session: "the viewer session has expired; open the audit log again from your dashboard",
};

/** Logged (error) for each failure window the flush could not write; an alarm counts these. */
export const FAILURE_FLUSH_FAILED = "failure window not flushed";
/** Logged by every flush with `oldestPendingSeconds`; an alarm watches how old the backlog gets. */
export const FAILURE_FLUSH_BACKLOG = "failure flush backlog";

/**
 * Counts a failed authentication in its window and answers 401, or 429 once the source has failed
 * more than the threshold in this window, whatever keys or workspaces it named: the answer never
 * tells whether a key id exists, or which keys share a workspace. The window's one aggregate
 * `access.denied` event per target is written by {@link flushFailures} when the window ends, so a
 * flood costs one event per source and target per minute and every attempt is still counted.
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
    throw throttledUntil(new Date(windowEnd).toISOString(), new Date(now), THROTTLED_SOURCE);
  }
  throw new UnauthorizedError(UNAUTHORIZED_DETAIL[failure.reason] ?? "the API key is not valid");
}

export interface FlushOutcome {
  flushed: number;
  /** Windows not started because time was short: pending for the next run, like failed ones. */
  left: number;
  /** Windows that could not be written this time; they stay pending for the next run. */
  failed: { target: string; ip: string; windowStart: string; error: unknown }[];
  /** Seconds since the oldest window still pending after this run ended (0: none left). */
  oldestPendingSeconds: number;
}

/**
 * Writes one `access.denied` event per ended failure window, then marks the window flushed. Event
 * ids derive from the window (in the service's own id namespace), so a rerun after a crash writes
 * nothing twice. A window that cannot be written is reported and left pending; it never holds up
 * the windows after it, in its workspace or any other.
 */
export async function flushFailures(
  deps: EventsDeps,
  timeIsShort: () => boolean = () => false,
): Promise<FlushOutcome> {
  const now = deps.clock.now();
  return flushEach(
    now,
    timeIsShort,
    await deps.control.pendingFailures(now.toISOString()),
    (w) => w.target,
    async (w) => {
      const reasons = Object.entries(w.reasons).sort((a, b) => b[1] - a[1]);
      await recordOnce(deps, w.target, {
        id: `denied.${sha256Hex(`${w.target}|${w.ip}|${w.windowStart}`).slice(0, 32)}`,
        type: "access.denied",
        actor: { type: "api_key", id: "unauthenticated", name: "invalid or missing API key" },
        sourceIp: w.ip,
        // Counters written before the gateway's values were bounded may hold longer ones.
        userAgent: w.userAgent?.slice(0, USER_AGENT_MAX_LENGTH).toWellFormed() || undefined,
        outcome: "failure",
        context: {
          reason: reasons[0]?.[0] ?? "invalid_api_key",
          method: w.method,
          path: w.path.slice(0, REQUEST_PATH_MAX_LENGTH).toWellFormed(),
          count: w.count,
          reasons: w.reasons,
          windowStart: w.windowStart,
          windowEnd: w.windowEnd,
        },
      });
      await deps.control.markFailuresFlushed(w);
    },
  );
}

/**
 * Runs `flush` over each window on its own: one that throws is reported in `failed` and left
 * pending, and the others go on.
 */
async function flushEach<W extends { ip: string; windowStart: string }>(
  now: Date,
  timeIsShort: () => boolean,
  windows: W[],
  targetOf: (w: W) => string,
  flush: (w: W) => Promise<void>,
): Promise<FlushOutcome> {
  const failed: FlushOutcome["failed"] = [];
  const left: W[] = [];
  let flushed = 0;
  for (const w of windows) {
    // Out of time: the rest stay pending for the next run, rather than die with the invocation.
    if (timeIsShort()) {
      left.push(w);
      continue;
    }
    try {
      await flush(w);
      flushed++;
    } catch (error: unknown) {
      failed.push({ target: targetOf(w), ip: w.ip, windowStart: w.windowStart, error });
    }
  }
  const pending = [...failed.map((f) => f.windowStart), ...left.map((w) => w.windowStart)];
  const oldest = pending.length ? Math.min(...pending.map((t) => Date.parse(t))) : undefined;
  const oldestPendingSeconds =
    oldest === undefined ? 0 : Math.max(0, Math.round((now.getTime() - oldest - FAILURE_WINDOW_MS) / 1000));
  return { flushed, left: left.length, failed, oldestPendingSeconds };
}

/**
 * A window's event, written once. A request still in flight when its window was flushed may add to
 * the counter afterwards and make the window pending again; the rerun then finds the window's event
 * already there with the earlier count, which is what was recorded: it is left as it is.
 */
async function recordOnce(deps: EventsDeps, workspaceId: string, event: ServiceEvent): Promise<void> {
  try {
    await recordServiceEvent(deps, workspaceId, event);
  } catch (err: unknown) {
    if (!(err instanceof ServiceEventConflict)) throw err;
  }
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
 * id, after the same one write either way ({@link recordReach}): whether another workspace holds
 * it is decided later, by the flush, so neither the answer nor its timing tells.
 */
export async function ownedOrNotFound<T extends { workspaceId: string }>(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  resource: { type: string; id: string },
  found: T | undefined,
): Promise<T> {
  if (!found || found.workspaceId !== principal.workspaceId) {
    await recordReach(deps, principal, client, resource);
    throw new NotFoundError(`no ${resource.type} ${resource.id} in this workspace`);
  }
  return found;
}

/**
 * Counts a reach for a resource the caller's workspace does not hold, in the (key, source IP,
 * minute) window: one conditional update, the same whether the resource is unknown or another
 * workspace's. {@link flushReaches} later tells each owning workspace, once per window.
 */
export async function recordReach(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  resource: { type: string; id: string },
): Promise<void> {
  // An id no resource of its kind can have names nothing to report (and the formats are public).
  if (!RESOURCE_ID[resource.type]?.test(resource.id)) return;
  const windowStart = Math.floor(deps.clock.now().getTime() / FAILURE_WINDOW_MS) * FAILURE_WINDOW_MS;
  await deps.control.countReach({
    workspaceId: principal.workspaceId,
    keyId: principal.keyId,
    ip: client.sourceIp,
    windowStart: new Date(windowStart).toISOString(),
    windowEnd: new Date(windowStart + FAILURE_WINDOW_MS).toISOString(),
    method: client.method,
    path: client.path,
    userAgent: client.userAgent,
    resource,
  });
}

/** What a well-formed id of each kind of resource looks like. */
const RESOURCE_ID: Record<string, RegExp> = {
  event: /^~?[A-Za-z0-9._:-]{1,128}$/,
  apikey: /^[0-9a-f]{16}$/,
  export: /^[0-9A-Z]{26}$/,
};

/** The workspaces that hold a resource a reach named. */
async function ownersOf(deps: EventsDeps, resource: { type: string; id: string }): Promise<string[]> {
  if (!RESOURCE_ID[resource.type]?.test(resource.id)) return [];
  if (resource.type === "event") return deps.events.findOwners(resource.id);
  if (resource.type === "apikey") return [(await deps.control.getApiKey(resource.id))?.workspaceId ?? ""];
  if (resource.type === "export") return [(await deps.control.getExportJob(resource.id))?.workspaceId ?? ""];
  return [];
}

/**
 * For each ended reach window: finds who owns what the key reached for, and writes one
 * `access.denied` (reason `cross_workspace`) into each other workspace that owns any of it, naming
 * the key, its workspace, the source and every resource of that owner reached; unknown ids tell
 * nobody anything. Ids derive from the window, so a rerun writes nothing twice; a window that fails
 * is left for the next run.
 */
export async function flushReaches(
  deps: EventsDeps,
  timeIsShort: () => boolean = () => false,
): Promise<FlushOutcome> {
  const now = deps.clock.now();
  return flushEach(
    now,
    timeIsShort,
    await deps.control.pendingReaches(now.toISOString()),
    (w) => w.workspaceId,
    async (w) => {
      const byOwner = new Map<string, { type: string; id: string }[]>();
      for (const resource of w.resources) {
        for (const owner of await ownersOf(deps, resource)) {
          if (!owner || owner === w.workspaceId) continue;
          byOwner.set(owner, [...(byOwner.get(owner) ?? []), resource]);
        }
      }
      for (const [owner, resources] of byOwner) {
        await recordOnce(deps, owner, {
          id: `reach.${sha256Hex(`${owner}|${w.workspaceId}|${w.keyId}|${w.ip}|${w.windowStart}`).slice(0, 32)}`,
          type: "access.denied",
          actor: { type: "api_key", id: w.keyId, name: `key of workspace ${w.workspaceId}` },
          sourceIp: w.ip,
          userAgent: w.userAgent,
          outcome: "failure",
          context: {
            reason: "cross_workspace",
            method: w.method,
            path: w.path,
            count: w.count,
            ...(resources.length === 1 ? { resource: resources[0] } : {}),
            resources,
            windowStart: w.windowStart,
            windowEnd: w.windowEnd,
          },
        });
      }
      await deps.control.markReachesFlushed(w);
    },
  );
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
