import type { LogState, LogStore, Position } from "../../../functions/shared/ports.js";

const copy = (state: LogState): LogState => ({
  ...state,
  compact: state.compact.map((h) => Buffer.from(h)),
  root: Buffer.from(state.root),
});

/**
 * The verifiable log's state and tile anchors in memory. Same semantics as the DynamoDB adapter,
 * pinned by test/contract/log-store.ts: the state is replaced only from the revision before it,
 * and an anchor, once written, never moves.
 */
export class InMemoryLogStore implements LogStore {
  private readonly states = new Map<string, LogState>();
  /** Per workspace: firstKey → tile. */
  private readonly anchors = new Map<string, Map<string, number>>();

  async getState(workspaceId: string): Promise<LogState | undefined> {
    const found = this.states.get(workspaceId);
    return found && copy(found);
  }

  async putState(state: LogState): Promise<boolean> {
    const stored = this.states.get(state.workspaceId);
    const fits = state.revision === 1 ? stored === undefined : stored?.revision === state.revision - 1;
    if (!fits) return false;
    this.states.set(state.workspaceId, copy(state));
    return true;
  }

  async putAnchor(workspaceId: string, tile: number, firstKey: Position): Promise<void> {
    const anchors = this.anchors.get(workspaceId) ?? new Map<string, number>();
    this.anchors.set(workspaceId, anchors);
    if (!anchors.has(firstKey)) anchors.set(firstKey, tile);
  }

  async anchorAtOrBefore(
    workspaceId: string,
    key: Position,
  ): Promise<{ tile: number; firstKey: Position } | undefined> {
    let best: { tile: number; firstKey: Position } | undefined;
    for (const [firstKey, tile] of this.anchors.get(workspaceId) ?? []) {
      if (firstKey <= key && (!best || firstKey > best.firstKey))
        best = { tile, firstKey: firstKey as Position };
    }
    return best;
  }

  /** The state's lastKey, as the control store's getSealedKey reads it from the same table item. */
  lastKeyOf(workspaceId: string): Position | "" | undefined {
    return this.states.get(workspaceId)?.lastKey;
  }
}
