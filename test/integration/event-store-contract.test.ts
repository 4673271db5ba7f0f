import { DynamoControlStore } from "../../functions/shared/adapters/dynamodb-control-store.js";
import { DynamoEventStore } from "../../functions/shared/adapters/dynamodb-event-store.js";
import { FixedClock } from "../../functions/shared/clock.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { eventStoreContract } from "../contract/event-store.js";
import { engineEnv, uniqueWorkspace } from "./harness.js";

/**
 * The EventStore contract on the DynamoDB adapter against Dynoxide, twice: with the page size a
 * query asks for (production), and with one item per DynamoDB page, so every partition is read
 * over many short pages, as the 1 MB limit and filtered-out items make them in production.
 */
for (const queryPageSize of [undefined, 1]) {
  eventStoreContract(`DynamoDB (Dynoxide), page size ${queryPageSize ?? "as asked"}`, async () => {
    const env = engineEnv();
    const { document } = localClients(env);
    const clock = new FixedClock(new Date("2026-03-09T10:00:00.000Z"));
    const store = new DynamoEventStore({
      client: document,
      tableName: env.eventsTable,
      controlTableName: env.controlTable,
      queryPageSize,
      backoff: async () => undefined,
      now: () => clock.now(),
    });
    return {
      store,
      control: new DynamoControlStore(document, env.controlTable),
      clock,
      workspace: uniqueWorkspace,
      cleanup: async () => document.destroy(),
    };
  });
}
