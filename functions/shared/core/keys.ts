import type * as z from "zod";
import { ConflictError } from "../errors.js";
import type { ApiKeyRecord, Principal } from "../ports.js";
import { apiKeySchema, type createKeyBodySchema, type rotateKeyBodySchema } from "../schemas/admin.js";
import { actionEvent, type Client, ownedOrNotFound } from "./access.js";
import { hashToken, newToken } from "./api-keys.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

/** Key metadata as the API shows it: never a hash, never a secret. */
export function keyView(key: ApiKeyRecord) {
  return apiKeySchema.parse(key);
}

/** A key of the caller's workspace, or 404 (and, when it belongs elsewhere, an access.denied there). */
async function ownKey(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  keyId: string,
): Promise<ApiKeyRecord> {
  const key = /^[0-9a-f]{16}$/.test(keyId) ? await deps.control.getApiKey(keyId) : undefined;
  return ownedOrNotFound(deps, principal, client, { type: "apikey", id: keyId }, key);
}

export async function createKey(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  input: z.output<typeof createKeyBodySchema>,
) {
  const { keyId, token } = newToken();
  const key: ApiKeyRecord = {
    keyId,
    workspaceId: principal.workspaceId,
    secretHash: hashToken(token),
    scopes: input.scopes,
    name: input.name,
    createdAt: deps.clock.now().toISOString(),
  };
  if (!(await deps.control.putApiKey(key))) throw new ConflictError("key id collision; retry");
  await recordServiceEvent(deps, principal.workspaceId, {
    type: "apikey.created",
    ...actionEvent(principal, client),
    resource: { type: "apikey", id: keyId },
    context: { keyId, name: key.name, scopes: key.scopes },
  });
  return { ...keyView(key), token };
}

/** The workspace's API keys; viewer sessions (short-lived, minted by a key) are not listed. */
export async function listKeys(deps: EventsDeps, principal: Principal) {
  const keys = (await deps.control.listApiKeys(principal.workspaceId)).filter((k) => !k.mintedBy);
  return { keys: keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map(keyView) };
}

/** A new secret for the same key id; the old one keeps working for the grace period. */
export async function rotateKey(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  keyId: string,
  input: z.output<typeof rotateKeyBodySchema>,
) {
  const key = await ownKey(deps, principal, client, keyId);
  if (key.revokedAt) throw new ConflictError(`key ${keyId} is revoked`);
  // A session's token is `alv_`, and short-lived: mint a new session instead.
  if (key.mintedBy) throw new ConflictError(`${keyId} is a viewer session: mint a new one instead`);
  const now = deps.clock.now();
  const { token } = newToken(keyId);
  const previousValidUntil = new Date(now.getTime() + input.graceSeconds * 1000).toISOString();
  const rotated = await deps.control.rotateApiKey(keyId, {
    secretHash: hashToken(token),
    previousSecretHash: key.secretHash,
    previousValidUntil,
    rotatedAt: now.toISOString(),
  });
  if (!rotated) throw new ConflictError(`key ${keyId} changed meanwhile (rotated or revoked); read it again`);
  deps.records.forgetKey(keyId);
  await recordServiceEvent(deps, principal.workspaceId, {
    type: "apikey.rotated",
    ...actionEvent(principal, client),
    resource: { type: "apikey", id: keyId },
    context: { keyId, previousValidUntil, graceSeconds: input.graceSeconds },
  });
  return { ...keyView({ ...key, rotatedAt: now.toISOString(), previousValidUntil }), token };
}

/**
 * Marks the key revoked. This environment refuses it from its next request; others within the
 * record cache's bound (RECORD_CACHE_SECONDS). No audit record is touched.
 */
export async function revokeKey(deps: EventsDeps, principal: Principal, client: Client, keyId: string) {
  const key = await ownKey(deps, principal, client, keyId);
  const revokedAt = deps.clock.now().toISOString();
  if (key.revokedAt || !(await deps.control.revokeApiKey(keyId, revokedAt))) {
    throw new ConflictError(`key ${keyId} is already revoked`);
  }
  deps.records.forgetKey(keyId);
  await recordServiceEvent(deps, principal.workspaceId, {
    type: "apikey.revoked",
    ...actionEvent(principal, client),
    resource: { type: "apikey", id: keyId },
    context: { keyId, name: key.name },
  });
  return keyView({ ...key, revokedAt });
}
