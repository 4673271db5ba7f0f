import { kmsClient } from "./adapters/clients.js";
import { KmsCheckpointSigner } from "./adapters/kms-checkpoint-signer.js";
import type { LogKeyDeps } from "./core/log.js";
import type { Deps } from "./deps.js";

/**
 * The checkpoint key alone (GET /v1/log/key), in a module of its own: no tiles, so the S3 client
 * that log-deps.ts brings stays out of that function's bundle.
 */
export function logKeyDeps(deps: Deps): LogKeyDeps {
  const { LOG_SIGNING_KEY_ID, LOG_NAME } = deps.config;
  if (!LOG_SIGNING_KEY_ID || !LOG_NAME) {
    throw new Error("invalid configuration: LOG_SIGNING_KEY_ID and LOG_NAME are required by this function");
  }
  return {
    ...deps,
    checkpoints: new KmsCheckpointSigner(kmsClient(), LOG_SIGNING_KEY_ID, LOG_NAME),
    logName: LOG_NAME,
  };
}
