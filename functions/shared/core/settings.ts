import { ValidationError } from "../errors.js";
import type { Principal, WorkspaceRecord } from "../ports.js";
import { ENTERPRISE_RETENTION, PER_NODE_RETENTION_DAYS, settingsBodySchema } from "../schemas/admin.js";
import { actionEvent, type Client } from "./access.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";
import { validationError } from "./zod-errors.js";

/** Retention each plan allows: per-node is fixed at 90 days; enterprise chooses 30–365. */
export function retentionRange(plan: WorkspaceRecord["plan"]) {
  return plan === "enterprise"
    ? { min: ENTERPRISE_RETENTION.min, max: ENTERPRISE_RETENTION.max }
    : { min: PER_NODE_RETENTION_DAYS, max: PER_NODE_RETENTION_DAYS };
}

async function workspaceOf(deps: EventsDeps, principal: Principal): Promise<WorkspaceRecord> {
  const ws = await deps.control.getWorkspace(principal.workspaceId);
  // A key whose workspace record is gone is treated like a per-node workspace with defaults.
  return (
    ws ?? {
      workspaceId: principal.workspaceId,
      plan: "per-node",
      retentionDays: deps.defaultRetentionDays,
      createdAt: "",
    }
  );
}

function view(ws: WorkspaceRecord) {
  return {
    workspaceId: ws.workspaceId,
    plan: ws.plan,
    retentionDays: ws.retentionDays,
    retentionDaysAllowed: retentionRange(ws.plan),
  };
}

export async function getSettings(deps: EventsDeps, principal: Principal) {
  return view(await workspaceOf(deps, principal));
}

/**
 * Changes the retention. Events keep the expiry they were recorded with; only events recorded
 * from now on take the new retention. A change is recorded as `audit.settings_changed`.
 */
export async function putSettings(deps: EventsDeps, principal: Principal, client: Client, body: unknown) {
  const parsed = settingsBodySchema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  const ws = await workspaceOf(deps, principal);
  const { min, max } = retentionRange(ws.plan);
  const to = parsed.data.retentionDays;
  if (to < min || to > max) {
    const message =
      min === max
        ? `is fixed at ${min} days on the ${ws.plan} plan`
        : `must be ${min}–${max} days on the ${ws.plan} plan`;
    throw new ValidationError([{ path: "/retentionDays", message }]);
  }
  if (to !== ws.retentionDays) {
    // The record first: a change may fail after it (503, visible in the log), but none goes unlogged.
    await recordServiceEvent(deps, ws.workspaceId, {
      type: "audit.settings_changed",
      ...actionEvent(principal, client),
      context: { field: "retentionDays", from: ws.retentionDays, to },
    });
    await deps.control.setRetention(ws.workspaceId, to);
  }
  return view({ ...ws, retentionDays: to });
}
