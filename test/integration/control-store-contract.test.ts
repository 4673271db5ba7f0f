import { DynamoControlStore } from "../../functions/shared/adapters/dynamodb-control-store.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { controlStoreContract } from "../contract/control-store.js";
import { engineEnv, uniqueWorkspace } from "./harness.js";

controlStoreContract("DynamoDB (Dynoxide)", async () => {
  const env = engineEnv();
  const { document } = localClients(env);
  return {
    store: new DynamoControlStore(document, env.controlTable),
    workspace: uniqueWorkspace,
    cleanup: async () => document.destroy(),
  };
});
