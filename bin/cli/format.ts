import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { emit, type Output } from "./io.js";

/**
 * Event fields are written by clients: an actor id could carry terminal escapes or bidi overrides
 * that repaint the screen or reorder what an auditor reads. Every cell shown in a terminal goes
 * through this, which writes C0/C1 controls, DEL and the bidi controls as visible `\u{…}`.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    return `\\u{${(c.codePointAt(0) as number).toString(16)}}`;
  });
}

/** `2026-03-09T09:44:19.000Z` → `2026-03-09 09:44:19` (UTC, as the product page shows it). */
export function tableTimestamp(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/** The actor as the product page shows it: its id, and "system (auto)" for an automatic end. */
export function actorLabel(e: Pick<StoredEvent, "actor" | "context">): string {
  const auto =
    e.actor.type === "system" && (e.context as { endedBy?: unknown } | undefined)?.endedBy === "auto";
  return auto ? `${e.actor.id} (auto)` : e.actor.id;
}

export const TABLE_COLUMNS = [
  "Timestamp (UTC)",
  "Event",
  "Actor",
  "Node · Resource",
  "IP",
  "Outcome",
] as const;

/** One table row: the columns of {@link TABLE_COLUMNS}, printable. */
export function eventRow(e: StoredEvent): string[] {
  const place = [e.node?.id, e.resource?.id].filter((p): p is string => !!p).join(" · ");
  return [tableTimestamp(e.recordedAt), e.type, actorLabel(e), place, e.sourceIp ?? "", e.outcome].map(
    printable,
  );
}

/** Widest a column gets (Actor and Node · Resource: longer cells end in …); the others are bounded. */
const MAX_WIDTH = [19, 40, 32, 40, 39, 7];

const cut = (cell: string, width: number) => {
  const chars = [...cell];
  return chars.length <= width ? cell : `${chars.slice(0, width - 1).join("")}…`;
};
const pad = (cell: string, width: number) => cell + " ".repeat(Math.max(0, width - [...cell].length));

/**
 * A fixed-width table written as the rows come (page by page, or as `tail` sees them): the column
 * widths are set by the first rows written (and the headers), then kept, so memory stays flat.
 */
export class TableWriter {
  private widths: number[] | undefined;
  private count = 0;

  /** `minWidths`: widths to start from, for a table whose first rows may be few (tail). */
  constructor(
    private readonly out: Output,
    private readonly minWidths: readonly number[] = [],
  ) {}

  get rows(): number {
    return this.count;
  }

  async write(events: readonly StoredEvent[]): Promise<void> {
    const rows = events.map(eventRow);
    if (!this.widths) {
      const widths = TABLE_COLUMNS.map((h, i) =>
        Math.min(
          MAX_WIDTH[i] as number,
          Math.max([...h].length, this.minWidths[i] ?? 0, ...rows.map((r) => [...(r[i] ?? "")].length)),
        ),
      );
      this.widths = widths;
      await emit(this.out, `${this.line([...TABLE_COLUMNS])}\n`);
    }
    if (!rows.length) return;
    this.count += rows.length;
    await emit(this.out, rows.map((r) => `${this.line(r)}\n`).join(""));
  }

  private line(cells: string[]): string {
    const widths = this.widths as number[];
    return cells
      .map((c, i) => {
        const w = widths[i] as number;
        const shown = i === 2 || i === 3 ? cut(c, w) : c;
        return i === cells.length - 1 ? shown : pad(shown, w);
      })
      .join("  ")
      .trimEnd();
  }
}

/** The output formats of `events` and `tail`. */
export type Format = "table" | "json" | "ndjson";

/**
 * Writes events in one format as they come: a table, NDJSON (one event a line) or one JSON array
 * (streamed: `[`, the events, `]`), each event exactly as the API returned it.
 */
export class EventWriter {
  private readonly table: TableWriter | undefined;
  private written = 0;
  private opened = false;

  constructor(
    private readonly out: Output,
    readonly format: Format,
    tableMinWidths: readonly number[] = [],
  ) {
    this.table = format === "table" ? new TableWriter(out, tableMinWidths) : undefined;
  }

  get count(): number {
    return this.written;
  }

  async write(events: readonly StoredEvent[]): Promise<void> {
    if (this.table) await this.table.write(events);
    else if (this.format === "ndjson") {
      if (events.length) await emit(this.out, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
    } else {
      const parts = events.map((e, i) => `${this.written + i === 0 ? "" : ",\n"}${JSON.stringify(e)}`);
      if (!this.opened) {
        this.opened = true;
        parts.unshift("[\n");
      }
      if (parts.length) await emit(this.out, parts.join(""));
    }
    this.written += events.length;
  }

  /** Closes the JSON array (an empty result is `[]`), or writes the table's header if no row came. */
  async end(): Promise<void> {
    if (this.format === "json") await emit(this.out, this.opened ? (this.written ? "\n]\n" : "]\n") : "[]\n");
    else if (this.table && this.written === 0) await this.table.write([]);
  }
}
