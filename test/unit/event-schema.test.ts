import { describe, expect, it } from "vitest";
import {
  CLIENT_EVENT_TYPES,
  EVENT_TYPES,
  requiresSourceIp,
  typesInCategory,
} from "../../functions/shared/schemas/catalogue.js";
import {
  eventInputSchema,
  normalizeIp,
  postEventsRequestSchema,
} from "../../functions/shared/schemas/event.js";

const base = { actor: { type: "user", id: "alice" } };

describe("IP normalisation", () => {
  it.each([
    ["203.0.113.42", "203.0.113.42"],
    ["2001:DB8:0:0::0:1", "2001:db8::1"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["::1", "::1"],
  ])("%s → %s", (input, expected) => expect(normalizeIp(input)).toBe(expected));

  it.each(["300.1.2.3", "01.2.3.4", "1.2.3", "fe80::1%eth0", "example.com", ""])("rejects %j", (input) =>
    expect(normalizeIp(input)).toBeUndefined(),
  );
});

describe("event input", () => {
  it("covers every type the product page names", () => {
    expect(EVENT_TYPES).toHaveLength(34);
    expect(CLIENT_EVENT_TYPES).toHaveLength(26);
    expect(EVENT_TYPES.filter((t) => !CLIENT_EVENT_TYPES.includes(t))).toEqual([
      "access.denied",
      "audit.settings_changed",
      "audit.exported",
      "audit.export_downloaded",
      "audit.export_delivery_failed",
      "integrity.violation",
      "audit.viewer_session_created",
      "audit.queried",
    ]);
    expect(typesInCategory("pcap")).toEqual(["pcap.started", "pcap.uploaded", "pcap.download"]);
  });

  it("requires the source IP on key, auth, access and download events only", () => {
    const needing = EVENT_TYPES.filter(requiresSourceIp);
    expect(needing).toEqual([
      "pcap.download",
      "apikey.created",
      "apikey.rotated",
      "apikey.revoked",
      "auth.login",
      "auth.logout",
      "auth.login_failed",
      "access.denied",
      "audit.settings_changed",
      "audit.exported",
      "audit.export_downloaded",
      "audit.viewer_session_created",
      "audit.queried",
    ]);
  });

  it("applies defaults and keeps extra context keys", () => {
    const parsed = eventInputSchema.parse({
      ...base,
      type: "node.renamed",
      context: { from: "a", to: "b", ticket: "OPS-1" },
    });
    expect(parsed).toEqual({
      ...base,
      type: "node.renamed",
      outcome: "success",
      context: { from: "a", to: "b", ticket: "OPS-1" },
    });
  });

  it("normalises occurredAt to UTC with milliseconds", () => {
    const parsed = eventInputSchema.parse({
      ...base,
      type: "node.added",
      occurredAt: "2026-03-09T11:44:19+02:00",
    });
    expect(parsed.occurredAt).toBe("2026-03-09T09:44:19.000Z");
  });

  it("requires sha256 on pcap.uploaded and pcap.download but not on pcap.started", () => {
    expect(
      eventInputSchema.safeParse({ ...base, type: "pcap.started", context: { captureId: "c" } }).success,
    ).toBe(true);
    const uploaded = eventInputSchema.safeParse({
      ...base,
      type: "pcap.uploaded",
      context: { captureId: "c" },
    });
    expect(uploaded.success).toBe(false);
    expect(uploaded.error?.issues.map((i) => i.path.join("."))).toEqual(["context.sha256"]);
  });

  it("requires a non-empty change list on node.config_changed", () => {
    const res = eventInputSchema.safeParse({
      ...base,
      type: "node.config_changed",
      context: { changes: [] },
    });
    expect(res.error?.issues.map((i) => i.path.join("."))).toEqual(["context.changes"]);
  });

  it("refuses the service's own audit.* types from clients", () => {
    const res = eventInputSchema.safeParse({
      ...base,
      type: "audit.queried",
      sourceIp: "203.0.113.1",
      context: { route: "list", filters: {} },
    });
    expect(res.error?.issues[0]?.path).toEqual(["type"]);
  });

  it("dispatches a body with `events` to the batch schema, and reports each failure against its own shape", () => {
    const event = { type: "node.added", actor: { type: "user", id: "alice" } };
    expect(postEventsRequestSchema.parse({ events: [event] })).toMatchObject({
      batch: true,
      events: [event],
    });
    expect(postEventsRequestSchema.parse(event)).toMatchObject({ batch: false, events: [event] });
    expect(postEventsRequestSchema.safeParse({ events: [] }).error?.issues[0]?.path).toEqual(["events"]);
    expect(
      postEventsRequestSchema.safeParse({ events: [{ ...event, type: "x" }] }).error?.issues[0]?.path,
    ).toEqual(["events", 0, "type"]);
    expect(postEventsRequestSchema.safeParse({ type: "node.added" }).error?.issues[0]?.path).toEqual([
      "actor",
    ]);
  });
});
