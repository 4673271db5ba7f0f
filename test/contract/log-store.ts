import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ControlStore, LogState, LogStore, Position } from "../../functions/shared/ports.js";
import { Keys } from "../../functions/shared/table.js";
import { at } from "./events.js";

/** One LogStore under test, and the control store that reads the same state (getSealedKey). */
export interface LogStoreSubject {
  log: LogStore;
  control: ControlStore;
  /** A workspace id no other test uses. */
  workspace(label: string): string;
  cleanup(): Promise<void>;
}

/** A position as the event store makes them (the contract only compares and hands them back). */
const position = (minute: number, id: string) => Keys.eventSk(at(minute), id) as Position;

const hash = (byte: number) => Buffer.alloc(32, byte);

function state(workspaceId: string, revision: number, size: number, lastKey: Position | ""): LogState {
  return {
    workspaceId,
    size,
    compact: Array.from({ length: Math.min(size, 3) }, (_, i) => hash(revision * 16 + i)),
    root: hash(0xa0 + revision),
    lastKey,
    checkpoint: `audit.example/log/${workspaceId}\n${size}\nroot-${revision}\n\n— sig\n`,
    checkpointAt: at(revision),
    revision,
  };
}

/**
 * The LogStore port's documented behaviour (functions/shared/ports.ts): the sealer's state replaced
 * only from the revision before it, write-once anchors and the greatest one at or before a
 * position, and the control store's getSealedKey reading the state's lastKey.
 */
export function logStoreContract(name: string, factory: () => Promise<LogStoreSubject>): void {
  describe(`LogStore contract: ${name}`, () => {
    let s: LogStoreSubject;
    beforeEach(async () => {
      s = await factory();
    });
    afterEach(async () => {
      await s.cleanup();
    });

    it("stores the first state only where there is none, then each next one only from the revision before it", async () => {
      // Prepare
      const ws = s.workspace("log-occ");
      const first = state(ws, 1, 1, position(0, "e0"));
      const second = state(ws, 2, 3, position(2, "e2"));

      // Act
      const outcomes = [
        await s.log.putState(state(ws, 2, 1, position(0, "e0"))),
        await s.log.putState(first),
        await s.log.putState(state(ws, 1, 9, position(9, "rival"))),
        await s.log.putState(state(ws, 3, 5, position(4, "e4"))),
        await s.log.putState(second),
        await s.log.putState(state(ws, 2, 4, position(3, "rival"))),
      ];

      // Assert
      expect(outcomes).toEqual([false, true, false, false, true, false]);
      expect(await s.log.getState(ws)).toEqual(second);
      expect(await s.log.getState(s.workspace("log-none"))).toBeUndefined();
    });

    it("gives the state back byte for byte, hashes as Buffers, and another workspace's state apart", async () => {
      // Prepare
      const [a, b] = [s.workspace("log-a"), s.workspace("log-b")];
      if (!a || !b) throw new Error("two workspaces expected");
      const stateA = state(a, 1, 3, position(1, "a1"));
      await s.log.putState(stateA);
      await s.log.putState(state(b, 1, 1, position(5, "b5")));

      // Act
      const read = await s.log.getState(a);

      // Assert
      expect(read).toEqual(stateA);
      expect(read?.root).toBeInstanceOf(Buffer);
      expect(read?.compact.map((h) => h.toString("hex"))).toEqual(
        stateA.compact.map((h) => h.toString("hex")),
      );
      expect((await s.log.getState(b))?.lastKey).toBe(position(5, "b5"));
    });

    it("getSealedKey is the lastKey of the stored state, and undefined while there is none", async () => {
      // Prepare
      const ws = s.workspace("log-sealed");
      const before = await s.control.getSealedKey(ws);
      await s.log.putState(state(ws, 1, 1, position(0, "e0")));
      const afterFirst = await s.control.getSealedKey(ws);

      // Act
      await s.log.putState(state(ws, 2, 2, position(1, "e1")));

      // Assert
      expect(before).toBeUndefined();
      expect(afterFirst).toBe(position(0, "e0"));
      expect(await s.control.getSealedKey(ws)).toBe(position(1, "e1"));
    });

    it("writes an anchor once: a second one at the same first key leaves the first", async () => {
      // Prepare
      const ws = s.workspace("log-anchor-once");
      await s.log.putAnchor(ws, 1, position(10, "e256"));

      // Act
      await s.log.putAnchor(ws, 7, position(10, "e256"));
      await s.log.putAnchor(ws, 3, position(10, "e256"));

      // Assert
      expect(await s.log.anchorAtOrBefore(ws, position(10, "e256"))).toEqual({
        tile: 1,
        firstKey: position(10, "e256"),
      });
    });

    it("finds the anchor with the greatest first key at or before a position, in its workspace only", async () => {
      // Prepare
      const ws = s.workspace("log-anchors");
      const other = s.workspace("log-anchors-other");
      await s.log.putAnchor(ws, 2, position(20, "e512"));
      await s.log.putAnchor(ws, 0, position(0, "e0"));
      await s.log.putAnchor(ws, 1, position(10, "e256"));
      await s.log.putAnchor(other, 9, position(15, "x"));

      // Act
      const found = await Promise.all(
        [
          position(0, "e0"),
          position(5, "e100"),
          position(10, "e256"),
          position(10, "e257"),
          position(19, "e511"),
          position(30, "e700"),
        ].map((p) => s.log.anchorAtOrBefore(ws, p)),
      );

      // Assert
      expect(found.map((a) => a?.tile)).toEqual([0, 0, 1, 1, 1, 2]);
      expect(found[3]).toEqual({ tile: 1, firstKey: position(10, "e256") });
      expect(await s.log.anchorAtOrBefore(ws, "0" as Position)).toBeUndefined();
      expect(await s.log.anchorAtOrBefore(other, position(14, "x"))).toBeUndefined();
      expect(
        await s.log.anchorAtOrBefore(s.workspace("log-anchors-none"), position(30, "x")),
      ).toBeUndefined();
    });
  });
}
