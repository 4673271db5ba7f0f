import { randomBytes, timingSafeEqual } from "node:crypto";
import { sha256Hex } from "../canonical.js";
import { ForbiddenError, UnauthorizedError } from "../errors.js";
import type { ApiKeyRecord, ControlStore, Principal } from "../ports.js";
import type { Scope } from "../routes.js";

/**
 * Bearer tokens look like `alk_<keyId>_<secret>`: a recognisable prefix (secret scanners can find
 * leaked keys), the key id (a lookup without a scan), and 256 bits of secret. Only the SHA-256 of the
 * whole token is stored.
 */
const TOKEN = /^alk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newApiKeyToken(): { keyId: string; token: string } {
  const keyId = randomBytes(8).toString("hex");
  return { keyId, token: `alk_${keyId}_${randomBytes(32).toString("base64url")}` };
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function keyIdOf(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

/** Resolves `Authorization: Bearer …` to the key's workspace and scopes, or throws 401/403. */
export async function authenticate(
  control: ControlStore,
  authorization: string | undefined,
  scope: Scope,
): Promise<Principal> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!token) throw new UnauthorizedError("send the API key as `Authorization: Bearer <key>`");
  const keyId = keyIdOf(token);
  const key: ApiKeyRecord | undefined = keyId ? await control.getApiKey(keyId) : undefined;
  const presented = Buffer.from(hashToken(token), "hex");
  const stored = Buffer.from(key?.secretHash ?? "00".repeat(32), "hex");
  const matches = stored.length === presented.length && timingSafeEqual(stored, presented);
  if (!key || !matches) throw new UnauthorizedError("the API key is not valid");
  if (!key.scopes.includes(scope)) throw new ForbiddenError(`this route needs the \`${scope}\` scope`);
  return { workspaceId: key.workspaceId, keyId: key.keyId, scopes: key.scopes };
}
