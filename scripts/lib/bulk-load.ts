import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { eventItem } from "../../functions/shared/adapters/dynamodb-event-store.js";
import type { EventRecord } from "../../functions/shared/ports.js";

/**
 * Loads event items straight into the table with BatchWriteItem, for tests and benchmarks that
 * need tens of thousands of events fast. It writes the same item the service writes (eventItem),
 * without the id guard; the service itself never uses BatchWriteItem (it cannot carry a condition).
 */
export async function bulkLoad(
  client: DynamoDBDocumentClient,
  tableName: string,
  records: EventRecord[],
  concurrency = 8,
): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < records.length; i += 25) batches.push(records.slice(i, i + 25).map(eventItem));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < batches.length) {
        let items = (batches[next++] ?? []).map((Item) => ({ PutRequest: { Item } }));
        while (items.length) {
          const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: items } }));
          items = (out.UnprocessedItems?.[tableName] ?? []) as typeof items;
        }
      }
    }),
  );
}
