import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoControlStore } from "./adapters/dynamodb-control-store.js";
import { DynamoEventStore } from "./adapters/dynamodb-event-store.js";
import { type Clock, systemClock, ulidGenerator } from "./clock.js";
import type { EventsDeps } from "./core/events.js";
import { RecordCache } from "./core/record-cache.js";
import { PER_NODE_RETENTION_DAYS } from "./schemas/admin.js";

/**
 * The core's stores for tools that act outside the HTTP API (`npm run admin`, the local bootstrap):
 * no cached records (they act once), no cursor key (they list nothing).
 */
export function toolDeps(
  client: DynamoDBDocumentClient,
  tables: { eventsTable: string; controlTable: string },
  clock: Clock = systemClock,
): EventsDeps {
  const control = new DynamoControlStore(client, tables.controlTable);
  return {
    events: new DynamoEventStore({
      client,
      tableName: tables.eventsTable,
      controlTableName: tables.controlTable,
      now: () => clock.now(),
    }),
    control,
    records: new RecordCache(control, 0, clock),
    clock,
    newId: ulidGenerator(),
    defaultRetentionDays: PER_NODE_RETENTION_DAYS,
    cursorKey: () => Promise.reject(new Error("this tool reads no cursor")),
  };
}
