/**
 * What a command touches outside itself, injected so tests run it in-process against a real server
 * with a frozen clock and no sleeps: the output streams, the environment, `fetch`, the clock and
 * the wait between polls. `index.ts` wires the real ones.
 */
export interface Output {
  write(chunk: string): boolean;
  once(event: "drain", listener: () => void): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Io {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  /** Where relative paths (`--out`, verify's files) are resolved. */
  cwd: string;
  fetch: typeof fetch;
  now: () => Date;
  /** Waits `ms` (between polls, before a retry); resolves early, without throwing, when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborted on Ctrl-C: `tail` stops cleanly, other commands stop with exit 130. */
  signal?: AbortSignal;
}

/** Writes and waits for the stream to drain when it asks to, so a large dump to a pipe stays flat. */
export async function emit(out: Output, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once("drain", resolve));
}

/** The real wait: a timer that an abort ends early. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
