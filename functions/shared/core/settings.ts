import type * as z from "zod";
import type { Config } from "../config.js";
import { ValidationError } from "../errors.js";
import { hostProblem } from "../net.js";
import type { ExportDestination, Principal, SecretStore, WorkspaceRecord } from "../ports.js";
import { ENTERPRISE_RETENTION, PER_NODE_RETENTION_DAYS, type settingsBodySchema } from "../schemas/admin.js";
import { actionEvent, type Client } from "./access.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

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
    exportDestination: ws.exportDestination ? publicDestination(ws.exportDestination) : null,
  };
}

/** What may be shown and logged of a destination: everything but the secret's whereabouts. */
function publicDestination({ secretName: _secret, ...shown }: ExportDestination) {
  return shown;
}

export async function getSettings(deps: EventsDeps, principal: Principal) {
  return view(await workspaceOf(deps, principal));
}

export type SettingsDeps = EventsDeps & { config: Config; secrets: SecretStore };

/**
 * Deployed stacks send to https endpoints on public hosts only: no IP literal in any of IANA's
 * special-purpose ranges (functions/shared/net.ts), no local name (`localhost.`,
 * `ip6-localhost`, `*.internal`, …), and no credentials in the URL (they would be shown in the
 * settings and the log). A public name that resolves to a private address passes here; the
 * delivery itself connects only to the public addresses a name resolves to
 * (adapters/s3-destination.ts). Returns why an endpoint is refused, or undefined when acceptable.
 */
export function endpointProblem(endpoint: string | undefined, allowHttp: boolean): string | undefined {
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  if (url.username || url.password) return "must not carry credentials; use accessKeyId and secretAccessKey";
  if (allowHttp) return undefined;
  if (url.protocol !== "https:") return "must be an https URL";
  return hostProblem(url.hostname);
}

/**
 * Changes the retention and/or the export destination; fields left out stay. Events keep the
 * expiry they were recorded with; only events recorded from now on take the new retention. Each
 * change is recorded as `audit.settings_changed` before it is made (a change may then fail with a
 * 503, visible in the log, but none goes unlogged). A destination's secret goes to Secrets Manager
 * and appears in neither the settings nor the log.
 */
export async function putSettings(
  deps: SettingsDeps,
  principal: Principal,
  client: Client,
  input: z.output<typeof settingsBodySchema>,
) {
  const ws = await workspaceOf(deps, principal);
  const { retentionDays: to, exportDestination: destination } = input;
  if (to !== undefined) {
    const { min, max } = retentionRange(ws.plan);
    if (to < min || to > max) {
      const message =
        min === max
          ? `is fixed at ${min} days on the ${ws.plan} plan`
          : `must be ${min}–${max} days on the ${ws.plan} plan`;
      throw new ValidationError([{ path: "/retentionDays", message }]);
    }
  }
  if (destination !== undefined && ws.plan !== "enterprise") {
    throw new ValidationError([
      {
        path: "/exportDestination",
        message: "nightly exports, and so their destination, are for the enterprise plan",
      },
    ]);
  }
  const problem = destination && endpointProblem(destination.endpoint, deps.config.ALLOW_HTTP_DESTINATIONS);
  if (problem) throw new ValidationError([{ path: "/exportDestination/endpoint", message: problem }]);
  const prefix = deps.config.DESTINATION_SECRET_PREFIX;
  if (destination && !prefix) {
    throw new Error("invalid configuration: DESTINATION_SECRET_PREFIX is required to set a destination");
  }

  let next = ws;
  if (to !== undefined && to !== ws.retentionDays) {
    await recordServiceEvent(deps, ws.workspaceId, {
      type: "audit.settings_changed",
      ...actionEvent(principal, client),
      context: { field: "retentionDays", from: ws.retentionDays, to },
    });
    await deps.control.setRetention(ws.workspaceId, to);
    deps.records.forgetWorkspace(ws.workspaceId);
    next = { ...next, retentionDays: to };
  }
  // Removing a destination that is not there changes nothing, and logs nothing.
  if (destination !== undefined && (destination !== null || ws.exportDestination)) {
    const stored: ExportDestination | undefined = destination
      ? {
          ...(destination.endpoint ? { endpoint: destination.endpoint } : {}),
          region: destination.region,
          bucket: destination.bucket,
          prefix: destination.prefix,
          accessKeyId: destination.accessKeyId,
          forcePathStyle: destination.forcePathStyle,
          secretName: `${prefix}${ws.workspaceId}`,
          updatedAt: deps.clock.now().toISOString(),
        }
      : undefined;
    await recordServiceEvent(deps, ws.workspaceId, {
      type: "audit.settings_changed",
      ...actionEvent(principal, client),
      context: {
        field: "exportDestination",
        from: ws.exportDestination ? publicDestination(ws.exportDestination) : null,
        to: stored ? publicDestination(stored) : null,
      },
    });
    if (destination && stored) await deps.secrets.put(stored.secretName, destination.secretAccessKey);
    await deps.control.setExportDestination(ws.workspaceId, stored);
    next = { ...next, exportDestination: stored };
    if (!stored) delete next.exportDestination;
  }
  return view(next);
}
