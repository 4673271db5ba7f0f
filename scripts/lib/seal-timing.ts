import type { LogDeps } from "../../functions/shared/core/log.js";
import type { ArchiveStore, CheckpointSigner, EventStore, LogStore } from "../../functions/shared/ports.js";

/** Where a sealer run spends its wall time, by the ports it waits on. */
export const SEAL_PARTS = [
  "query",
  "tile reads",
  "tile puts",
  "checkpoint put",
  "state + anchors",
  "KMS",
] as const;
export type SealPart = (typeof SEAL_PARTS)[number];

export class SealTimes {
  ms = new Map<SealPart, number>();
  calls = new Map<SealPart, number>();

  add(part: SealPart, ms: number, calls = 1): void {
    this.ms.set(part, (this.ms.get(part) ?? 0) + ms);
    this.calls.set(part, (this.calls.get(part) ?? 0) + calls);
  }

  reset(): void {
    this.ms.clear();
    this.calls.clear();
  }

  /** Wall ms waited on the ports, all parts together (the sealer awaits them one at a time). */
  total(): number {
    return [...this.ms.values()].reduce((a, b) => a + b, 0);
  }
}

async function time<T>(times: SealTimes, part: SealPart, fn: () => Promise<T>, calls = 1): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    times.add(part, performance.now() - started, calls);
  }
}

/** The time spent in each `next()` of an async iterable (a stream fetches its pages inside it). */
async function* timedIterable<T>(source: AsyncIterable<T>, times: SealTimes): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let pulls = 0;
  let ms = 0;
  try {
    for (;;) {
      const started = performance.now();
      const r = await it.next();
      ms += performance.now() - started;
      pulls++;
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
    times.add("query", ms, pulls > 0 ? 1 : 0);
  }
}

/** `target` with some methods replaced, every other member bound to the original. */
function override<T extends object>(target: T, methods: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(methods, prop)) return (methods as Record<PropertyKey, unknown>)[prop];
      const value = Reflect.get(t, prop, t) as unknown;
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

/**
 * The sealer's dependencies with the time it waits on each port recorded in `times`: the event
 * stream (DynamoDB Query pages and their unmarshalling), tile reads and write-once puts (S3), the
 * checkpoint put, the state and anchor items (control table), and KMS (the public key once, then
 * one Sign per checkpoint). What is left of a run's wall time is this process's own work:
 * canonical JSON and SHA-256 of every leaf, the tree's node hashes and the tiles in memory.
 */
export function timedLogDeps(deps: LogDeps, times: SealTimes): LogDeps {
  const events = override<EventStore>(deps.events, {
    stream: (q) => timedIterable(deps.events.stream(q), times),
  });
  const archive = override<ArchiveStore>(deps.archive, {
    get: (key) => time(times, "tile reads", () => deps.archive.get(key)),
    putOnce: (key, body, options) =>
      time(times, key.includes("/checkpoint/") ? "checkpoint put" : "tile puts", () =>
        deps.archive.putOnce(key, body, options),
      ),
  });
  const log = override<LogStore>(deps.log, {
    getState: (w) => time(times, "state + anchors", () => deps.log.getState(w)),
    putState: (s) => time(times, "state + anchors", () => deps.log.putState(s)),
    putAnchor: (w, tile, key) => time(times, "state + anchors", () => deps.log.putAnchor(w, tile, key)),
  });
  const checkpoints: CheckpointSigner = {
    signer: async () => {
      // Counted as no call: KMS is asked once per container (GetPublicKey), then the key is kept.
      const loaded = await time(times, "KMS", () => deps.checkpoints.signer(), 0);
      return {
        ...loaded,
        signer: { ...loaded.signer, sign: (text) => time(times, "KMS", () => loaded.signer.sign(text)) },
      };
    },
  };
  return { ...deps, events, archive, log, checkpoints };
}
