import { gzipSync } from "node:zlib";
import { stringify as stringifySync } from "csv-stringify/sync";
import type { Position } from "./ports.js";
import { inFieldOrder, type StoredEvent } from "./schemas/event.js";

/**
 * The export file formats. All three carry the same fields in the same order (the stored event
 * schema's): NDJSON one event per line, JSON one array, CSV (RFC 4180, UTF-8, CRLF, a header row)
 * with actor, node and resource flattened into columns and the context as one JSON cell.
 */
export const EXPORT_FORMATS = ["ndjson", "json", "csv", "evidence"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * An evidence bundle's fixed lines (functions/shared/tlog/bundle.ts): chosen by the export's first
 * run and kept in the job, so a resumed run writes the same bytes. Entries are `{index, event}`,
 * the index counting up from `start`.
 */
export interface EvidenceFrame {
  /** The header line, without its newline. */
  header: string;
  start: number;
  /** The trailer line, without its newline. */
  trailer: string;
  /** Position of the bundle's last event ("" when it holds none): the export stops there. */
  lastKey: Position | "";
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  evidence: "application/x-ndjson",
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
 * OWASP CSV injection: a cell that a spreadsheet could read as a formula (= + - @, their full-width
 * forms ＝ ＋ － ＠, which some spreadsheets fold to ASCII, tab, CR, LF) gets a leading `'`. A cell that
 * already starts with `'` gets one too, so decoding (drop one leading `'`) is exact for every value.
 */
export function neutralizeCell(value: string): string {
  return /^[=+\-@\uFF1D\uFF0B\uFF0D\uFF20\t\r\n']/.test(value) ? `'${value}` : value;
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

/**
 * RFC 4180 with CRLF records. csv-stringify quotes a field holding the record delimiter, but with a
 * custom one it would leave a bare LF or CR unquoted, which every reader takes as a new record:
 * `quoted_match` quotes any field with either.
 */
const CSV_OPTIONS = { record_delimiter: "\r\n", quoted_match: /[\r\n]/ } as const;

/**
 * The bytes one event adds to a file in `format`, given how many events precede it (the CSV header
 * and the JSON array's opening come with the first). Stateless, so an export that stops after any
 * event can resume from its count.
 */
export function encodeEvent(
  format: ExportFormat,
  event: StoredEvent,
  index: number,
  frame?: EvidenceFrame,
): string {
  if (format === "evidence") {
    if (!frame) throw new Error("an evidence bundle needs its frame");
    const entry = JSON.stringify({ index: frame.start + index, event: inFieldOrder(event) });
    return `${index === 0 ? `${frame.header}\n` : ""}${entry}\n`;
  }
  if (format === "csv") {
    const header = index === 0 ? stringifySync([[...CSV_COLUMNS]], CSV_OPTIONS) : "";
    return header + stringifySync([csvRow(event)], CSV_OPTIONS);
  }
  const line = JSON.stringify(inFieldOrder(event));
  return format === "ndjson" ? `${line}\n` : `${index === 0 ? "[\n" : ",\n"}${line}`;
}

/** The bytes that close a file of `count` events. */
export function encodeEnd(format: ExportFormat, count: number, frame?: EvidenceFrame): string {
  if (format === "evidence") {
    if (!frame) throw new Error("an evidence bundle needs its frame");
    return `${count === 0 ? `${frame.header}\n` : ""}${frame.trailer}\n`;
  }
  if (format === "json") return count === 0 ? "[]\n" : "\n]\n";
  if (format === "csv" && count === 0) return stringifySync([[...CSV_COLUMNS]], CSV_OPTIONS);
  return "";
}

/** Encodes events into one buffer (tests, small files). Exports use {@link PartEncoder}. */
export async function encodeAll(
  events: Iterable<StoredEvent> | AsyncIterable<StoredEvent>,
  format: ExportFormat,
  frame?: EvidenceFrame,
): Promise<Buffer> {
  const chunks: string[] = [];
  let count = 0;
  for await (const event of events) chunks.push(encodeEvent(format, event, count++, frame));
  chunks.push(encodeEnd(format, count, frame));
  return Buffer.from(chunks.join(""), "utf8");
}

/** Uncompressed bytes per gzip member: deflate's window is 32 KiB, so restarting costs nothing. */
const GZIP_BLOCK = 1024 * 1024;
/** Without gzip a block is only a copy; small ones keep the heap small (npm run bench:export). */
const PLAIN_BLOCK = 64 * 1024;

/**
 * Cuts an export file into upload parts of at least `partSize` bytes (the last may be smaller),
 * each ending at an event boundary. With gzip the file is a series of gzip members of about 1 MiB of
 * input each, which every gunzip reads as one stream (RFC 1952 §2.2), and a part holds whole
 * members. So an export can stop after any part and resume from the last event that part holds,
 * and the same events always give the same bytes (compression is synchronous, per block).
 */
export class PartEncoder {
  private block: string[] = [];
  private blockBytes = 0;
  private part: Buffer[] = [];
  private partBytes = 0;
  private count: number;

  constructor(
    private readonly format: ExportFormat,
    private readonly gzip: boolean,
    private readonly partSize: number,
    /** Events already written by earlier parts (when resuming). */
    eventsBefore = 0,
    /** Uncompressed bytes per block (per gzip member); smaller in tests. */
    private readonly blockBytesMax = gzip ? GZIP_BLOCK : PLAIN_BLOCK,
    /** The fixed lines of an evidence bundle. */
    private readonly frame?: EvidenceFrame,
  ) {
    this.count = eventsBefore;
  }

  /** Adds one event; returns a finished part when the buffered output reached `partSize`. */
  add(event: StoredEvent): Buffer | undefined {
    const text = encodeEvent(this.format, event, this.count++, this.frame);
    this.block.push(text);
    this.blockBytes += Buffer.byteLength(text);
    if (this.blockBytes >= this.blockBytesMax) this.flushBlock();
    if (this.partBytes < this.partSize) return undefined;
    return this.cut();
  }

  /** Closes the file: the last part (possibly empty when the file ended exactly at a part). */
  end(): Buffer {
    const text = encodeEnd(this.format, this.count, this.frame);
    if (text) {
      this.block.push(text);
      this.blockBytes += Buffer.byteLength(text);
    }
    // An empty gzip file is still one (empty) member, so it decompresses to nothing.
    if (this.gzip && this.count === 0 && this.blockBytes === 0 && this.partBytes === 0) {
      this.part.push(gzipSync(Buffer.alloc(0)));
      this.partBytes = this.part[0]?.length ?? 0;
    }
    return this.cut();
  }

  get eventCount(): number {
    return this.count;
  }

  private flushBlock(): void {
    if (this.blockBytes === 0) return;
    const raw = Buffer.from(this.block.join(""), "utf8");
    const out = this.gzip ? gzipSync(raw) : raw;
    this.part.push(out);
    this.partBytes += out.length;
    this.block = [];
    this.blockBytes = 0;
  }

  private cut(): Buffer {
    this.flushBlock();
    const part = Buffer.concat(this.part);
    this.part = [];
    this.partBytes = 0;
    return part;
  }
}
