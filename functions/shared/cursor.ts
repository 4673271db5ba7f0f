import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "./canonical.js";
import { ValidationError } from "./errors.js";
import type { Position } from "./ports.js";

/**
 * Paging cursors are opaque and tamper-proof: base64url(JSON) + "." + HMAC-SHA256 over it. A cursor
 * names the workspace, a digest of the query it belongs to, and the store's position of the last
 * event returned, so it cannot be replayed against another workspace or another filter set. Only
 * the service seals one, so the position it opens to is one the store made.
 */
interface CursorPayload {
  v: 1;
  ws: string;
  q: string;
  after: string;
}

function queryDigest(filters: Record<string, unknown>): string {
  return createHmac("sha256", "query").update(canonicalJson(filters)).digest("base64url").slice(0, 22);
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac("sha256", key).update(body).digest();
}

export function sealCursor(
  key: Buffer,
  workspaceId: string,
  filters: Record<string, unknown>,
  after: Position,
): string {
  const body = Buffer.from(
    JSON.stringify({ v: 1, ws: workspaceId, q: queryDigest(filters), after } satisfies CursorPayload),
  ).toString("base64url");
  return `${body}.${mac(key, body).toString("base64url")}`;
}

/** Returns the position to continue after, or throws a 400 naming `cursor`. */
export function openCursor(
  key: Buffer,
  workspaceId: string,
  filters: Record<string, unknown>,
  cursor: string,
): Position {
  const invalid = (message: string) => new ValidationError([{ path: "/cursor", message }]);
  const [body, sig, ...rest] = cursor.split(".");
  if (!body || !sig || rest.length > 0) throw invalid("is not a cursor this service issued");
  const expected = mac(key, body);
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw invalid("is not a cursor this service issued");
  const payload = JSON.parse(Buffer.from(body, "base64url").toString()) as CursorPayload;
  if (payload.ws !== workspaceId || payload.q !== queryDigest(filters)) {
    throw invalid("belongs to another query; repeat the same filters or start without a cursor");
  }
  return payload.after as Position;
}
