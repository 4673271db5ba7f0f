import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { buildEvent, contentHashOf } from "../../functions/shared/core/events.js";
import { openCursor, sealCursor } from "../../functions/shared/cursor.js";
import { ValidationError } from "../../functions/shared/errors.js";
import type { Position } from "../../functions/shared/ports.js";
import { eventInputSchema } from "../../functions/shared/schemas/event.js";

describe("RFC 8785 canonical JSON", () => {
  it("sorts keys and formats numbers as ECMAScript does", () => {
    expect(canonicalJson({ b: [1e21, 0.1, -0], a: { z: true, "\u00e9": null } })).toBe(
      '{"a":{"z":true,"é":null},"b":[1e+21,0.1,0]}',
    );
  });
});

describe("stored event hash", () => {
  const input = eventInputSchema.parse({
    type: "incident.opened",
    actor: { type: "system", id: "system" },
    context: { incidentId: "a3f7c2b1" },
  });

  it("is the SHA-256 of the canonical JSON of everything but the hash", () => {
    const event = buildEvent(input, "e1", "2026-03-09T09:44:19.000Z");
    const { hash, ...rest } = event;
    expect(hash).toBe(sha256Hex(canonicalJson(rest)));
    expect(rest).toEqual({
      id: "e1",
      type: "incident.opened",
      category: "incident",
      recordedAt: "2026-03-09T09:44:19.000Z",
      occurredAt: "2026-03-09T09:44:19.000Z",
      actor: { type: "system", id: "system" },
      outcome: "success",
      context: { incidentId: "a3f7c2b1" },
    });
  });

  it("changes when any field changes", () => {
    const a = buildEvent(input, "e1", "2026-03-09T09:44:19.000Z");
    const b = buildEvent(input, "e1", "2026-03-09T09:44:19.001Z");
    const c = buildEvent({ ...input, outcome: "failure" }, "e1", "2026-03-09T09:44:19.000Z");
    expect(new Set([a.hash, b.hash, c.hash]).size).toBe(3);
  });

  it("content hash ignores the id and key order, not the content", () => {
    const reordered = eventInputSchema.parse({
      context: { incidentId: "a3f7c2b1" },
      actor: { id: "system", type: "system" },
      type: "incident.opened",
      id: "x",
    });
    expect(contentHashOf(reordered)).toBe(contentHashOf(input));
    expect(contentHashOf({ ...input, outcome: "failure" })).not.toBe(contentHashOf(input));
  });
});

describe("cursors", () => {
  const key = Buffer.from("k".repeat(32));
  const filters = { type: "pcap.*" };

  it("round-trip for the same workspace and query", () => {
    const cursor = sealCursor(key, "ws1", filters, "2026-03-09T09:44:19.000Z#e1" as Position);
    expect(openCursor(key, "ws1", { type: "pcap.*" }, cursor)).toBe("2026-03-09T09:44:19.000Z#e1");
  });

  it.each([
    ["another workspace", (c: string) => openCursor(key, "ws2", filters, c)],
    ["another query", (c: string) => openCursor(key, "ws1", { type: "node.*" }, c)],
    ["another key", (c: string) => openCursor(Buffer.from("x".repeat(32)), "ws1", filters, c)],
    ["a flipped byte", (c: string) => openCursor(key, "ws1", filters, `A${c.slice(1)}`)],
    ["garbage", () => openCursor(key, "ws1", filters, "not-a-cursor")],
  ])("are refused for %s", (_name, open) => {
    const cursor = sealCursor(key, "ws1", filters, "2026-03-09T09:44:19.000Z#e1" as Position);
    expect(() => open(cursor)).toThrow(ValidationError);
  });
});
