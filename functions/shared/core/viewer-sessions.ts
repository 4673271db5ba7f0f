import type * as z from "zod";
import { ConflictError, ForbiddenError } from "../errors.js";
import type { ApiKeyRecord, Principal } from "../ports.js";
import type { createViewerSessionBodySchema } from "../schemas/admin.js";
import { actionEvent, type Client, recordDenied } from "./access.js";
import { hashToken, newToken } from "./api-keys.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

/** Where the Audit Log page is served, on the API's own origin. */
export const DASHBOARD_PATH = "/dashboard/audit";

/**
 * Mints a viewer session: a short-lived, read-only token of the caller's workspace for the Audit
 * Log page, so a person gets in without an API key. An admin key mints one for its workspace, and
 * may name the person it is for; a reader key for itself (its own scope, no more, and no viewer:
 * its reads stay the key's). A session cannot mint another; both refusals are recorded. Minting is
 * recorded as `audit.viewer_session_created`; the session's reads are audited as any read is, with
 * the viewer (when named) as the actor.
 */
export async function createViewerSession(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  input: z.output<typeof createViewerSessionBodySchema>,
) {
  // Refusals are recorded as every denied access is.
  const refuse = async (reason: string, detail: string) => {
    await recordDenied(deps, principal.workspaceId, principal, client, reason);
    return new ForbiddenError(detail);
  };
  if (principal.session)
    throw await refuse("session_cannot_mint", "a viewer session cannot mint another session");
  // Only an admin names the person: a reader key minting for itself reads as itself.
  if (input.viewer && !principal.scopes.includes("admin")) {
    throw await refuse(
      "viewer_needs_admin",
      "only an admin key may name the viewer; a reader key mints for itself",
    );
  }
  const now = deps.clock.now();
  const { keyId: sessionId, token } = newToken(undefined, "session");
  const expiresAt = new Date(now.getTime() + input.ttlSeconds * 1000).toISOString();
  const session: ApiKeyRecord = {
    keyId: sessionId,
    workspaceId: principal.workspaceId,
    secretHash: hashToken(token),
    scopes: ["events:read"],
    name: "viewer session",
    createdAt: now.toISOString(),
    validUntil: expiresAt,
    mintedBy: principal.keyId,
    ...(input.viewer ? { viewer: input.viewer } : {}),
  };
  if (!(await deps.control.putApiKey(session))) throw new ConflictError("session id collision; retry");
  await recordServiceEvent(deps, principal.workspaceId, {
    type: "audit.viewer_session_created",
    ...actionEvent(principal, client),
    resource: { type: "viewer_session", id: sessionId },
    context: {
      sessionId,
      expiresAt,
      ttlSeconds: input.ttlSeconds,
      ...(input.viewer ? { viewer: input.viewer } : {}),
    },
  });
  return {
    sessionId,
    token,
    workspaceId: principal.workspaceId,
    scopes: ["events:read" as const],
    expiresAt,
    ...(input.viewer ? { viewer: input.viewer } : {}),
    url: `${DASHBOARD_PATH}#token=${token}`,
  };
}
