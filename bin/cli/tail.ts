import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import type { EventPage } from "./events.js";
import { CliError, EXIT } from "./exit.js";
import type { ApiFilters } from "./filters.js";
import type { EventWriter } from "./format.js";
import type { ApiClient } from "./http.js";
import type { Io } from "./io.js";

/** Column widths a tail's table starts from: its first rows may be none. */
export const TAIL_TABLE_WIDTHS = [19, 22, 24, 24, 15, 7];

export interface TailOptions {
  /** The filters (no since/until: tail sets `since` itself). */
  filters: ApiFilters;
  /** How many of the newest events to show first (as tail -n). */
  lines: number;
  intervalMs: number;
  /**
   * Each poll asks from this long before the newest event seen (de-duplicated by id), so an event
   * whose recordedAt is a little older than one already shown (another function's clock, a write
   * that committed later) is still shown, once.
   */
  lookbackMs: number;
  /**
   * Leave out the `audit.queried` events this tail's own polls cause (they carry its User-Agent,
   * unique to the run); every other read is shown.
   */
  hideOwnQueries: boolean;
  /** This run's User-Agent (the one `api` sends). */
  userAgent: string;
  /** Called once the backlog is out and following begins. */
  onFollow?: () => void;
  /** Told of a poll that failed and will be retried at the next interval. */
  onTransientError?: (message: string) => void;
}

/**
 * `audit-log tail`: the newest `lines` events, then each new event as it is recorded, oldest first,
 * like `tail -f`, until `io.signal` aborts (Ctrl-C), which ends it normally. A poll that fails on
 * the network or with a 5xx is reported and retried at the next interval; a refused key ends it.
 */
export async function tailCommand(
  api: ApiClient,
  options: TailOptions,
  writer: EventWriter,
  io: Pick<Io, "sleep" | "signal">,
): Promise<void> {
  /** Ids shown (or present at the start), with their recordedAt, within the lookback window. */
  const seen = new Map<string, string>();
  let last: string | undefined;
  const own = (e: StoredEvent) =>
    options.hideOwnQueries && e.type === "audit.queried" && e.userAgent === options.userAgent;

  /** Every event since the window's start, newest first (cursors followed). */
  const fetchSince = async (since: string | undefined): Promise<StoredEvent[]> => {
    const out: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.json<EventPage>("GET", "/v1/events", {
        query: { ...options.filters, since, limit: "1000", cursor },
      });
      out.push(...page.events);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return out;
  };
  const windowStart = () =>
    last === undefined ? undefined : new Date(Date.parse(last) - options.lookbackMs).toISOString();
  /** Marks events seen; returns the new ones, oldest first. */
  const take = (newestFirst: readonly StoredEvent[]): StoredEvent[] => {
    const fresh = newestFirst.filter((e) => !seen.has(e.id)).reverse();
    for (const e of fresh) {
      seen.set(e.id, e.recordedAt);
      if (last === undefined || e.recordedAt > last) last = e.recordedAt;
    }
    const cutoff = windowStart() as string;
    for (const [id, at] of seen) if (at < cutoff) seen.delete(id);
    return fresh;
  };

  // The backlog: the newest `lines` events; then the rest of the lookback window, marked seen
  // without being shown, except what was recorded after the newest one (that is new).
  const newest = await api.json<EventPage>("GET", "/v1/events", {
    query: { ...options.filters, limit: String(Math.min(1000, Math.max(1, options.lines))) },
  });
  const backlog = options.lines > 0 ? newest.events : [];
  const startedAt = newest.events[0]?.recordedAt;
  if (startedAt !== undefined) {
    take(newest.events);
    const around = await fetchSince(windowStart());
    take(around.filter((e) => e.recordedAt <= startedAt));
  }
  await writer.write(backlog.filter((e) => !own(e)).reverse());
  options.onFollow?.();

  let failing = false;
  while (!io.signal?.aborted) {
    await io.sleep(options.intervalMs, io.signal);
    if (io.signal?.aborted) break;
    try {
      const fresh = take(await fetchSince(windowStart()));
      await writer.write(fresh.filter((e) => !own(e)));
      failing = false;
    } catch (err: unknown) {
      if (io.signal?.aborted) break;
      const transient =
        err instanceof CliError && (err.exitCode === EXIT.network || err.exitCode === EXIT.api);
      if (!transient) throw err;
      if (!failing) options.onTransientError?.(`${err.message}; still trying every interval`);
      failing = true;
    }
  }
}
