/**
 * The page's filters: what the URL's query string holds (so a view can be bookmarked and shared),
 * the query box's `type:` `actor:` `node:` `ip:` `outcome:` `since:` `until:` qualifiers, and the
 * GET /v1/events and POST /v1/exports parameters they become. Pure: no DOM, no clock of its own.
 */

export const RANGES = ["any", "24h", "7d", "30d", "90d", "custom"] as const;
export type Range = (typeof RANGES)[number];

export const RANGE_LABELS: Record<Range, string> = {
  any: "Any time",
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  custom: "Custom range",
};

const RANGE_MS: Partial<Record<Range, number>> = {
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
  "90d": 90 * 86_400_000,
};

export const OUTCOMES = ["success", "failure"] as const;

/** What a person chose. Empty strings are "no filter"; `since`/`until` are as typed (custom range). */
export interface Filters {
  type: string;
  actor: string;
  node: string;
  sourceIp: string;
  outcome: string;
  range: Range;
  since: string;
  until: string;
}

export const EMPTY_FILTERS: Filters = {
  type: "",
  actor: "",
  node: "",
  sourceIp: "",
  outcome: "",
  range: "any",
  since: "",
  until: "",
};

/** Page size bounds of GET /v1/events. */
export const LIMIT_DEFAULT = 100;
const LIMIT_MAX = 1000;

export interface View {
  filters: Filters;
  /** Events per page (the URL's `limit`, 1–1000). */
  limit: number;
  /** The event whose detail is open (the permalink's `event`). */
  event: string;
}

const FILTER_KEYS = ["type", "actor", "node", "sourceIp", "outcome"] as const;

/** Reads a view from a query string. Unknown or malformed parameters are ignored. */
export function viewFromSearch(search: string): View {
  const q = new URLSearchParams(search);
  const filters: Filters = { ...EMPTY_FILTERS };
  for (const key of FILTER_KEYS) filters[key] = (q.get(key) ?? "").trim();
  if (!(OUTCOMES as readonly string[]).includes(filters.outcome)) filters.outcome = "";
  filters.since = (q.get("since") ?? "").trim();
  filters.until = (q.get("until") ?? "").trim();
  const range = q.get("range") as Range | null;
  filters.range =
    range && (RANGES as readonly string[]).includes(range)
      ? range
      : filters.since || filters.until
        ? "custom"
        : "any";
  if (filters.range !== "custom") {
    filters.since = "";
    filters.until = "";
  }
  const limit = Number(q.get("limit"));
  return {
    filters,
    limit: Number.isInteger(limit) && limit >= 1 && limit <= LIMIT_MAX ? limit : LIMIT_DEFAULT,
    event: (q.get("event") ?? "").trim(),
  };
}

/** The query string of a view: only what differs from the defaults, in a fixed order. */
export function searchOfView(view: View): string {
  const q = new URLSearchParams();
  const f = view.filters;
  for (const key of FILTER_KEYS) if (f[key]) q.set(key, f[key]);
  if (f.range === "custom") {
    if (f.since) q.set("since", f.since);
    if (f.until) q.set("until", f.until);
  } else if (f.range !== "any") {
    q.set("range", f.range);
  }
  if (view.limit !== LIMIT_DEFAULT) q.set("limit", String(view.limit));
  if (view.event) q.set("event", view.event);
  const s = q.toString();
  return s ? `?${s}` : "";
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * A typed time as the API's UTC instant. A day alone (`2026-03-02`) is that UTC day's start; as an
 * `until` it means the whole day (the next day's start, until being exclusive). A time needs an
 * offset (`Z` for UTC), as the API requires: a time without one is refused, not guessed.
 */
export function instantOf(text: string, as: "since" | "until"): string {
  const t = text.trim();
  if (DAY.test(t)) {
    const d = new Date(`${t}T00:00:00.000Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== t)
      throw new FilterError(`${t} is not a day`);
    if (as === "until") d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString();
  }
  if (!WITH_OFFSET.test(t)) {
    throw new FilterError(
      `${as} "${t}" is not a day (2026-03-02) or a time with an offset (2026-03-02T09:00:00Z)`,
    );
  }
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new FilterError(`${as} "${t}" is not a valid time`);
  return d.toISOString();
}

/** A filter a person typed that cannot be sent as it is; the message says what to type instead. */
export class FilterError extends Error {
  override readonly name = "FilterError";
}

/**
 * The filters as GET /v1/events (and POST /v1/exports) take them. Presets count back from `now`
 * (the caller's clock, so a test can freeze it).
 */
export function apiFilters(filters: Filters, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of FILTER_KEYS) if (filters[key]) out[key] = filters[key];
  const back = RANGE_MS[filters.range];
  if (back !== undefined) out.since = new Date(now - back).toISOString();
  if (filters.range === "custom") {
    if (filters.since) out.since = instantOf(filters.since, "since");
    if (filters.until) out.until = instantOf(filters.until, "until");
    if (out.since && out.until && out.since >= out.until) {
      throw new FilterError("until must be later than since");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The query box

const QUALIFIERS: Record<string, keyof Filters> = {
  type: "type",
  actor: "actor",
  node: "node",
  ip: "sourceIp",
  outcome: "outcome",
  since: "since",
  until: "until",
};
const QUALIFIER_OF: Partial<Record<keyof Filters, string>> = Object.fromEntries(
  Object.entries(QUALIFIERS).map(([q, k]) => [k, q]),
);

const quote = (v: string) => (/[\s"]/.test(v) || v === "" ? `"${v.replace(/["\\]/g, "\\$&")}"` : v);

/** The filters as query-box text, e.g. `type:pcap.download since:2026-03-02`. */
export function queryText(filters: Filters): string {
  const parts: string[] = [];
  for (const key of [...FILTER_KEYS, "since", "until"] as const) {
    const value = filters[key];
    if (!value || ((key === "since" || key === "until") && filters.range !== "custom")) continue;
    parts.push(`${QUALIFIER_OF[key]}:${quote(value)}`);
  }
  if (filters.range !== "any" && filters.range !== "custom") parts.push(`since:${filters.range}`);
  return parts.join(" ");
}

/**
 * Parses query-box text into filters: `qualifier:value` terms, values in double quotes when they
 * hold spaces. `since:7d` (24h, 7d, 30d, 90d) picks a preset. Anything else is an error that names
 * the term, so nothing typed is silently ignored.
 */
export function parseQuery(text: string): Filters {
  const filters: Filters = { ...EMPTY_FILTERS };
  const term = /\s*([A-Za-z]+):(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let at = 0;
  const rest = text.trim();
  while (at < rest.length) {
    term.lastIndex = at;
    const m = term.exec(rest);
    if (!m) {
      const word = rest.slice(at).trim().split(/\s+/)[0] ?? "";
      throw new FilterError(
        `"${word}" is not a filter: use ${Object.keys(QUALIFIERS)
          .map((q) => `${q}:`)
          .join(" ")}`,
      );
    }
    at = term.lastIndex;
    const qualifier = (m[1] as string).toLowerCase();
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] as string);
    const key = QUALIFIERS[qualifier];
    if (!key)
      throw new FilterError(`unknown qualifier "${qualifier}:"; use ${Object.keys(QUALIFIERS).join(", ")}`);
    if (!value) throw new FilterError(`"${qualifier}:" needs a value`);
    if (key === "outcome" && !(OUTCOMES as readonly string[]).includes(value)) {
      throw new FilterError(`outcome is success or failure, not "${value}"`);
    }
    if (key === "since" && RANGE_MS[value as Range] !== undefined) {
      filters.range = value as Range;
      filters.since = "";
      continue;
    }
    if (key === "since" || key === "until") {
      instantOf(value, key); // refuses what the API would
      filters.range = "custom";
    }
    (filters as unknown as Record<string, string>)[key] = value;
  }
  if (filters.range === "custom") apiFilters(filters, 0); // since < until
  return filters;
}
