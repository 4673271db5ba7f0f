import { describe, expect, it } from "vitest";
import {
  apiFilters,
  EMPTY_FILTERS,
  FilterError,
  instantOf,
  parseQuery,
  queryText,
  searchOfView,
  viewFromSearch,
} from "../../functions/dashboard/app/filters.js";
import { listEventsQuerySchema } from "../../functions/shared/schemas/query.js";

/** The Audit Log page's filters: URL, query box and API parameters (functions/dashboard/app/filters.ts). */
describe("the dashboard's filters", () => {
  const NOW = Date.parse("2026-05-14T03:00:00.000Z");

  it("round-trips a view through the query string, leaving defaults out", () => {
    const search =
      "?type=pcap.*&actor=alice%40acme.example&sourceIp=203.0.113.42&outcome=failure&since=2026-03-02&limit=25&event=e-1";

    const view = viewFromSearch(search);

    expect(view).toEqual({
      filters: {
        ...EMPTY_FILTERS,
        type: "pcap.*",
        actor: "alice@acme.example",
        sourceIp: "203.0.113.42",
        outcome: "failure",
        range: "custom",
        since: "2026-03-02",
      },
      limit: 25,
      event: "e-1",
    });
    expect(searchOfView(view)).toBe(search);
    expect(searchOfView(viewFromSearch(""))).toBe("");
    expect(viewFromSearch("?limit=5000&outcome=maybe&range=1y")).toEqual(viewFromSearch(""));
  });

  it("turns presets and custom days into the API's UTC instants, a day as `until` covering that day", () => {
    const custom = apiFilters(
      { ...EMPTY_FILTERS, range: "custom", since: "2026-03-02", until: "2026-03-09" },
      NOW,
    );
    const preset = apiFilters({ ...EMPTY_FILTERS, type: "pcap.download", range: "7d" }, NOW);

    expect(custom).toEqual({ since: "2026-03-02T00:00:00.000Z", until: "2026-03-10T00:00:00.000Z" });
    expect(preset).toEqual({ type: "pcap.download", since: "2026-05-07T03:00:00.000Z" });
    // What the page sends, the API's own schema accepts unchanged.
    expect(listEventsQuerySchema.parse({ ...custom, type: "pcap.*" })).toMatchObject(custom);
    expect(instantOf("2026-03-02T10:00:00+02:00", "since")).toBe("2026-03-02T08:00:00.000Z");
    expect(() => instantOf("2026-03-02T10:00", "since")).toThrow(FilterError);
    expect(() => instantOf("2026-02-30", "until")).toThrow(FilterError);
    expect(() =>
      apiFilters({ ...EMPTY_FILTERS, range: "custom", since: "2026-03-09", until: "2026-03-08" }, NOW),
    ).toThrow(/later than since/);
  });

  it("parses the query box's qualifiers, quoted values included, and writes them back the same way", () => {
    const text =
      'type:pcap.download actor:"Alice Liddell" node:nyc-edge-01 ip:203.0.113.42 outcome:success since:2026-03-02';

    const filters = parseQuery(text);

    expect(filters).toEqual({
      ...EMPTY_FILTERS,
      type: "pcap.download",
      actor: "Alice Liddell",
      node: "nyc-edge-01",
      sourceIp: "203.0.113.42",
      outcome: "success",
      range: "custom",
      since: "2026-03-02",
    });
    expect(queryText(filters)).toBe(text);
    expect(parseQuery("since:30d type:auth.*")).toEqual({ ...EMPTY_FILTERS, type: "auth.*", range: "30d" });
    expect(queryText(parseQuery("since:30d"))).toBe("since:30d");
  });

  it("refuses what it cannot send as typed, naming the term", () => {
    expect(() => parseQuery("pcap")).toThrow(/"pcap" is not a filter/);
    expect(() => parseQuery("colour:red")).toThrow(/unknown qualifier "colour:"/);
    expect(() => parseQuery("outcome:maybe")).toThrow(/success or failure/);
    expect(() => parseQuery("actor:")).toThrow(/needs a value/);
    expect(() => parseQuery("since:yesterday")).toThrow(FilterError);
  });
});
