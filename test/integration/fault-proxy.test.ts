import { randomUUID } from "node:crypto";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type FaultProxy,
  type FaultRates,
  parseRates,
  startFaultProxy,
} from "../../scripts/lib/fault-proxy.js";

/**
 * The load test's fault injector (scripts/lib/fault-proxy.ts) between the real AWS SDK and the real
 * engines of this run: each fault kind as the SDK sees it, and whether the engine got the request.
 */
const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const region = "us-east-1";
const TABLE = "fault-proxy-test";
const BUCKET = "fault-proxy-test";

/** One attempt, no SDK retry: each call meets exactly one fault. */
const once = { maxAttempts: 1, region, credentials } as const;

describe("fault proxy in front of the real engines", () => {
  let dynamoProxy: FaultProxy;
  let awsProxy: FaultProxy;
  /** Straight to the engines: what was really stored. */
  let direct: DynamoDBClient;
  let directS3: S3Client;
  let viaProxy: DynamoDBClient;
  let s3ViaProxy: S3Client;

  beforeAll(async () => {
    const engines = inject("engines");
    direct = new DynamoDBClient({ endpoint: engines.dynamodb, region, credentials });
    directS3 = new S3Client({ endpoint: engines.aws, region, credentials, forcePathStyle: true });
    try {
      await direct.send(
        new CreateTableCommand({
          TableName: TABLE,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        }),
      );
    } catch (err: unknown) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    try {
      await directS3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    } catch (err: unknown) {
      if (!(err instanceof Error && /BucketAlready/.test(err.name))) throw err;
    }
    dynamoProxy = await startFaultProxy({
      upstream: engines.dynamodb,
      protocol: "dynamodb",
      latencyMs: [150, 150],
    });
    awsProxy = await startFaultProxy({ upstream: engines.aws, protocol: "aws" });
    viaProxy = new DynamoDBClient({ ...once, endpoint: dynamoProxy.endpoint });
    s3ViaProxy = new S3Client({ ...once, endpoint: awsProxy.endpoint, forcePathStyle: true });
  });
  afterAll(async () => {
    await Promise.all([dynamoProxy?.close(), awsProxy?.close()]);
  });

  const put = (client: DynamoDBClient, pk: string) =>
    client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: pk }, v: { N: "1" } } }));
  const stored = async (pk: string) =>
    (
      await direct.send(
        new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true }),
      )
    ).Item !== undefined;
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err: unknown) {
      return err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
    }
    throw new Error("the request succeeded; a fault was expected");
  };
  const only = (proxy: FaultProxy, rates: FaultRates) => proxy.setRates(rates);

  it("forwards untouched with every rate at 0", async () => {
    // Prepare
    only(dynamoProxy, {});
    const pk = `pass-${randomUUID()}`;
    // Act
    await put(viaProxy, pk);
    const got = await viaProxy.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } } }));
    // Assess
    expect(got.Item?.v).toEqual({ N: "1" });
    expect(await stored(pk)).toBe(true);
  });

  it("answers DynamoDB InternalServerError (500) without asking the engine", async () => {
    only(dynamoProxy, { error500: 1 });
    const before = dynamoProxy.stats();
    const pk = `e500-${randomUUID()}`;
    const err = await failure(put(viaProxy, pk));
    expect(err.name).toBe("InternalServerError");
    expect(err.$metadata?.httpStatusCode).toBe(500);
    const after = dynamoProxy.stats();
    expect(after.faults.error500 - before.faults.error500).toBe(1);
    expect(after.forwarded).toBe(before.forwarded);
    only(dynamoProxy, {});
    expect(await stored(pk)).toBe(false);
  });

  it("answers ThrottlingException and ProvisionedThroughputExceededException (400), which the SDK retries", async () => {
    only(dynamoProxy, { throttling: 1 });
    const throttled = await failure(put(viaProxy, `thr-${randomUUID()}`));
    expect(throttled.name).toBe("ThrottlingException");
    expect(throttled.$metadata?.httpStatusCode).toBe(400);
    // and the SDK's standard retry takes it for a retryable error: a second attempt goes out
    const before = dynamoProxy.stats().requests;
    const twice = new DynamoDBClient({ ...once, maxAttempts: 2, endpoint: dynamoProxy.endpoint });
    expect((await failure(put(twice, `thr-${randomUUID()}`))).name).toBe("ThrottlingException");
    expect(dynamoProxy.stats().requests - before).toBe(2);

    only(dynamoProxy, { throughputExceeded: 1 });
    const exceeded = await failure(put(viaProxy, `pte-${randomUUID()}`));
    expect(exceeded).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(exceeded.$metadata?.httpStatusCode).toBe(400);
    const { faults } = dynamoProxy.stats();
    expect(faults.throttling).toBeGreaterThanOrEqual(1);
    expect(faults.throughputExceeded).toBeGreaterThanOrEqual(1);
  });

  it("resets the connection before the engine sees the request: nothing stored", async () => {
    only(dynamoProxy, { reset: 1 });
    const before = dynamoProxy.stats();
    const pk = `reset-${randomUUID()}`;
    const err = await failure(put(viaProxy, pk));
    expect(`${err.code} ${err.message}`).toMatch(/ECONNRESET|socket hang up/);
    expect(dynamoProxy.stats().faults.reset - before.faults.reset).toBe(1);
    expect(dynamoProxy.stats().forwarded).toBe(before.forwarded);
    only(dynamoProxy, {});
    expect(await stored(pk)).toBe(false);
  });

  it("applies the request, then loses the answer: the client sees a reset, the engine has the item", async () => {
    only(dynamoProxy, { answerLost: 1 });
    const before = dynamoProxy.stats();
    const pk = `lost-${randomUUID()}`;
    const err = await failure(put(viaProxy, pk));
    expect(`${err.code} ${err.message}`).toMatch(/ECONNRESET|socket hang up/);
    const after = dynamoProxy.stats();
    expect(after.faults.answerLost - before.faults.answerLost).toBe(1);
    expect(after.forwarded - before.forwarded).toBe(1);
    only(dynamoProxy, {});
    expect(await stored(pk)).toBe(true);
  });

  it("delays by a latency spike and still answers", async () => {
    only(dynamoProxy, { latency: 1 });
    const pk = `slow-${randomUUID()}`;
    const started = performance.now();
    await put(viaProxy, pk);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(dynamoProxy.stats().faults.latency).toBeGreaterThanOrEqual(1);
    only(dynamoProxy, {});
    expect(await stored(pk)).toBe(true);
  });

  it("forwards a delayed request even after the client timed out, as bytes on the wire still arrive", async () => {
    // A spike of 150 ms before forwarding, against a client that waits 50 ms.
    const proxy = await startFaultProxy({
      upstream: inject("engines").dynamodb,
      protocol: "dynamodb",
      rates: { latency: 1 },
      latencyMs: [150, 150],
      // Every draw 0: a spike, before the request, and no failure (its draw falls in error500's 0).
      random: () => 0,
    });
    try {
      const impatient = new DynamoDBClient({
        ...once,
        endpoint: proxy.endpoint,
        requestHandler: { requestTimeout: 50, throwOnRequestTimeout: true },
      });
      const pk = `late-${randomUUID()}`;
      const err = await failure(put(impatient, pk));
      expect(err.name).toBe("TimeoutError");
      await proxy.idle(5_000);
      expect(proxy.stats().forwardedAfterClientLeft).toBe(1);
      expect(await stored(pk)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("speaks S3's XML: InternalError (500) and SlowDown (503), and loses a PutObject's answer after it is stored", async () => {
    only(awsProxy, { error500: 1 });
    const key = `obj-${randomUUID()}`;
    const putObject = () => s3ViaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: "x" }));
    const internal = await failure(putObject());
    expect(internal.name).toBe("InternalError");
    expect(internal.$metadata?.httpStatusCode).toBe(500);

    only(awsProxy, { throttling: 1 });
    const slow = await failure(putObject());
    expect(slow.name).toBe("SlowDown");
    expect(slow.$metadata?.httpStatusCode).toBe(503);

    // ProvisionedThroughputExceeded is DynamoDB's: never drawn for S3, so this one goes through.
    only(awsProxy, { throughputExceeded: 1 });
    await putObject();

    only(awsProxy, { answerLost: 1 });
    const lostKey = `lost-${randomUUID()}`;
    const lost = await failure(
      s3ViaProxy.send(new PutObjectCommand({ Bucket: BUCKET, Key: lostKey, Body: "applied" })),
    );
    expect(`${lost.code} ${lost.message}`).toMatch(/ECONNRESET|socket hang up/);
    const head = await directS3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: lostKey }));
    expect(head.ContentLength).toBe(7);

    const { byService } = awsProxy.stats();
    expect(byService.s3).toMatchObject({ error500: 1, throttling: 1, throughputExceeded: 0, answerLost: 1 });
    only(awsProxy, {});
  });

  it("answers moto's JSON services (SQS) in JSON: ThrottlingException", async () => {
    only(awsProxy, { throttling: 1 });
    const sqs = new SQSClient({ ...once, endpoint: awsProxy.endpoint });
    const err = await failure(sqs.send(new ListQueuesCommand({})));
    expect(err.name).toBe("ThrottlingException");
    expect(awsProxy.stats().byService.sqs?.throttling).toBe(1);
    only(awsProxy, {});
    expect((await sqs.send(new ListQueuesCommand({}))).$metadata.httpStatusCode).toBe(200);
  });

  it("takes rates as kind=p lists, and refuses unknown kinds and failures adding up past 1", () => {
    expect(parseRates("latency=0.5,reset=0.25,answerLost=0.25")).toEqual({
      latency: 0.5,
      reset: 0.25,
      answerLost: 0.25,
    });
    expect(parseRates("")).toEqual({});
    expect(() => parseRates("drop=0.1")).toThrow(/kind=rate/);
    expect(() => parseRates("error500=0.6,reset=0.6")).toThrow(/more than 1/);
    expect(() => parseRates("reset=2")).toThrow(/from 0 to 1/);
  });
});
