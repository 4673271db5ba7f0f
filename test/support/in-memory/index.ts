import type { Clock } from "../../../functions/shared/clock.js";
import { InMemoryArchiveStore } from "./archive-store.js";
import { InMemoryControlStore } from "./control-store.js";
import { InMemoryEventStore } from "./event-store.js";
import { InMemoryLogStore } from "./log-store.js";
import { InMemorySecretStore } from "./secret-store.js";

export { InMemoryArchiveStore } from "./archive-store.js";
export { InMemoryControlStore } from "./control-store.js";
export { InMemoryEventStore } from "./event-store.js";
export { InMemoryLogStore } from "./log-store.js";
export { InMemorySecretStore } from "./secret-store.js";

export interface InMemoryStores {
  events: InMemoryEventStore;
  control: InMemoryControlStore;
  log: InMemoryLogStore;
  archive: InMemoryArchiveStore;
  secrets: InMemorySecretStore;
}

/**
 * The stores wired as the two tables wire them: the events table's append guard reads the control
 * table's failure counters, and the control table holds the sealer's state (getSealedKey). `clock`
 * is the one the records are stamped with: the append deadline is measured on it.
 */
export function inMemoryStores(clock: Clock): InMemoryStores {
  const log = new InMemoryLogStore();
  const control = new InMemoryControlStore({ log });
  const events = new InMemoryEventStore({
    sourceFailures: (ip, windowStart) => control.sourceFailureCount(ip, windowStart),
    now: () => clock.now(),
  });
  return { events, control, log, archive: new InMemoryArchiveStore(), secrets: new InMemorySecretStore() };
}
