import { execFileSync } from "node:child_process";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { buildEvent } from "../../functions/shared/core/events.js";
import {
  CSV_COLUMNS,
  encodeAll,
  eventFromCsv,
  neutralizeCell,
} from "../../functions/shared/export-formats.js";
import { type StoredEvent, serviceEventInputSchema } from "../../functions/shared/schemas/event.js";

const make = (id: string, overrides: Record<string, unknown> = {}): StoredEvent =>
  buildEvent(
    serviceEventInputSchema.parse({
      type: "config.threshold_changed",
      actor: { type: "user", id: "alice@acme.example", name: "Alice" },
      node: { id: "fra-core-01" },
      context: { name: "pps", from: 1, to: 2 },
      ...overrides,
    }),
    id,
    "2026-03-09T09:44:19.000Z",
  );

const tricky = make("tricky", {
  actor: { type: "user", id: "=1+1", name: "'already quoted" },
  resource: { type: "threshold", id: "@SUM(A1:A9)" },
  userAgent: "-2+3",
  sourceIp: "203.0.113.42",
  context: {
    name: 'he said "hi", then left\r\nnew line',
    from: "+1",
    to: "\tindented",
    nested: { a: [1, "=x"] },
  },
});
const plain = make("plain");

/**
 * Reads a CSV file with Python's csv module: an implementation independent of the csv-stringify
 * that wrote it (csv-parse comes from the same project).
 */
function pythonCsv(csv: string): string[][] {
  const script = [
    "import csv, io, json, sys",
    "rows = list(csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline=''), strict=True))",
    "print(json.dumps(rows))",
  ].join("\n");
  return JSON.parse(execFileSync("python3", ["-c", script], { input: csv }).toString()) as string[][];
}

describe("CSV read back by an independent reader", () => {
  const hostile = make("hostile", {
    actor: { type: "user", id: "\n=1+2", name: "a\rb" },
    resource: { type: "threshold", id: '＝HYPERLINK("http://evil.example")' },
    userAgent: "line one\nline two",
    context: { name: "cr\ronly\n@x\r\n-3", from: 1, to: 2 },
  });

  it("keeps a bare LF or CR inside its cell: one record per event, no formula at a line start", async () => {
    const csv = (await encodeAll([hostile, plain], "csv")).toString("utf8");
    const rows = pythonCsv(csv);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const cells = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, rows[1]?.[i] ?? ""]));
    expect(cells["actor.id"]).toBe("'\n=1+2");
    expect(cells["actor.name"]).toBe("a\rb");
    expect(cells["resource.id"]).toBe('\'＝HYPERLINK("http://evil.example")');
    expect(cells.userAgent).toBe("line one\nline two");
    expect(rows[2]?.[0]).toBe("plain");
  });

  it("decodes every cell back to the stored event", async () => {
    const csv = (await encodeAll([hostile], "csv")).toString("utf8");
    const [header, row] = pythonCsv(csv) as [string[], string[]];
    const record = Object.fromEntries(header.map((c, i) => [c, row[i] ?? ""]));
    expect(eventFromCsv(record)).toEqual(hostile);
  });
});

describe("CSV injection", () => {
  it.each([
    ["=1+1", "'=1+1"],
    ["+", "'+"],
    ["-", "'-"],
    ["@x", "'@x"],
    ["\tx", "'\tx"],
    ["\rx", "'\rx"],
    ["\nx", "'\nx"],
    ["＝1+1", "'＝1+1"],
    ["＋1", "'＋1"],
    ["－1", "'－1"],
    ["＠x", "'＠x"],
    ["'x", "''x"],
    ["safe", "safe"],
  ])("%j → %j", (input, expected) => expect(neutralizeCell(input)).toBe(expected));

  it("neutralises every dangerous cell in a real row", async () => {
    const csv = (await encodeAll([tricky], "csv")).toString("utf8");
    const [, row] = parse(csv, { relax_column_count: false }) as string[][];
    const cells = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, row?.[i] ?? ""]));
    expect(cells["actor.id"]).toBe("'=1+1");
    expect(cells["resource.id"]).toBe("'@SUM(A1:A9)");
    expect(cells.userAgent).toBe("'-2+3");
    expect(cells["actor.name"]).toBe("''already quoted");
    expect(Object.values(cells).every((v) => !/^[=+\-@\t\r]/.test(v))).toBe(true);
  });
});

describe("export formats", () => {
  it("CSV is RFC 4180 with CRLF and a header, and round-trips quotes, commas and newlines exactly", async () => {
    const csv = (await encodeAll([tricky, plain], "csv")).toString("utf8");
    expect(csv.startsWith(`${CSV_COLUMNS.join(",")}\r\n`)).toBe(true);
    const records = parse(csv, { columns: true }) as Record<string, string>[];
    const back = records.map(eventFromCsv);
    expect(back).toEqual([tricky, plain]);
    for (const event of back) {
      const { hash, ...rest } = event;
      expect(hash).toBe(sha256Hex(canonicalJson(rest)));
    }
  });

  it("NDJSON is one event per line and JSON one array, both in the schema's field order", async () => {
    const ndjson = (await encodeAll([tricky, plain], "ndjson")).toString("utf8");
    const lines = ndjson.trimEnd().split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual([tricky, plain]);
    const json = JSON.parse((await encodeAll([tricky, plain], "json")).toString("utf8")) as StoredEvent[];
    expect(json).toEqual([tricky, plain]);
    const order = Object.keys(json[0] as object);
    expect(order).toEqual([
      "id",
      "type",
      "category",
      "recordedAt",
      "occurredAt",
      "actor",
      "node",
      "resource",
      "sourceIp",
      "userAgent",
      "outcome",
      "context",
      "hash",
    ]);
    const csvOrder = CSV_COLUMNS.map((c) => c.split(".")[0]).filter((c, i, all) => all.indexOf(c) === i);
    expect(csvOrder).toEqual(order);
  });

  it("writes valid empty files", async () => {
    expect(JSON.parse((await encodeAll([], "json")).toString())).toEqual([]);
    expect((await encodeAll([], "ndjson")).length).toBe(0);
    expect((await encodeAll([], "csv")).toString()).toBe(`${CSV_COLUMNS.join(",")}\r\n`);
  });
});
