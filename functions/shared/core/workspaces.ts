import type * as z from "zod";
import { ConflictError, ValidationError } from "../errors.js";
import type { ApiKeyRecord, WorkspaceRecord } from "../ports.js";
import type { Scope } from "../routes.js";
import { createWorkspaceSchema, ENTERPRISE_RETENTION, PER_NODE_RETENTION_DAYS } from "../schemas/admin.js";
import { hashToken, newToken } from "./api-keys.js";
import type { ServiceEvent } from "./events.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";
import { retentionRange } from "./settings.js";
import { validationError } from "./zod-errors.js";

/**
 * Who created a workspace, outside the HTTP API: an operator's tool (`npm run admin`) or the local
 * runtime's bootstrap. `sourceIp` is the address of the host it ran on.
 */
export interface Operator {
  actor: ServiceEvent["actor"];
  sourceIp: string;
}

/**
 * Creates a workspace and its first keys, the one way there is (the admin CLI, the local runtime and
 * the tests all come here). Each key's creation is an `apikey.created` event in the new workspace's
 * log, exactly as POST /v1/keys records one. Returns the bearer tokens: they are shown only here.
 * A rerun after a failure before the first key was stored finishes the job; a workspace with keys
 * is taken.
 */
export async function createWorkspace<K extends string>(
  deps: EventsDeps,
  operator: Operator,
  input: z.input<typeof createWorkspaceSchema>,
  keys: Record<K, { scopes: Scope[]; name?: string }>,
): Promise<{ workspace: WorkspaceRecord; tokens: Record<K, string> }> {
  const parsed = createWorkspaceSchema.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error);
  const { workspaceId, plan } = parsed.data;
  const retentionDays =
    parsed.data.retentionDays ??
    (plan === "enterprise" ? ENTERPRISE_RETENTION.default : PER_NODE_RETENTION_DAYS);
  const allowed = retentionRange(plan);
  if (retentionDays < allowed.min || retentionDays > allowed.max) {
    throw new ValidationError([
      { path: "/retentionDays", message: `must be ${allowed.min}–${allowed.max} days on the ${plan} plan` },
    ]);
  }
  const createdAt = deps.clock.now().toISOString();
  const workspace: WorkspaceRecord = { workspaceId, plan, retentionDays, createdAt };
  if (!(await deps.control.putWorkspace(workspace))) {
    // A rerun after a failure between the workspace and its first key goes on; anything else is taken.
    const existing = await deps.control.getWorkspace(workspaceId);
    const unfinished = existing?.plan === plan && (await deps.control.listApiKeys(workspaceId)).length === 0;
    if (!unfinished) throw new ConflictError(`workspace ${workspaceId} already exists`);
  }
  const tokens = {} as Record<K, string>;
  for (const [label, spec] of Object.entries(keys) as [K, { scopes: Scope[]; name?: string }][]) {
    const { keyId, token } = newToken();
    const key: ApiKeyRecord = {
      keyId,
      workspaceId,
      secretHash: hashToken(token),
      scopes: spec.scopes,
      name: spec.name ?? label,
      createdAt,
    };
    if (!(await deps.control.putApiKey(key))) throw new ConflictError("key id collision; retry");
    await recordServiceEvent(deps, workspaceId, {
      type: "apikey.created",
      actor: operator.actor,
      sourceIp: operator.sourceIp,
      resource: { type: "apikey", id: keyId },
      context: { keyId, name: key.name, scopes: key.scopes },
    });
    tokens[label] = token;
  }
  return { workspace, tokens };
}
