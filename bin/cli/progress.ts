import cliProgress from "cli-progress";
import { printable } from "./format.js";
import type { Output } from "./io.js";

export interface ExportState {
  id: string;
  status: "pending" | "running" | "ready" | "failed";
  eventCount?: number;
  bytes?: number;
}

/** What `export` reports while it waits and downloads. */
export interface ExportProgress {
  status(view: ExportState): void;
  downloading(total: number | undefined): void;
  downloaded(bytes: number): void;
  stop(): void;
}

const STAGES = { pending: 1, running: 2, ready: 3, failed: 3 } as const;

/** `2 210 bytes` → `2.2 KiB`. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const summary = (v: ExportState) =>
  v.status === "ready"
    ? `ready, ${v.eventCount ?? "?"} events${v.bytes === undefined ? "" : `, ${humanBytes(v.bytes)}`}`
    : v.status;

/**
 * On a terminal, two cli-progress bars on stderr: the export's stages (pending → running → ready,
 * with the event count once the API states it; it states no count while running), then the
 * download's bytes. Elsewhere (a pipe, CI, a test), one plain line per change.
 */
export function exportProgress(stderr: Output): ExportProgress {
  if (stderr.isTTY) return new BarProgress(stderr);
  let lastStatus = "";
  return {
    status(v) {
      const line = `export ${v.id}: ${summary(v)}`;
      if (line !== lastStatus) stderr.write(`${printable(line)}\n`);
      lastStatus = line;
    },
    downloading(total) {
      stderr.write(`downloading${total === undefined ? "" : ` ${humanBytes(total)}`}\n`);
    },
    downloaded() {},
    stop() {},
  };
}

class BarProgress implements ExportProgress {
  private stage: cliProgress.SingleBar | undefined;
  private download: cliProgress.SingleBar | undefined;

  constructor(private readonly stderr: Output) {}

  private bar(format: string) {
    return new cliProgress.SingleBar(
      {
        stream: this.stderr as unknown as NodeJS.WritableStream,
        format,
        hideCursor: true,
        barsize: 24,
        // Ctrl-C is the CLI's to handle (index.ts); stop() restores the cursor.
        gracefulExit: false,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  status(v: ExportState): void {
    if (!this.stage) {
      this.stage = this.bar(`export {id} [{bar}] {state}`);
      this.stage.start(3, STAGES[v.status], { id: v.id, state: summary(v) });
    } else this.stage.update(STAGES[v.status], { state: printable(summary(v)) });
  }

  downloading(total: number | undefined): void {
    this.stage?.stop();
    this.stage = undefined;
    this.download = this.bar(`download [{bar}] {percentage}% {done} of {size}`);
    this.download.start(total ?? 0, 0, {
      done: humanBytes(0),
      size: total === undefined ? "?" : humanBytes(total),
    });
  }

  downloaded(bytes: number): void {
    this.download?.update(bytes, { done: humanBytes(bytes) });
  }

  stop(): void {
    this.stage?.stop();
    this.download?.stop();
    this.stage = undefined;
    this.download = undefined;
  }
}
