import { randomBytes } from "node:crypto";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { CreateAliasCommand, CreateKeyCommand, DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateBucketCommand, PutObjectLockConfigurationCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { FixedClock, systemClock } from "../../functions/shared/clock.js";
import { createWorkspace } from "../../functions/shared/core/workspaces.js";
import type { Scope } from "../../functions/shared/routes.js";
import {
  CONTROL_TABLE,
  CONTROL_TABLE_BASENAME,
  checkpointKeyAlias,
  destinationSecretPrefix,
  EVENTS_TABLE,
  EVENTS_TABLE_BASENAME,
  logNameOf,
  type TableDefinition,
} from "../../functions/shared/table.js";
import { toolDeps } from "../../functions/shared/tool-deps.js";
import type { EngineEndpoints } from "./engines.js";

/** Everything the local runtime, the tests and the benchmark need to reach the local engines. */
export interface LocalEnv {
  /** moto: S3, KMS, SQS, Secrets Manager. */
  endpoint: string;
  /** The DynamoDB engine (Dynoxide; moto's own DynamoDB only as the announced fallback). */
  dynamoEndpoint: string;
  region: string;
  eventsTable: string;
  controlTable: string;
  exportBucket: string;
  cursorSecretId: string;
  exportQueueName: string;
  exportQueueUrl: string;
  /** A plain bucket in moto that plays a customer's own export destination. */
  customerBucket: string;
  destinationSecretPrefix: string;
  /** The KMS key that signs checkpoints, by alias (moto makes the key; the alias finds it again). */
  logKeyAlias: string;
  logName: string;
}

/** moto's default account id: queue URLs are `<endpoint>/<account>/<name>`. */
const MOTO_ACCOUNT = "123456789012";

export function localEnv(endpoints: EngineEndpoints, stage = "local"): LocalEnv {
  const endpoint = endpoints.aws;
  return {
    endpoint,
    dynamoEndpoint: endpoints.dynamodb,
    region: "us-east-1",
    eventsTable: `${EVENTS_TABLE_BASENAME}-${stage}`,
    controlTable: `${CONTROL_TABLE_BASENAME}-${stage}`,
    exportBucket: `audit-exports-${stage}`,
    cursorSecretId: `audit-log/${stage}/cursor-key`,
    exportQueueName: `audit-exports-${stage}`,
    exportQueueUrl: `${endpoint}/${MOTO_ACCOUNT}/audit-exports-${stage}`,
    customerBucket: `customer-exports-${stage}`,
    destinationSecretPrefix: destinationSecretPrefix(stage),
    logKeyAlias: checkpointKeyAlias(stage),
    logName: logNameOf(stage),
  };
}

/** The environment variables the handlers read (functions/shared/config.ts), pointed at the engines. */
export function processEnvFor(env: LocalEnv): Record<string, string> {
  return {
    // The SDK's standard variables: one endpoint for every service, and DynamoDB's own.
    AWS_ENDPOINT_URL: env.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: env.dynamoEndpoint,
    AWS_REGION: env.region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    EVENTS_TABLE: env.eventsTable,
    CONTROL_TABLE: env.controlTable,
    CURSOR_SECRET_ID: env.cursorSecretId,
    EXPORT_BUCKET: env.exportBucket,
    EXPORT_QUEUE_URL: env.exportQueueUrl,
    S3_FORCE_PATH_STYLE: "true",
    DESTINATION_SECRET_PREFIX: env.destinationSecretPrefix,
    // The local "customer" bucket is moto, over plain http on loopback.
    ALLOW_HTTP_DESTINATIONS: "true",
    LOG_SIGNING_KEY_ID: env.logKeyAlias,
    LOG_NAME: env.logName,
    // EMF metric lines would flood the terminal; POWERTOOLS_METRICS_DISABLED=false shows them.
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
  };
}

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

export function localClients(env: LocalEnv) {
  const dynamo = new DynamoDBClient({ endpoint: env.dynamoEndpoint, region: env.region, credentials });
  return {
    dynamo,
    document: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    s3: new S3Client({ endpoint: env.endpoint, region: env.region, credentials, forcePathStyle: true }),
    secrets: new SecretsManagerClient({ endpoint: env.endpoint, region: env.region, credentials }),
    sqs: new SQSClient({ endpoint: env.endpoint, region: env.region, credentials }),
    kms: new KMSClient({ endpoint: env.endpoint, region: env.region, credentials }),
  };
}

/** CreateTable input from the same definition the CDK stack uses. */
export function createTableInput(name: string, def: TableDefinition): CreateTableCommandInput {
  const attributes = new Set([
    def.partitionKey,
    def.sortKey,
    ...def.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ]);
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    KeySchema: [
      { AttributeName: def.partitionKey, KeyType: "HASH" },
      { AttributeName: def.sortKey, KeyType: "RANGE" },
    ],
    AttributeDefinitions: [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: "S" })),
    GlobalSecondaryIndexes: def.indexes.length
      ? def.indexes.map((i) => ({
          IndexName: i.name,
          KeySchema: [
            { AttributeName: i.partitionKey, KeyType: "HASH" },
            { AttributeName: i.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: i.projection },
        }))
      : undefined,
  };
}

async function createTable(client: DynamoDBClient, name: string, def: TableDefinition): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(name, def)));
  } catch (err: unknown) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
    }),
  );
}

/**
 * Creates the tables, the Object Lock export bucket, the export queue and the cursor secret, as the
 * CDK stack does on AWS, plus a plain bucket that plays a customer's export destination. Idempotent.
 */
export async function provision(env: LocalEnv, options: { lockDays?: number } = {}): Promise<void> {
  const clients = localClients(env);
  await createTable(clients.dynamo, env.eventsTable, EVENTS_TABLE);
  await createTable(clients.dynamo, env.controlTable, CONTROL_TABLE);
  try {
    await clients.s3.send(
      new CreateBucketCommand({ Bucket: env.exportBucket, ObjectLockEnabledForBucket: true }),
    );
    await clients.s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: env.exportBucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: options.lockDays ?? 1 } },
        },
      }),
    );
  } catch (err: unknown) {
    if (!(err instanceof Error && /BucketAlready(OwnedByYou|Exists)/.test(err.name))) throw err;
  }
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: env.customerBucket }));
  } catch (err: unknown) {
    if (!(err instanceof Error && /BucketAlready(OwnedByYou|Exists)/.test(err.name))) throw err;
  }
  await ensureCheckpointKey(clients.kms, env.logKeyAlias);
  const queue = await clients.sqs.send(
    new CreateQueueCommand({ QueueName: env.exportQueueName, Attributes: { VisibilityTimeout: "900" } }),
  );
  if (queue.QueueUrl !== env.exportQueueUrl) throw new Error(`unexpected queue URL ${queue.QueueUrl}`);
  try {
    await clients.secrets.send(
      new CreateSecretCommand({
        Name: env.cursorSecretId,
        SecretString: randomBytes(48).toString("base64url"),
      }),
    );
  } catch (err: unknown) {
    if (!(err instanceof Error && err.name === "ResourceExistsException")) throw err;
  }
}

/** The checkpoint signing key, as the stack makes it: ECC_NIST_P256 for signing, found by alias. */
async function ensureCheckpointKey(kms: KMSClient, alias: string): Promise<void> {
  try {
    await kms.send(new DescribeKeyCommand({ KeyId: alias }));
    return;
  } catch (err: unknown) {
    if (!(err instanceof Error && err.name === "NotFoundException")) throw err;
  }
  const key = await kms.send(
    new CreateKeyCommand({
      KeySpec: "ECC_NIST_P256",
      KeyUsage: "SIGN_VERIFY",
      Description: "signs the audit log's checkpoints (local)",
    }),
  );
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyMetadata?.KeyId }));
}

export interface SeededWorkspace<K extends string = "writer" | "reader"> {
  id: string;
  keys: Record<K, string>;
}

/**
 * Creates a workspace and one API key per name through the core (`createWorkspace`), so each key's
 * creation is an `apikey.created` event in its log, recorded by the local bootstrap from loopback.
 * Returns the bearer tokens (shown only here).
 */
export async function seedWorkspace<K extends string>(
  env: LocalEnv,
  workspaceId: string,
  keys: Record<K, Scope[]>,
  options: { plan?: "per-node" | "enterprise"; retentionDays?: number; now?: Date } = {},
): Promise<SeededWorkspace<K>> {
  const clock = options.now ? new FixedClock(options.now) : systemClock;
  const deps = toolDeps(localClients(env).document, env, clock);
  const { tokens } = await createWorkspace(
    deps,
    { actor: { type: "system", id: "local-bootstrap" }, sourceIp: "127.0.0.1" },
    { workspaceId, plan: options.plan ?? "per-node", retentionDays: options.retentionDays },
    Object.fromEntries(Object.entries<Scope[]>(keys).map(([name, scopes]) => [name, { scopes }])) as Record<
      K,
      { scopes: Scope[] }
    >,
  );
  return { id: workspaceId, keys: tokens };
}
