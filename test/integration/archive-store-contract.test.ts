import { randomUUID } from "node:crypto";
import { S3ArchiveStore } from "../../functions/shared/adapters/s3-archive-store.js";
import { SecretsManagerStore } from "../../functions/shared/adapters/secrets-manager-store.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { archiveStoreContract } from "../contract/archive-store.js";
import { secretStoreContract } from "../contract/secret-store.js";
import { engineEnv } from "./harness.js";

/** The Object Lock export bucket and Secrets Manager, both in moto. */
archiveStoreContract("S3 with Object Lock (moto)", async () => {
  const env = engineEnv();
  const { s3 } = localClients(env);
  return {
    archive: new S3ArchiveStore(s3, env.exportBucket),
    prefix: `contract/${randomUUID()}/`,
    cleanup: async () => s3.destroy(),
  };
});

secretStoreContract("Secrets Manager (moto)", async () => {
  const { secrets } = localClients(engineEnv());
  return new SecretsManagerStore(() => secrets);
});
