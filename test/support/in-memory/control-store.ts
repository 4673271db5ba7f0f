import { canonicalJson } from "../../../functions/shared/canonical.js";
import type {
  ApiKeyRecord,
  ControlStore,
  ExportDestination,
  ExportJob,
  FailureWindow,
  Position,
  ReachWindow,
  WorkspaceRecord,
} from "../../../functions/shared/ports.js";
import { REACH_RESOURCES_MAX } from "../../../functions/shared/table.js";
import type { InMemoryLogStore } from "./log-store.js";

type Request = Pick<FailureWindow, "ip" | "windowStart" | "windowEnd" | "method" | "path" | "userAgent">;

interface Counted {
  request: Request;
  count: number;
  /** Until the window's aggregate event is written (the adapter's `pending` index attribute). */
  pending: boolean;
}

const key = (...parts: string[]) => parts.join("\u0000");
const clone = <T>(value: T): T => structuredClone(value);
/** The value as stored JSON has it (no undefined members), in canonical form. */
const asJson = (value: unknown) => canonicalJson(JSON.parse(JSON.stringify(value)));

/**
 * The control table in memory: API keys, workspaces, failure, reach and request counters, export
 * jobs. Same semantics as the DynamoDB adapter, pinned by test/contract/control-store.ts. The
 * sealer's state lives beside them there (getSealedKey reads it), so this store reads it from the
 * {@link InMemoryLogStore} it is given.
 */
export class InMemoryControlStore implements ControlStore {
  private readonly keys = new Map<string, ApiKeyRecord>();
  private readonly workspaces = new Map<string, WorkspaceRecord>();
  private readonly failures = new Map<
    string,
    Counted & { target: string; reasons: Record<string, number> }
  >();
  private readonly sources = new Map<string, number>();
  private readonly requests = new Map<string, number>();
  private readonly reaches = new Map<
    string,
    Counted & { workspaceId: string; keyId: string; resources: Set<string> }
  >();
  private readonly jobs = new Map<string, ExportJob>();

  constructor(private readonly options: { log?: InMemoryLogStore } = {}) {}

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const found = this.keys.get(keyId);
    return found && clone(found);
  }

  async putApiKey(record: ApiKeyRecord): Promise<boolean> {
    if (this.keys.has(record.keyId)) return false;
    this.keys.set(record.keyId, clone(record));
    return true;
  }

  /** By key id, as the adapter's keysByWorkspace index sorts them. */
  async listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    return [...this.keys.values()]
      .filter((k) => k.workspaceId === workspaceId)
      .sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
      .map(clone);
  }

  /**
   * Only a live key rotates, and only from the secret the caller proved it holds (the adapter's
   * condition). As in the adapter, a failed condition that finds this rotation's new secret already
   * stored counts as applied: a resend of our own update whose answer was lost.
   */
  async rotateApiKey(
    keyId: string,
    change: { secretHash: string; previousSecretHash: string; previousValidUntil: string; rotatedAt: string },
  ): Promise<boolean> {
    const found = this.keys.get(keyId);
    if (!found) return false;
    if (found.revokedAt !== undefined || found.secretHash !== change.previousSecretHash) {
      return found.secretHash === change.secretHash;
    }
    this.keys.set(keyId, { ...found, ...change });
    return true;
  }

  /** False if revoked or absent, except that a revocation at this very instant is ours, resent. */
  async revokeApiKey(keyId: string, revokedAt: string): Promise<boolean> {
    const found = this.keys.get(keyId);
    if (!found) return false;
    // No lost answers in memory: any second call is a second revocation, and refused.
    if (found.revokedAt !== undefined) return false;
    this.keys.set(keyId, { ...found, revokedAt });
    return true;
  }

  async getWorkspace(workspaceId: string): Promise<WorkspaceRecord | undefined> {
    const found = this.workspaces.get(workspaceId);
    return found && clone(found);
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return [...this.workspaces.values()]
      .sort((a, b) => a.workspaceId.localeCompare(b.workspaceId))
      .map(clone);
  }

  async putWorkspace(workspace: WorkspaceRecord): Promise<boolean> {
    if (this.workspaces.has(workspace.workspaceId)) return false;
    this.workspaces.set(workspace.workspaceId, clone(workspace));
    return true;
  }

  /** A workspace that does not exist is left absent (the adapter's update is conditional on it). */
  async setRetention(workspaceId: string, retentionDays: number): Promise<void> {
    const found = this.workspaces.get(workspaceId);
    if (found) this.workspaces.set(workspaceId, { ...found, retentionDays });
  }

  async setExportDestination(workspaceId: string, destination: ExportDestination | undefined): Promise<void> {
    const found = this.workspaces.get(workspaceId);
    if (!found) return;
    const { exportDestination: _old, ...rest } = found;
    this.workspaces.set(workspaceId, destination ? { ...rest, exportDestination: clone(destination) } : rest);
  }

  async countFailure(w: Omit<FailureWindow, "count" | "reasons"> & { reason: string }): Promise<number> {
    const k = key(w.target, w.ip, w.windowStart);
    const window = this.failures.get(k) ?? {
      target: w.target,
      reasons: {},
      count: 0,
      pending: true,
      request: requestOf(w),
    };
    // As the adapter's SET: the window keeps the request that counted last, and is pending again.
    window.request = requestOf(w);
    window.count += 1;
    window.reasons[w.reason] = (window.reasons[w.reason] ?? 0) + 1;
    window.pending = true;
    this.failures.set(k, window);
    const source = key(w.ip, w.windowStart);
    const count = (this.sources.get(source) ?? 0) + 1;
    this.sources.set(source, count);
    return count;
  }

  async sourceFailures(ip: string, windowStart: string): Promise<number> {
    return this.sourceFailureCount(ip, windowStart);
  }

  /** What an append guard reads in the same transaction as its writes (for {@link InMemoryEventStore}). */
  sourceFailureCount(ip: string, windowStart: string): number {
    return this.sources.get(key(ip, windowStart)) ?? 0;
  }

  async countRequest(
    workspaceId: string,
    window: { start: string; end: string },
    requests = 1,
  ): Promise<number> {
    const k = key(workspaceId, window.start);
    const count = (this.requests.get(k) ?? 0) + requests;
    this.requests.set(k, count);
    return count;
  }

  async pendingFailures(endedBy: string): Promise<FailureWindow[]> {
    return pending(this.failures, endedBy).map((w) => ({
      ...windowOf(w),
      target: w.target,
      reasons: { ...w.reasons },
    }));
  }

  async markFailuresFlushed(w: Pick<FailureWindow, "target" | "ip" | "windowStart">): Promise<void> {
    const found = this.failures.get(key(w.target, w.ip, w.windowStart));
    if (found) found.pending = false;
  }

  async countReach(
    r: Omit<ReachWindow, "count" | "resources"> & { resource: { type: string; id: string } },
  ): Promise<void> {
    const k = key(r.workspaceId, r.keyId, r.ip, r.windowStart);
    const window = this.reaches.get(k) ?? {
      workspaceId: r.workspaceId,
      keyId: r.keyId,
      resources: new Set<string>(),
      count: 0,
      pending: true,
      request: requestOf(r),
    };
    window.request = requestOf(r);
    window.count += 1;
    window.pending = true;
    // The resource joins the set while the set is under its cap; past it, only the count grows.
    const resource = `${r.resource.type}:${r.resource.id}`;
    if (window.resources.size < REACH_RESOURCES_MAX) window.resources.add(resource);
    this.reaches.set(k, window);
  }

  async pendingReaches(endedBy: string): Promise<ReachWindow[]> {
    return pending(this.reaches, endedBy).map((w) => ({
      ...windowOf(w),
      workspaceId: w.workspaceId,
      keyId: w.keyId,
      resources: [...w.resources].sort().map((r) => {
        const colon = r.indexOf(":");
        return { type: r.slice(0, colon), id: r.slice(colon + 1) };
      }),
    }));
  }

  async markReachesFlushed(
    w: Pick<ReachWindow, "workspaceId" | "keyId" | "ip" | "windowStart">,
  ): Promise<void> {
    const found = this.reaches.get(key(w.workspaceId, w.keyId, w.ip, w.windowStart));
    if (found) found.pending = false;
  }

  async putExportJob(job: ExportJob): Promise<boolean> {
    if (this.jobs.has(job.exportId)) return false;
    this.jobs.set(job.exportId, clone(job));
    return true;
  }

  async getExportJob(exportId: string): Promise<ExportJob | undefined> {
    const found = this.jobs.get(exportId);
    return found && clone(found);
  }

  /**
   * Replaces the job only from the revision before it; a job stored without one counts as revision
   * 0. As in the adapter, a failed condition that finds exactly this job stored counts as applied
   * (our own update, resent after its answer was lost); another worker's job differs.
   */
  async updateExportJob(job: ExportJob): Promise<boolean> {
    const found = this.jobs.get(job.exportId);
    if (!found) return false;
    if ((found.revision ?? 0) !== job.revision - 1) return asJson(found) === asJson(job);
    this.jobs.set(job.exportId, clone(job));
    return true;
  }

  async getSealedKey(workspaceId: string): Promise<Position | undefined> {
    return this.options.log?.lastKeyOf(workspaceId) as Position | undefined;
  }
}

function requestOf(w: Request): Request {
  return {
    ip: w.ip,
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    method: w.method,
    path: w.path,
    ...(w.userAgent ? { userAgent: w.userAgent } : {}),
  };
}

/** Pending windows that ended at or before `endedBy`, by window end (the adapter's index order). */
function pending<T extends Counted>(windows: Map<string, T>, endedBy: string): T[] {
  return [...windows.values()]
    .filter((w) => w.pending && w.request.windowEnd <= endedBy)
    .sort((a, b) =>
      a.request.windowEnd < b.request.windowEnd ? -1 : a.request.windowEnd > b.request.windowEnd ? 1 : 0,
    );
}

function windowOf(w: Counted) {
  return {
    ip: w.request.ip,
    windowStart: w.request.windowStart,
    windowEnd: w.request.windowEnd,
    count: w.count,
    method: w.request.method,
    path: w.request.path,
    userAgent: w.request.userAgent,
  };
}
