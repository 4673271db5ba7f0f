import { controlStoreContract } from "../contract/control-store.js";
import { InMemoryControlStore } from "../support/in-memory/index.js";

let n = 0;

controlStoreContract("in memory", async () => ({
  store: new InMemoryControlStore(),
  workspace: (label) => `${label}-${++n}`,
  cleanup: async () => {},
}));
