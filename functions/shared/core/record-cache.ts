import type { Clock } from "../clock.js";
import type { ApiKeyRecord, ControlStore, WorkspaceRecord } from "../ports.js";

/**
 * Records read on every request, kept in the execution environment for a bounded time so that a
 * warm request skips their reads. Only records that exist are kept: a key or workspace created a
 * moment ago in another environment works at once. The bound is what a change made elsewhere can
 * take to be seen here: a revocation, a retention change.
 */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly maxEntries: number,
  ) {}

  /** The cached value (`cached: true`) or a freshly loaded one, kept when it exists. */
  async get(
    key: string,
    load: () => Promise<V | undefined>,
  ): Promise<{ value: V | undefined; cached: boolean }> {
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return { value: hit.value, cached: true };
    this.entries.delete(key);
    const value = await load();
    if (value !== undefined && this.ttlMs > 0) {
      // Oldest first out: a Map iterates in insertion order.
      if (this.entries.size >= this.maxEntries)
        this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(key, { value, until: now + this.ttlMs });
    }
    return { value, cached: false };
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** API keys and workspaces, read through a {@link TtlCache} each. */
export class RecordCache {
  private readonly keys: TtlCache<ApiKeyRecord>;
  private readonly workspaces: TtlCache<WorkspaceRecord>;

  /**
   * @param ttlSeconds how long a record is trusted without a read; 0 turns caching off.
   * @param maxEntries per kind; the oldest entry goes first.
   */
  constructor(
    private readonly control: ControlStore,
    ttlSeconds: number,
    clock: Clock,
    maxEntries = 1000,
  ) {
    this.keys = new TtlCache(ttlSeconds * 1000, clock, maxEntries);
    this.workspaces = new TtlCache(ttlSeconds * 1000, clock, maxEntries);
  }

  /**
   * The API key record. `accepts` says whether the record admits the token presented: when a
   * cached record does not (the key was rotated elsewhere since it was cached), it is read again,
   * so a new secret works at once.
   */
  async apiKey(keyId: string, accepts: (key: ApiKeyRecord) => boolean): Promise<ApiKeyRecord | undefined> {
    const load = () => this.control.getApiKey(keyId);
    const first = await this.keys.get(keyId, load);
    if (!first.cached || !first.value || accepts(first.value)) return first.value;
    this.keys.delete(keyId);
    return (await this.keys.get(keyId, load)).value;
  }

  workspace(workspaceId: string): Promise<WorkspaceRecord | undefined> {
    return this.workspaces
      .get(workspaceId, () => this.control.getWorkspace(workspaceId))
      .then((r) => r.value);
  }

  /** Forgets a key this environment changed (revoked, rotated), so its own next request reads it. */
  forgetKey(keyId: string): void {
    this.keys.delete(keyId);
  }

  forgetWorkspace(workspaceId: string): void {
    this.workspaces.delete(workspaceId);
  }
}
