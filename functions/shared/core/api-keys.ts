import { randomBytes, timingSafeEqual } from "node:crypto";
import { sha256Hex } from "../canonical.js";
import { AuthenticationFailure } from "../errors.js";
import type { ApiKeyRecord, Principal } from "../ports.js";
import type { RecordCache } from "./record-cache.js";

/**
 * Bearer tokens look like `alk_<keyId>_<secret>` (`alv_` for a viewer session): a recognisable
 * prefix (secret scanners can find leaked keys), the key id (a lookup without a scan), and 256 bits
 * of secret. Only the SHA-256 of the whole token is stored, prefix included, so a key's secret
 * cannot be presented as a session's or the other way round.
 */
const TOKEN = /^al[kv]_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newKeyId(): string {
  return randomBytes(8).toString("hex");
}

export function newToken(
  keyId: string = newKeyId(),
  kind: "key" | "session" = "key",
): { keyId: string; token: string } {
  const prefix = kind === "key" ? "alk" : "alv";
  return { keyId, token: `${prefix}_${keyId}_${randomBytes(32).toString("base64url")}` };
}

export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function keyIdOf(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

function sameHash(hexA: string | undefined, hexB: string): boolean {
  const a = Buffer.from(hexA ?? "00".repeat(32), "hex");
  const b = Buffer.from(hexB, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Resolves `Authorization: Bearer …` to the key's workspace and scopes. A rotated key's previous
 * secret still works until its grace period ends. Throws {@link AuthenticationFailure} with the
 * reason and, when the key id resolved, the key's workspace (which then sees the attempt). The key
 * record comes through the {@link RecordCache}, so a revocation made elsewhere is seen within its
 * time bound.
 */
export async function authenticate(
  cache: RecordCache,
  authorization: string | undefined,
  now: Date,
): Promise<Principal> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (!token) throw new AuthenticationFailure("missing_key");
  const keyId = keyIdOf(token);
  if (!keyId) throw new AuthenticationFailure("malformed_key");
  const presented = hashToken(token);
  const current = (key: ApiKeyRecord | undefined) => sameHash(key?.secretHash, presented);
  const inGrace = (key: ApiKeyRecord | undefined) =>
    sameHash(key?.previousSecretHash, presented) &&
    key?.previousValidUntil !== undefined &&
    Date.parse(key.previousValidUntil) > now.getTime();
  const key = await cache.apiKey(keyId, (k) => current(k) || inGrace(k));
  // Both comparisons run (over SHA-256 digests, in constant time) whatever the outcome.
  const accepted = [current(key), inGrace(key)].includes(true);
  if (!key) throw new AuthenticationFailure("unknown_key", keyId);
  if (key.revokedAt) throw new AuthenticationFailure("revoked_key", keyId, key.workspaceId);
  if (!accepted) throw new AuthenticationFailure("wrong_secret", keyId, key.workspaceId);
  if (key.validUntil !== undefined && Date.parse(key.validUntil) <= now.getTime()) {
    throw new AuthenticationFailure("expired_session", keyId, key.workspaceId);
  }
  // A session lives no longer than the key that minted it: revoking that key ends its sessions
  // (within the record cache's bound, as any revocation).
  if (key.mintedBy !== undefined) {
    const minter = await cache.apiKey(key.mintedBy, (k) => k.revokedAt === undefined);
    if (!minter || minter.revokedAt !== undefined) {
      throw new AuthenticationFailure("revoked_key", keyId, key.workspaceId);
    }
  }
  return {
    workspaceId: key.workspaceId,
    keyId: key.keyId,
    scopes: key.scopes,
    ...(key.mintedBy
      ? { session: { mintedBy: key.mintedBy, ...(key.viewer ? { viewer: key.viewer } : {}) } }
      : {}),
  };
}
