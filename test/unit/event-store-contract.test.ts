import { FixedClock } from "../../functions/shared/clock.js";
import { eventStoreContract } from "../contract/event-store.js";
import { inMemoryStores } from "../support/in-memory/index.js";

let n = 0;

eventStoreContract("in memory", async () => {
  const clock = new FixedClock(new Date("2026-03-09T10:00:00.000Z"));
  const { events, control } = inMemoryStores(clock);
  return { store: events, control, clock, workspace: (label) => `${label}-${++n}`, cleanup: async () => {} };
});
