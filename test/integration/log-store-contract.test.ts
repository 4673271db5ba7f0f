import { DynamoControlStore } from "../../functions/shared/adapters/dynamodb-control-store.js";
import { DynamoLogStore } from "../../functions/shared/adapters/dynamodb-log-store.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { logStoreContract } from "../contract/log-store.js";
import { engineEnv, uniqueWorkspace } from "./harness.js";

logStoreContract("DynamoDB (Dynoxide)", async () => {
  const env = engineEnv();
  const { document } = localClients(env);
  return {
    log: new DynamoLogStore(document, env.controlTable),
    control: new DynamoControlStore(document, env.controlTable),
    workspace: uniqueWorkspace,
    cleanup: async () => document.destroy(),
  };
});
