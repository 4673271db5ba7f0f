import type { Clock } from "../clock.js";
import { TooManyRequestsError } from "../errors.js";
import type { AppendGuard, ControlStore } from "../ports.js";

/**
 * Limits on who may use the API, decided from storage the service shares across execution
 * environments: a source that keeps failing to authenticate is refused for the rest of its window,
 * whatever key it presents next, and each workspace has a request rate (README, "Each workspace has
 * a request rate").
 */

/** Failed authentications are counted per source IP in windows of this length. */
export const FAILURE_WINDOW_MS = 60_000;
/** Failures per window after which a source gets 429, even with a valid key, until the window ends. */
export const FAILURE_THRESHOLD = 10;

export interface Window {
  start: string;
  end: string;
}

/** The fixed window of `lengthMs` that holds `at`. */
export function windowAt(at: Date, lengthMs: number): Window {
  const start = Math.floor(at.getTime() / lengthMs) * lengthMs;
  return { start: new Date(start).toISOString(), end: new Date(start + lengthMs).toISOString() };
}

/** 429 until `windowEnd`. */
export function throttledUntil(windowEnd: string, now: Date, detail: string): TooManyRequestsError {
  return new TooManyRequestsError(detail, (Date.parse(windowEnd) - now.getTime()) / 1000);
}

export const THROTTLED_SOURCE = "too many failed attempts from this address; retry later";

/** What the caller's writes must pass in their own transaction, and when it lifts. */
export type WriteGuard = AppendGuard & { windowEnd: string };

/**
 * The condition a source's event writes carry in their own transaction: no read before the write,
 * and a source that crossed the threshold meanwhile is refused atomically.
 */
export function sourceGuard(clock: Clock, sourceIp: string): WriteGuard {
  const window = windowAt(clock.now(), FAILURE_WINDOW_MS);
  return { sourceIp, windowStart: window.start, windowEnd: window.end, maxFailures: FAILURE_THRESHOLD };
}

/** Throws 429 if the source has failed more than the threshold in its current window. */
export async function refuseThrottledSource(
  deps: { control: ControlStore; clock: Clock },
  sourceIp: string,
): Promise<void> {
  const now = deps.clock.now();
  const window = windowAt(now, FAILURE_WINDOW_MS);
  if ((await deps.control.sourceFailures(sourceIp, window.start)) > FAILURE_THRESHOLD) {
    throw throttledUntil(window.end, now, THROTTLED_SOURCE);
  }
}

/** A workspace's authenticated requests are counted in windows of this length. */
export const RATE_WINDOW_MS = 10_000;

export const WORKSPACE_OVER_LIMIT = "this workspace is over its request rate; retry later";
/** An execution environment sends its count of a workspace's requests at most this often. */
export const RATE_COUNT_EVERY_MS = 1_000;

/**
 * Each workspace's share of the stage: at most `perSecond` authenticated requests a second,
 * averaged over {@link RATE_WINDOW_MS}, so one tenant cannot take the capacity every tenant shares.
 *
 * Requests are counted in the control table beside their own work (an UpdateItem ADD, no added
 * round trip), at most once a second per execution environment and workspace: the requests in
 * between are added to the next count it sends, so a busy workspace costs each environment one
 * write a second, not one a request. The count that crosses the limit marks the workspace over it,
 * in this environment, until the window ends, and from then on its requests here are refused before
 * any storage is touched. The request that learnt it is answered as usual: its work is already done,
 * and an event that was stored is never answered with an error. So a window lets through at most
 * the limit plus about a second's requests per execution environment, and a window's last second
 * in an environment may go uncounted.
 */
export class WorkspaceRateLimit {
  private readonly overUntil = new Map<string, number>();
  /** Per workspace: the window counted in, requests not sent yet, and when the last count went. */
  private readonly unsent = new Map<string, { window: string; requests: number; sentAt: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly onCountFailed: (error: unknown) => void = () => {},
  ) {}

  private get perWindow(): number {
    return this.perSecond * (RATE_WINDOW_MS / 1000);
  }

  /** 429 if this environment saw the workspace cross its limit in the current window. */
  refuseIfOver(workspaceId: string, now: Date): void {
    const until = this.overUntil.get(workspaceId);
    if (until === undefined) return;
    if (until <= now.getTime()) {
      this.overUntil.delete(workspaceId);
      return;
    }
    throw new TooManyRequestsError(
      WORKSPACE_OVER_LIMIT,
      (until - now.getTime()) / 1000,
      "Too many requests for this workspace",
    );
  }

  /**
   * Counts one request. Never throws: a count that cannot be stored lets the request through
   * (reported to `onCountFailed`), since the request's own storage decides its answer.
   */
  async count(control: ControlStore, workspaceId: string, now: Date): Promise<void> {
    if (this.perSecond <= 0) return;
    const window = windowAt(now, RATE_WINDOW_MS);
    const at = now.getTime();
    const kept = this.unsent.get(workspaceId);
    const sameWindow = kept?.window === window.start;
    if (kept && sameWindow && at - kept.sentAt < RATE_COUNT_EVERY_MS) {
      kept.requests++;
      return;
    }
    const requests = (kept && sameWindow ? kept.requests : 0) + 1;
    this.unsent.set(workspaceId, { window: window.start, requests: 0, sentAt: at });
    try {
      if ((await control.countRequest(workspaceId, window, requests)) > this.perWindow) {
        this.overUntil.set(workspaceId, Date.parse(window.end));
      }
    } catch (error: unknown) {
      this.onCountFailed(error);
    }
  }
}
