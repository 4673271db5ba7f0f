import { DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBRecord, DynamoDBStreamEvent, AttributeValue as LambdaAttributeValue } from "aws-lambda";

/**
 * The local stand-in for a DynamoDB event source mapping: reads the local engine's stream of one
 * table (Dynoxide's, or moto's in the fallback) and hands each batch, shaped as Lambda delivers it,
 * to the handler module. A batch whose handler throws is not passed over: the next poll delivers it
 * again, as Lambda retries a failed batch.
 */

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<unknown>;

export interface StreamWatchOptions {
  /** The DynamoDB engine (`AWS_ENDPOINT_URL_DYNAMODB`); its streams API is on the same endpoint. */
  endpoint: string;
  region: string;
  tableName: string;
  /** Resolved for every batch, like a Lambda invocation (the module is imported once). */
  handler: () => Promise<StreamHandler>;
  log: (line: string) => void;
  /**
   * Milliseconds between polls; 0 starts no timer, and the caller drives {@link StreamWatch.poll}.
   * @default 1000
   */
  everyMs?: number;
  /** Records per GetRecords, and so per invocation (the event source mapping's default). @default 100 */
  batchSize?: number;
}

export interface StreamWatch {
  streamArn: string;
  /**
   * Reads every shard up to its end and delivers what it found, batch by batch; resolves to the
   * number of records delivered and rejects with the handler's error (that batch is delivered again
   * next time). Calls queue behind one another.
   */
  poll(): Promise<number>;
  stop(): void;
}

/** Batches one poll reads from a shard at most, so a flood cannot hold up the other shards. */
const BATCHES_PER_POLL = 50;
/** Polls between looks for new shards (a closed shard makes the next poll look at once). */
const DISCOVER_EVERY = 60;

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/**
 * The table's stream ARN, enabling a NEW_AND_OLD_IMAGES stream first if the table has none, as the
 * CDK stack's events table does (lib/tables.ts). The local bootstrap creates tables without one.
 */
export async function ensureStream(dynamo: DynamoDBClient, tableName: string): Promise<string> {
  const table = (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const spec = table?.StreamSpecification;
  if (spec?.StreamEnabled && table?.LatestStreamArn) {
    if (spec.StreamViewType !== "NEW_AND_OLD_IMAGES") {
      throw new Error(
        `${tableName} streams ${spec.StreamViewType}; the tamper watch needs NEW_AND_OLD_IMAGES`,
      );
    }
    return table.LatestStreamArn;
  }
  // Only when none is enabled: Dynoxide replaces an enabled stream's ARN when asked again.
  const updated = await dynamo.send(
    new UpdateTableCommand({
      TableName: tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
    }),
  );
  const arn =
    updated.TableDescription?.LatestStreamArn ??
    (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table?.LatestStreamArn;
  if (!arn) throw new Error(`${tableName} has no stream after enabling one`);
  return arn;
}

/** The SDK's attribute value (binary as bytes) in the JSON form Lambda receives (binary as base64). */
function wire(value: AttributeValue): LambdaAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString("base64")) };
  if (value.L !== undefined) return { L: value.L.map(wire) };
  if (value.M !== undefined) return { M: image(value.M) ?? {} };
  return value as LambdaAttributeValue;
}

function image(
  values: Record<string, AttributeValue> | undefined,
): Record<string, LambdaAttributeValue> | undefined {
  return values && Object.fromEntries(Object.entries(values).map(([name, v]) => [name, wire(v)]));
}

/** One GetRecords record as a DynamoDB event source mapping hands it to Lambda. */
export function toLambdaRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const change = record.dynamodb;
  const at = change?.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource ?? "aws:dynamodb",
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      // Lambda's event carries epoch seconds; the SDK parses them into a Date.
      ...(at ? { ApproximateCreationDateTime: Math.floor(at.getTime() / 1000) } : {}),
      Keys: image(change?.Keys),
      NewImage: image(change?.NewImage),
      OldImage: image(change?.OldImage),
      SequenceNumber: change?.SequenceNumber,
      SizeBytes: change?.SizeBytes,
      StreamViewType: change?.StreamViewType,
    },
    ...(record.userIdentity
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
}

/**
 * Starts reading the table's stream from its latest position (changes made from now on) and, unless
 * `everyMs` is 0, polls it on an unref'd timer.
 */
export async function startStreamWatch(options: StreamWatchOptions): Promise<StreamWatch> {
  const config = { endpoint: options.endpoint, region: options.region, credentials };
  const dynamo = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  const streamArn = await ensureStream(dynamo, options.tableName);
  const batchSize = options.batchSize ?? 100;
  /** Shard → where to read next; null once a closed shard has been read to its end. */
  const iterators = new Map<string, string | null>();

  const discover = async (position: "LATEST" | "TRIM_HORIZON") => {
    let start: string | undefined;
    do {
      const out = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of out.StreamDescription?.Shards ?? []) {
        if (!shard.ShardId || iterators.has(shard.ShardId)) continue;
        const { ShardIterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: position,
          }),
        );
        iterators.set(shard.ShardId, ShardIterator ?? null);
      }
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
  };
  // Every shard open now is read from its end; a shard found later is new, and read from its start.
  await discover("LATEST");

  let polls = 0;
  let rediscover = false;
  const pollOnce = async (): Promise<number> => {
    if (rediscover || ++polls % DISCOVER_EVERY === 0) {
      rediscover = false;
      await discover("TRIM_HORIZON");
    }
    let delivered = 0;
    for (const [shardId, start] of iterators) {
      let iterator = start;
      for (let batch = 0; iterator && batch < BATCHES_PER_POLL; batch++) {
        const out = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }));
        const records = out.Records ?? [];
        if (records.length > 0) {
          const handler = await options.handler();
          // A throw leaves the iterator where it was: the batch comes again next poll.
          await handler({ Records: records.map((r) => toLambdaRecord(r, streamArn)) });
          delivered += records.length;
        }
        iterator = out.NextShardIterator ?? null;
        iterators.set(shardId, iterator);
        if (!iterator) rediscover = true; // closed: its children, if any, are new shards
        if (records.length === 0) break;
      }
    }
    return delivered;
  };

  let chain: Promise<number> = Promise.resolve(0);
  const poll = () => {
    chain = chain.catch(() => 0).then(pollOnce);
    return chain;
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const everyMs = options.everyMs ?? 1_000;
  const schedule = () => {
    if (stopped || everyMs === 0) return;
    timer = setTimeout(() => {
      poll()
        .catch((err: unknown) => {
          if (!stopped) options.log(`tamper watch: ${(err as Error).message}`);
        })
        .finally(schedule);
    }, everyMs);
    timer.unref();
  };
  schedule();

  return {
    streamArn,
    poll,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      streams.destroy();
      dynamo.destroy();
    },
  };
}
