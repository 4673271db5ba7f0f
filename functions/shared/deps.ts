import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  dynamoDocumentClient,
  JOB_REQUEST_TIMEOUT_MS,
  newDocumentClient,
  secretsClient,
} from "./adapters/clients.js";
import { DynamoControlStore } from "./adapters/dynamodb-control-store.js";
import { DynamoEventStore, type DynamoEventStoreOptions } from "./adapters/dynamodb-event-store.js";
import { SecretsManagerStore } from "./adapters/secrets-manager-store.js";
import { translateStorageError } from "./adapters/storage-errors.js";
import { type Clock, type IdGenerator, systemClock, ulidGenerator } from "./clock.js";
import { type Config, CURSOR_KEY_MIN_BYTES, loadConfig } from "./config.js";
import type { EventsDeps } from "./core/events.js";
import { RecordCache } from "./core/record-cache.js";
import { WorkspaceRateLimit } from "./core/throttle.js";
import { logger } from "./logger.js";
import type { SecretStore } from "./ports.js";

export type Deps = EventsDeps & { config: Config; secrets: SecretStore; rateLimit: WorkspaceRateLimit };

export interface DepsOptions {
  config: Config;
  client: DynamoDBDocumentClient;
  clock?: Clock;
  newId?: IdGenerator;
  /** See {@link DynamoEventStoreOptions.queryPageSize}. */
  queryPageSize?: number;
  /** See {@link DynamoEventStoreOptions.backoff}. */
  appendBackoff?: DynamoEventStoreOptions["backoff"];
}

/** Wires the core to DynamoDB. Tests call it with their own client, clock or page size. */
export function makeDeps(options: DepsOptions): Deps {
  const { config, client } = options;
  const control = new DynamoControlStore(client, config.CONTROL_TABLE);
  const clock = options.clock ?? systemClock;
  return {
    config,
    events: new DynamoEventStore({
      client,
      tableName: config.EVENTS_TABLE,
      controlTableName: config.CONTROL_TABLE,
      queryPageSize: options.queryPageSize,
      backoff: options.appendBackoff,
      now: () => clock.now(),
    }),
    control,
    records: new RecordCache(control, config.RECORD_CACHE_SECONDS, clock),
    clock,
    newId: options.newId ?? ulidGenerator(),
    defaultRetentionDays: config.DEFAULT_RETENTION_DAYS,
    cursorKey: cursorKeyLoader(config),
    secrets: new SecretsManagerStore(secretsClient),
    rateLimit: new WorkspaceRateLimit(config.WORKSPACE_RATE_LIMIT, (error) =>
      logger.warn(RATE_COUNT_FAILED, { error }),
    ),
  };
}

/** Logged when a request could not be counted toward its workspace's rate (it was let through). */
export const RATE_COUNT_FAILED = "request not counted toward the workspace rate";

let memo: Deps | undefined;
let jobMemo: Deps | undefined;

/** Like {@link defaultDeps}, for jobs: the DynamoDB client waits longer for large pages. */
export function jobDeps(): Deps {
  jobMemo ??= makeDeps({
    config: loadConfig(),
    client: newDocumentClient(undefined, JOB_REQUEST_TIMEOUT_MS),
  });
  return jobMemo;
}

/** The production wiring, built once per container at cold start (config errors fail the init). */
export function defaultDeps(): Deps {
  memo ??= makeDeps({ config: loadConfig(), client: dynamoDocumentClient() });
  return memo;
}

/** A cursor key that is too short would make cursors forgeable: refuse it (a 500, logged), never use it. */
function checkedCursorKey(key: Buffer): Buffer {
  if (key.length < CURSOR_KEY_MIN_BYTES) {
    throw new Error(`the cursor secret is ${key.length} bytes; it must be at least ${CURSOR_KEY_MIN_BYTES}`);
  }
  return key;
}

/** The cursor HMAC key: from the environment locally, from Secrets Manager (fetched once) on AWS. */
function cursorKeyLoader(config: Pick<Config, "CURSOR_SECRET" | "CURSOR_SECRET_ID">): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  return () => {
    if (config.CURSOR_SECRET) return Promise.resolve(Buffer.from(config.CURSOR_SECRET));
    key ??= secretsClient()
      .send(new GetSecretValueCommand({ SecretId: config.CURSOR_SECRET_ID }))
      .then(
        (out) => Buffer.from(out.SecretString ?? ""),
        (err: unknown) => translateStorageError(err, "cursor secret"),
      )
      .then(checkedCursorKey)
      .catch((err: unknown) => {
        key = undefined; // read it again next time: a fixed secret, or storage back
        throw err;
      });
    return key;
  };
}
