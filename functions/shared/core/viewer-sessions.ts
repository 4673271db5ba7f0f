import type * as z from "zod";
import { ConflictError, ForbiddenError } from "../errors.js";
import type { ApiKeyRecord, Principal } from "../ports.js";
import type { createViewerSessionBodySchema } from "../schemas/admin.js";
import { actionEvent, type Client } from "./access.js";
import { hashToken, newToken } from "./api-keys.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

/** Where the Audit Log page is served, on the API's own origin. */
export const DASHBOARD_PATH = "/dashboard/audit";

/**
 * Mints a viewer session: a short-lived, read-only token of the caller's workspace for the Audit
 * Log page, so a person gets in without an API key. An admin key mints one for its workspace; a
 * reader key for itself (its own scope, no more). A session cannot mint another. Minting is
 * recorded as `audit.viewer_session_created`; the session's reads are audited as any read is, with
 * the viewer (when named) as the actor.
 */
export async function createViewerSession(
  deps: EventsDeps,
  principal: Principal,
  client: Client,
  input: z.output<typeof createViewerSessionBodySchema>,
) {
  if (principal.session) throw new ForbiddenError("a viewer session cannot mint another session");
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
