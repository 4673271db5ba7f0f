import { FixedClock } from "../../functions/shared/clock.js";
import { logStoreContract } from "../contract/log-store.js";
import { inMemoryStores } from "../support/in-memory/index.js";

let n = 0;

logStoreContract("in memory", async () => {
  const { log, control } = inMemoryStores(new FixedClock(new Date("2026-03-09T10:00:00.000Z")));
  return { log, control, workspace: (label) => `${label}-${++n}`, cleanup: async () => {} };
});
