import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import type { ApiFilters } from "./filters.js";
import { type EventWriter, printable } from "./format.js";
import type { ApiClient } from "./http.js";
import { emit, type Output } from "./io.js";

/** GET /v1/events' answer. */
export interface EventPage {
  events: StoredEvent[];
  nextCursor: string | null;
}

/** The API's largest page (LIST_LIMIT_MAX). */
export const PAGE_MAX = 1000;

export interface ListOptions {
  filters: ApiFilters;
  /** Stop after this many events; undefined: every event that matches. */
  max?: number;
  /** Events per request (the API's `limit`, 1–1000). */
  pageSize: number;
}

/**
 * Pages of GET /v1/events, newest first, following `nextCursor` until the end or `max` events.
 * Each page asks for no more than is still wanted. `more` is true when it stopped at `max` with
 * events left.
 */
export async function* listPages(
  api: ApiClient,
  options: ListOptions,
): AsyncGenerator<StoredEvent[], { more: boolean }> {
  let cursor: string | undefined;
  let seen = 0;
  for (;;) {
    const remaining = options.max === undefined ? Number.POSITIVE_INFINITY : options.max - seen;
    if (remaining <= 0) return { more: cursor !== undefined };
    const limit = Math.min(options.pageSize, remaining);
    const page = await api.json<EventPage>("GET", "/v1/events", {
      query: { ...options.filters, limit: String(limit), cursor },
    });
    const events = page.events.slice(0, remaining);
    seen += events.length;
    yield events;
    if (!page.nextCursor) return { more: false };
    cursor = page.nextCursor;
  }
}

/** `audit-log events`: every matching event (or the first `max`), written as they come. */
export async function eventsCommand(
  api: ApiClient,
  options: ListOptions,
  writer: EventWriter,
  stdout: Output,
): Promise<void> {
  const pages = listPages(api, options);
  let next = await pages.next();
  while (!next.done) {
    await writer.write(next.value);
    next = await pages.next();
  }
  await writer.end();
  if (writer.format === "table") {
    const n = writer.count;
    const more = next.value.more ? ` shown; more may match (--max N shows more, --all every one)` : "";
    const filters = Object.entries(options.filters)
      .map(([k, v]) => `${k}=${v}`)
      .join("  ");
    await emit(
      stdout,
      `${printable(`${n} event${n === 1 ? "" : "s"}${more}${filters ? `  (${filters})` : ""}`)}\n`,
    );
  }
}
