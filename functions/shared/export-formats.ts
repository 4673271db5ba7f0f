import { Readable, Transform } from "node:stream";
import { stringify as stringifySync } from "csv-stringify/sync";
import { inFieldOrder, type StoredEvent } from "./schemas/event.js";

/**
 * The export file formats. All three carry the same fields in the same order (the stored event
 * schema's): NDJSON one event per line, JSON one array, CSV (RFC 4180, UTF-8, CRLF, a header row)
 * with actor, node and resource flattened into columns and the context as one JSON cell.
 */
export const EXPORT_FORMATS = ["ndjson", "json", "csv"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: "application/x-ndjson",
  json: "application/json",
  csv: "text/csv; charset=utf-8",
};

export const CSV_COLUMNS = [
  "id",
  "type",
  "category",
  "recordedAt",
  "occurredAt",
  "actor.type",
  "actor.id",
  "actor.name",
  "node.id",
  "node.name",
  "resource.type",
  "resource.id",
  "sourceIp",
  "userAgent",
  "outcome",
  "context",
  "hash",
] as const;

/**
 * OWASP CSV injection: a cell that a spreadsheet could read as a formula (= + - @, tab, CR) gets a
 * leading `'`. A cell that already starts with `'` gets one too, so decoding (drop one leading `'`)
 * is exact for every value.
 */
export function neutralizeCell(value: string): string {
  return /^[=+\-@\t\r']/.test(value) ? `'${value}` : value;
}

export function restoreCell(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}

export function csvRow(event: StoredEvent): string[] {
  const cells: (string | undefined)[] = [
    event.id,
    event.type,
    event.category,
    event.recordedAt,
    event.occurredAt,
    event.actor.type,
    event.actor.id,
    event.actor.name,
    event.node?.id,
    event.node?.name,
    event.resource?.type,
    event.resource?.id,
    event.sourceIp,
    event.userAgent,
    event.outcome,
    JSON.stringify(event.context),
    event.hash,
  ];
  return cells.map((c) => neutralizeCell(c ?? ""));
}

/** The inverse of {@link csvRow}: one parsed CSV record (by column) back to the stored event. */
export function eventFromCsv(record: Record<string, string>): StoredEvent {
  const get = (column: (typeof CSV_COLUMNS)[number]) => {
    const value = restoreCell(record[column] ?? "");
    return value === "" ? undefined : value;
  };
  const actorName = get("actor.name");
  const nodeId = get("node.id");
  const nodeName = get("node.name");
  const resourceId = get("resource.id");
  return inFieldOrder({
    id: get("id"),
    type: get("type"),
    category: get("category"),
    recordedAt: get("recordedAt"),
    occurredAt: get("occurredAt"),
    actor: { type: get("actor.type"), id: get("actor.id"), ...(actorName ? { name: actorName } : {}) },
    node: nodeId ? { id: nodeId, ...(nodeName ? { name: nodeName } : {}) } : undefined,
    resource: resourceId ? { type: get("resource.type"), id: resourceId } : undefined,
    sourceIp: get("sourceIp"),
    userAgent: get("userAgent"),
    outcome: get("outcome"),
    context: JSON.parse(get("context") ?? "{}"),
    hash: get("hash"),
  });
}

const CSV_OPTIONS = { record_delimiter: "\r\n" } as const;

/** A Transform from stored events (object mode) to the bytes of one export file. */
export function encoder(format: ExportFormat): Transform {
  let first = true;
  const encode = (event: StoredEvent): string => {
    if (format === "csv") {
      const header = first ? stringifySync([[...CSV_COLUMNS]], CSV_OPTIONS) : "";
      return header + stringifySync([csvRow(event)], CSV_OPTIONS);
    }
    const line = JSON.stringify(inFieldOrder(event));
    return format === "ndjson" ? `${line}\n` : `${first ? "[\n" : ",\n"}${line}`;
  };
  return new Transform({
    writableObjectMode: true,
    transform(event: StoredEvent, _encoding, done) {
      const chunk = encode(event);
      first = false;
      done(null, chunk);
    },
    flush(done) {
      if (format === "json") done(null, first ? "[]\n" : "\n]\n");
      else if (format === "csv" && first) done(null, stringifySync([[...CSV_COLUMNS]], CSV_OPTIONS));
      else done(null, "");
    },
  });
}

/** Encodes events into one buffer (small exports, tests). Large exports pipe {@link encoder} instead. */
export async function encodeAll(
  events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>,
  format: ExportFormat,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = Readable.from(events).pipe(encoder(format));
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as string | Buffer));
  return Buffer.concat(chunks);
}
