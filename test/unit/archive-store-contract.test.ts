import { archiveStoreContract } from "../contract/archive-store.js";
import { secretStoreContract } from "../contract/secret-store.js";
import { InMemoryArchiveStore, InMemorySecretStore } from "../support/in-memory/index.js";

archiveStoreContract("in memory", async () => ({
  archive: new InMemoryArchiveStore(),
  prefix: "contract/",
  cleanup: async () => {},
}));

secretStoreContract("in memory", async () => new InMemorySecretStore());
