import * as z from "zod";

/**
 * The event catalogue: every type the platform records, with the context it must carry. Context
 * objects are loose: the listed keys are enforced, extra keys are kept. Categories come from the
 * type prefix (`pcap.download` → `pcap`).
 */
const sha256 = z
  .string()
  .regex(/^[a-f0-9]{64}$/i, "must be a hex SHA-256")
  .toLowerCase();
const nonEmpty = z.string().min(1).max(256);
/** Longest request path an `access.denied` event keeps; the gateway's is cut to this first. */
export const REQUEST_PATH_MAX_LENGTH = 2048;
const count = z.number().nonnegative().finite();
const timestamp = z.iso.datetime({ offset: true, precision: undefined });
const anyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const settingValue = z.union([anyValue, z.record(z.string(), anyValue)]);

const incident = z.looseObject({
  incidentId: nonEmpty,
  detectedAt: timestamp.optional(),
  peak: z.looseObject({ pps: count.optional(), bps: count.optional() }).optional(),
});
const pcap = z.looseObject({ captureId: nonEmpty, sha256: sha256.optional(), bytes: count.int().optional() });
const pcapWithHash = pcap.extend({ sha256 });
const fromTo = z.looseObject({ from: anyValue, to: anyValue });
const apiKey = z.looseObject({ keyId: nonEmpty });
const auth = z.looseObject({ reason: nonEmpty.optional() });
const maintenance = z.looseObject({ windowId: nonEmpty, endedBy: z.enum(["manual", "auto"]).optional() });
const alertChannel = z.looseObject({ channelId: nonEmpty, kind: nonEmpty });
const empty = z.looseObject({});

/**
 * How an event type is treated. `sourceIp` marks the security-relevant ones that must carry it.
 * `producer: "service"` marks the audit log's own events: only the service writes them, never a
 * client through POST /v1/events.
 */
interface TypeSpec {
  context: z.ZodType<Record<string, unknown>>;
  sourceIp?: "required";
  producer?: "service";
  description: string;
}

export const CATALOGUE = {
  "incident.opened": { context: incident, description: "An attack was detected and an incident opened." },
  "incident.acknowledged": { context: incident, description: "An operator acknowledged the incident." },
  "incident.resolved": { context: incident, description: "The incident ended (traffic back to baseline)." },
  "incident.closed": { context: incident, description: "An operator closed the incident manually." },
  "pcap.started": { context: pcap, description: "A packet capture started." },
  "pcap.uploaded": { context: pcapWithHash, description: "A capture file finished uploading." },
  "pcap.download": {
    context: pcapWithHash,
    sourceIp: "required",
    description: "A download link for a capture was generated.",
  },
  "node.added": { context: empty, description: "A node joined the workspace." },
  "node.renamed": { context: fromTo, description: "A node was renamed." },
  "node.removed": { context: empty, description: "A node was removed." },
  "node.config_changed": {
    context: z.looseObject({
      changes: z.array(z.looseObject({ field: nonEmpty, from: anyValue, to: anyValue })).min(1),
    }),
    description: "A node's configuration changed.",
  },
  "node.interface_changed": { context: fromTo, description: "A node's monitored interface changed." },
  "apikey.created": { context: apiKey, sourceIp: "required", description: "An API key was created." },
  "apikey.rotated": { context: apiKey, sourceIp: "required", description: "An API key was rotated." },
  "apikey.revoked": { context: apiKey, sourceIp: "required", description: "An API key was revoked." },
  "auth.login": { context: auth, sourceIp: "required", description: "A user logged in." },
  "auth.logout": { context: auth, sourceIp: "required", description: "A user logged out." },
  "auth.login_failed": { context: auth, sourceIp: "required", description: "A login attempt failed." },
  "access.denied": {
    context: z.looseObject({
      reason: nonEmpty,
      method: nonEmpty,
      path: z.string().min(1).max(REQUEST_PATH_MAX_LENGTH),
      count: count.int().min(1).optional(),
    }),
    sourceIp: "required",
    // Only the service observes these; a client posting one could forge a count or a window.
    producer: "service",
    description: "A request used an invalid API key or reached for another workspace's resource.",
  },
  "maintenance.created": { context: maintenance, description: "A maintenance window was scheduled." },
  "maintenance.started": { context: maintenance, description: "A maintenance window started." },
  "maintenance.ended": {
    context: maintenance,
    description: "A maintenance window ended (manually or automatically).",
  },
  "maintenance.cancelled": { context: maintenance, description: "A maintenance window was cancelled." },
  "config.alert_channel_added": { context: alertChannel, description: "An alert channel was added." },
  "config.alert_channel_removed": { context: alertChannel, description: "An alert channel was removed." },
  "config.threshold_changed": {
    context: z.looseObject({ name: nonEmpty, from: anyValue, to: anyValue }),
    description: "A detection threshold changed.",
  },
  "config.ioc_pattern_added": {
    context: z.looseObject({ patternId: nonEmpty }),
    description: "An indicator-of-compromise pattern was added.",
  },
  "audit.settings_changed": {
    // A scalar setting, or one made of scalars (the export destination, never with its secret).
    context: z.looseObject({ field: nonEmpty, from: settingValue, to: settingValue }),
    sourceIp: "required",
    producer: "service",
    description: "The workspace's audit log settings changed.",
  },
  "audit.exported": {
    context: z.looseObject({
      exportId: nonEmpty,
      format: nonEmpty,
      filters: z.record(z.string(), z.unknown()),
      count: count.int(),
      sha256,
    }),
    sourceIp: "required",
    producer: "service",
    description: "An on-demand export was generated.",
  },
  "audit.export_downloaded": {
    context: z.looseObject({
      exportId: nonEmpty,
      filters: z.record(z.string(), z.unknown()),
      count: count.int(),
      sha256,
    }),
    sourceIp: "required",
    producer: "service",
    description: "A download link for an export was issued.",
  },
  "audit.export_delivery_failed": {
    context: z.looseObject({
      day: nonEmpty,
      destination: z.looseObject({ bucket: nonEmpty }),
      attempts: count.int(),
      error: nonEmpty,
    }),
    producer: "service",
    description:
      "A nightly export could not be delivered to the workspace's own bucket (the built-in copy was written).",
  },
  "integrity.violation": {
    context: z.looseObject({
      /** What was found: an item changed or removed outside the write path, an event in a sealed range, a stored tile that differs. */
      kind: z.enum(["item_modified", "item_removed", "sealed_range_insert", "tile_mismatch"]),
      /** The workspace whose log it is. */
      workspace: nonEmpty,
      detail: z.string().min(1).max(2048),
    }),
    producer: "service",
    description:
      "The operator's security log: the tamper watch or the sealer found the events table or the tree changed outside the write path.",
  },
  "audit.viewer_session_created": {
    context: z.looseObject({ sessionId: nonEmpty, expiresAt: timestamp, ttlSeconds: count.int() }),
    sourceIp: "required",
    producer: "service",
    description: "A read-only viewer session for the Audit Log page was minted.",
  },
  "audit.queried": {
    context: z.looseObject({ route: nonEmpty, filters: z.record(z.string(), z.unknown()) }),
    sourceIp: "required",
    producer: "service",
    description: "Somebody read the audit log (list or get).",
  },
} as const satisfies Record<string, TypeSpec>;

export type EventType = keyof typeof CATALOGUE;
export const EVENT_TYPES = Object.keys(CATALOGUE) as [EventType, ...EventType[]];

export function categoryOf(type: string): string {
  const dot = type.indexOf(".");
  return dot === -1 ? type : type.slice(0, dot);
}

export const CATEGORIES = [...new Set(EVENT_TYPES.map(categoryOf))];

/** The catalogue's types in one category, e.g. `pcap` → pcap.started, pcap.uploaded, pcap.download. */
export function typesInCategory(category: string): EventType[] {
  return EVENT_TYPES.filter((t) => categoryOf(t) === category);
}

export function requiresSourceIp(type: EventType): boolean {
  return (CATALOGUE[type] as TypeSpec).sourceIp === "required";
}

/** Types a client may post; the rest are written only by the service itself. */
export const CLIENT_EVENT_TYPES = EVENT_TYPES.filter(
  (t) => (CATALOGUE[t] as TypeSpec).producer !== "service",
);
