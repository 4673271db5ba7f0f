import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { dynamoDocumentClient } from "./adapters/clients.js";
import { DynamoLogStore } from "./adapters/dynamodb-log-store.js";
import type { LogDeps, LogReadDeps } from "./core/log.js";
import type { Deps } from "./deps.js";
import { archiveStore } from "./export-deps.js";
import { logKeyDeps } from "./log-key-deps.js";

/**
 * The verifiable log's wiring (state in the control table, tiles in the Object Lock bucket, the
 * KMS checkpoint key), kept apart so that only the log's functions bundle the KMS client.
 */
export function logDeps(deps: Deps, client: DynamoDBDocumentClient = dynamoDocumentClient()): LogDeps {
  return { ...logReadDeps(deps, client), checkpoints: logKeyDeps(deps).checkpoints };
}

/** The log as its readers see it: state, anchors and tiles, no key (so no KMS client in their bundles). */
export function logReadDeps(
  deps: Deps,
  client: DynamoDBDocumentClient = dynamoDocumentClient(),
): LogReadDeps {
  const { LOG_NAME } = deps.config;
  if (!LOG_NAME) throw new Error("invalid configuration: LOG_NAME is required by this function");
  return {
    ...deps,
    log: new DynamoLogStore(client, deps.config.CONTROL_TABLE),
    archive: archiveStore(deps.config),
    logName: LOG_NAME,
  };
}
