import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { beforeAll, describe, expect, it } from "vitest";
import { MISSING_MAP } from "../../functions/shared/adapters/dynamodb-control-store.js";
import { engineEnv } from "./harness.js";

/**
 * The DynamoDB behaviour the service relies on, checked on the local engine itself (Dynoxide), on a
 * scratch table of this file's own. Where Dynoxide differs from DynamoDB (docs/storage.md, "Local
 * engine"), the test pins the difference the code works around, so an engine upgrade that changes it
 * fails here first.
 */
describe("the local DynamoDB engine", () => {
  const S = (s: string): AttributeValue => ({ S: s });
  const table = `engine-${randomUUID().slice(0, 8)}`;
  let db: DynamoDBClient;
  let streamArn: string | undefined;

  const putIfAbsent = (pk: string, extra: Record<string, AttributeValue> = {}) => ({
    Put: {
      TableName: table,
      Item: { pk: S(pk), sk: S("x"), ...extra },
      ConditionExpression: "attribute_not_exists(pk)",
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    },
  });

  beforeAll(async () => {
    const env = engineEnv();
    db = new DynamoDBClient({
      endpoint: env.dynamoEndpoint,
      region: env.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const created = await db.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        AttributeDefinitions: ["pk", "sk", "g"].map((AttributeName) => ({
          AttributeName,
          AttributeType: "S",
        })),
        GlobalSecondaryIndexes: [
          {
            IndexName: "keysOnly",
            KeySchema: [
              { AttributeName: "g", KeyType: "HASH" },
              { AttributeName: "pk", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "KEYS_ONLY" },
          },
        ],
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    streamArn = created.TableDescription?.LatestStreamArn;
  });

  it("cancels a whole transaction on one failed condition, naming each item's reason with the old item", async () => {
    // Prepare
    await db.send(
      new TransactWriteItemsCommand({ TransactItems: [putIfAbsent("taken", { h: S("first") })] }),
    );

    // Act
    const err = await db
      .send(new TransactWriteItemsCommand({ TransactItems: [putIfAbsent("fresh"), putIfAbsent("taken")] }))
      .then(
        () => undefined,
        (e: unknown) => e as { name: string; CancellationReasons?: { Code?: string; Item?: unknown }[] },
      );

    // Assess
    expect(err?.name).toBe("TransactionCanceledException");
    expect(err?.CancellationReasons?.map((r) => r.Code)).toEqual(["None", "ConditionalCheckFailed"]);
    expect(err?.CancellationReasons?.[1]?.Item).toEqual({ pk: S("taken"), sk: S("x"), h: S("first") });
    const fresh = await db.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": S("fresh") },
        ConsistentRead: true,
      }),
    );
    expect(fresh.Count).toBe(0);
  });

  it("takes a transaction of 100 items, DynamoDB's limit, and refuses one of 101", async () => {
    const items = (n: number, prefix: string) =>
      Array.from({ length: n }, (_, i) => putIfAbsent(`${prefix}-${i}`));
    await expect(
      db.send(new TransactWriteItemsCommand({ TransactItems: items(100, "full") })),
    ).resolves.toMatchObject({
      $metadata: { httpStatusCode: 200 },
    });
    await expect(
      db.send(new TransactWriteItemsCommand({ TransactItems: items(101, "over") })),
    ).rejects.toMatchObject({
      name: "ValidationException",
    });
  });

  it("answers a repeated ClientRequestToken with success, without running the conditions again", async () => {
    const input = { TransactItems: [putIfAbsent("once")], ClientRequestToken: randomUUID() };
    await db.send(new TransactWriteItemsCommand(input));
    // Run again, the condition would fail: success means the first outcome was returned.
    await expect(db.send(new TransactWriteItemsCommand(input))).resolves.toMatchObject({
      $metadata: { httpStatusCode: 200 },
    });
    await expect(
      db.send(new TransactWriteItemsCommand({ TransactItems: [putIfAbsent("once")] })),
    ).rejects.toMatchObject({ name: "TransactionCanceledException" });
  });

  it("projects only the keys into a KEYS_ONLY index", async () => {
    await db.send(
      new PutItemCommand({ TableName: table, Item: { pk: S("k1"), sk: S("x"), g: S("g1"), body: S("…") } }),
    );
    const out = await db.send(
      new QueryCommand({
        TableName: table,
        IndexName: "keysOnly",
        KeyConditionExpression: "g = :g",
        ExpressionAttributeValues: { ":g": S("g1") },
      }),
    );
    expect(out.Items).toEqual([{ pk: S("k1"), sk: S("x"), g: S("g1") }]);
  });

  it("counts Limit before the filter and pages with LastEvaluatedKey", async () => {
    // Prepare: 30 items in one partition, every third a failure.
    for (let i = 0; i < 30; i++) {
      await db.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: S("page"),
            sk: S(String(i).padStart(2, "0")),
            outcome: S(i % 3 ? "success" : "failure"),
          },
        }),
      );
    }
    const matches: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    let pages = 0;

    // Act
    do {
      const out = await db.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "pk = :p",
          FilterExpression: "outcome = :o",
          ExpressionAttributeValues: { ":p": S("page"), ":o": S("failure") },
          Limit: 5,
          ExclusiveStartKey: start,
          ScanIndexForward: false,
        }),
      );
      expect(out.ScannedCount).toBeLessThanOrEqual(5);
      matches.push(...(out.Items ?? []).map((item) => String(item.sk?.S)));
      start = out.LastEvaluatedKey;
      pages++;
    } while (start && pages < 20);

    // Assess
    expect(pages).toBeGreaterThanOrEqual(6);
    expect(matches).toEqual(["27", "24", "21", "18", "15", "12", "09", "06", "03", "00"]);
  });

  it("fails an ADD on a nested path whose map does not exist with a message the failure counter recognises", async () => {
    const err = await db
      .send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: S("counter"), sk: S("x") },
          UpdateExpression: "ADD #m.#k :one",
          ExpressionAttributeNames: { "#m": "reasons", "#k": "bad_key" },
          ExpressionAttributeValues: { ":one": { N: "1" } },
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.name).toBe("ValidationException");
    expect(err?.message).toMatch(MISSING_MAP);
  });

  it("adds to a nested counter once its map exists", async () => {
    const key = { pk: S("counter2"), sk: S("x") };
    await db.send(
      new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: "SET #m = if_not_exists(#m, :empty)",
        ExpressionAttributeNames: { "#m": "reasons" },
        ExpressionAttributeValues: { ":empty": { M: {} } },
      }),
    );
    const add = () =>
      db.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: "ADD #m.#k :one",
          ExpressionAttributeNames: { "#m": "reasons", "#k": "bad_key" },
          ExpressionAttributeValues: { ":one": { N: "1" } },
          ReturnValues: "ALL_NEW",
        }),
      );
    await add();
    const out = await add();
    expect(out.Attributes?.reasons).toEqual({ M: { bad_key: { N: "2" } } });
  });

  it("streams every insert with its new image", async () => {
    // Prepare
    const env = engineEnv();
    const streams = new DynamoDBStreamsClient({
      endpoint: env.dynamoEndpoint,
      region: env.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    await db.send(
      new PutItemCommand({ TableName: table, Item: { pk: S("streamed"), sk: S("x"), v: S("1") } }),
    );

    // Act
    const described = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const records = [];
    for (const shard of described.StreamDescription?.Shards ?? []) {
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      );
      records.push(...((await streams.send(new GetRecordsCommand({ ShardIterator }))).Records ?? []));
    }

    // Assess
    const insert = records.find((r) => r.dynamodb?.Keys?.pk?.S === "streamed");
    expect(insert?.eventName).toBe("INSERT");
    expect(insert?.dynamodb?.NewImage).toEqual({ pk: { S: "streamed" }, sk: { S: "x" }, v: { S: "1" } });
  });
});
