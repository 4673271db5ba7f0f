import { isIP } from "node:net";
import * as z from "zod";
import { CATALOGUE, CLIENT_EVENT_TYPES, EVENT_TYPES, type EventType, requiresSourceIp } from "./catalogue.js";

/** Limits on an event's context object. */
export const CONTEXT_MAX_BYTES = 16 * 1024;
export const CONTEXT_MAX_DEPTH = 6;
/** Events in one `{"events": [...]}` batch. */
export const BATCH_MAX = 100;
/** Longest User-Agent an event keeps; the gateway's is cut to this before anything stores it. */
export const USER_AGENT_MAX_LENGTH = 1024;

export const eventIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1–128 characters of A–Z a–z 0–9 . _ : -")
  .meta({
    description: "Idempotency key. The server makes a ULID when it is absent.",
    example: "01JNX6Q3ZV8K4T2C9W5R7M1B0D",
  });

/**
 * The service's own fixed event ids (one access.denied per failure window, one audit.exported per
 * export, …) start with this, which no client id may: a client can neither forge one of them nor
 * take it first and make the service's write a conflict.
 */
export const SERVICE_EVENT_ID_PREFIX = "~";

/** Any stored event's id: a client's, or the service's own. */
export const storedEventIdSchema = z
  .string()
  .regex(/^~?[A-Za-z0-9._:-]{1,128}$/, "must be an event id")
  .meta({
    description:
      "An event id: the producer's, or one the service made (ULIDs, and its own fixed ids starting with `~`).",
    example: "01JNX6Q3ZV8K4T2C9W5R7M1B0D",
  });

/** IPv4 or IPv6, normalised: IPv6 lowercased and compressed, IPv4-mapped IPv6 unwrapped to IPv4. */
export function normalizeIp(input: string): string | undefined {
  const version = isIP(input);
  if (version === 4) return input;
  if (version !== 6 || input.includes("%")) return undefined;
  const host = new URL(`http://[${input}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] ?? "0", 16);
    const lo = Number.parseInt(mapped[2] ?? "0", 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return host;
}

export const ipSchema = z
  .string()
  .max(64)
  .transform((value, ctx) => {
    const ip = normalizeIp(value);
    if (ip === undefined) {
      ctx.addIssue({ code: "custom", message: "must be an IPv4 or IPv6 address" });
      return z.NEVER;
    }
    return ip;
  })
  .meta({ description: "IPv4 or IPv6 address; stored normalised.", example: "203.0.113.42" });

/** ISO 8601 with an explicit offset (`Z` or `+02:00`); stored as UTC with milliseconds. */
export const timestampSchema = z.iso
  .datetime({ offset: true, error: "must be ISO 8601 with a UTC offset, e.g. 2026-03-09T09:44:19Z" })
  .transform((v, ctx) => {
    const utc = new Date(v).toISOString();
    // 9999-12-31T23:59:59-01:00 is year 10000 in UTC, `+010000-…`, which sorts before `2…`.
    if (!/^\d{4}-/.test(utc)) {
      ctx.addIssue({ code: "custom", message: "must fall in the years 0000–9999 in UTC" });
      return z.NEVER;
    }
    return utc;
  })
  .meta({
    description: "ISO 8601 with an offset; returned as UTC with milliseconds.",
    example: "2026-03-09T09:44:19.000Z",
  });

function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

/** Shared bounds on every context object: ≤ 16 KB of JSON, nesting depth ≤ 6. */
function bounded<T extends z.ZodType<Record<string, unknown>>>(schema: T) {
  return schema.prefault({} as z.input<T>).superRefine((value, ctx) => {
    if (Buffer.byteLength(JSON.stringify(value)) > CONTEXT_MAX_BYTES) {
      ctx.addIssue({ code: "custom", message: `must be at most ${CONTEXT_MAX_BYTES} bytes of JSON` });
    }
    if (depthOf(value) > CONTEXT_MAX_DEPTH) {
      ctx.addIssue({ code: "custom", message: `must nest at most ${CONTEXT_MAX_DEPTH} levels deep` });
    }
  });
}

export const actorSchema = z
  .strictObject({
    type: z.enum(["user", "system", "service", "api_key"]),
    id: z.string().min(1).max(256),
    name: z.string().min(1).max(256).optional(),
  })
  .meta({ id: "Actor", description: "Who did it. System-generated events use type `system`." });

export const nodeSchema = z
  .strictObject({ id: z.string().min(1).max(256), name: z.string().min(1).max(256).optional() })
  .meta({ id: "Node", example: { id: "nyc-edge-01" } });

export const resourceSchema = z
  .strictObject({ type: z.string().min(1).max(64), id: z.string().min(1).max(256) })
  .meta({ id: "Resource", example: { type: "incident", id: "a3f7c2b1" } });

const commonFields = {
  id: eventIdSchema.optional(),
  occurredAt: timestampSchema.optional().meta({
    description:
      "When it happened, by the producer's clock. Default: recordedAt. At most 5 min after recordedAt and 7 days before it.",
  }),
  actor: actorSchema,
  node: nodeSchema.optional(),
  resource: resourceSchema.optional(),
  sourceIp: ipSchema.optional(),
  userAgent: z.string().min(1).max(USER_AGENT_MAX_LENGTH).optional(),
  outcome: z.enum(["success", "failure"]).default("success"),
};

function variant<T extends EventType>(type: T) {
  const spec = CATALOGUE[type];
  return z
    .strictObject({
      ...commonFields,
      type: z.literal(type),
      ...(requiresSourceIp(type) ? { sourceIp: ipSchema } : {}),
      context: bounded(spec.context as z.ZodType<Record<string, unknown>>),
    })
    .meta({ id: `EventInput_${type.replace(".", "_")}`, description: spec.description });
}

function inputUnion(types: EventType[]) {
  const variants = types.map(variant) as unknown as [
    ReturnType<typeof variant>,
    ...ReturnType<typeof variant>[],
  ];
  return z.discriminatedUnion("type", variants, {
    error: (issue) =>
      issue.code === "invalid_union" ? `must be a catalogue type (${types.join(", ")})` : undefined,
  });
}

/**
 * One event as a producer posts it. Unknown top-level fields are rejected (the workspace, in
 * particular, always comes from the API key), and so are the service's own `audit.*` types.
 */
export const eventInputSchema = inputUnion(CLIENT_EVENT_TYPES).meta({ id: "EventInput" });

/** Any catalogue event, the service's own included: what the service validates before it records. */
export const serviceEventInputSchema = inputUnion(EVENT_TYPES);

export type EventInput = z.output<typeof serviceEventInputSchema>;

export const batchInputSchema = z
  .strictObject({ events: z.array(eventInputSchema).min(1).max(BATCH_MAX) })
  .meta({
    id: "EventBatchInput",
    description: `1–${BATCH_MAX} events, validated whole: one bad item writes nothing.`,
  });

/** The body of POST /v1/events: one event, or `{"events": [...]}` (documentation; parsing dispatches). */
export const postEventsBodySchema = z.union([eventInputSchema, batchInputSchema]);

/**
 * The body of POST /v1/events as the route validates it: one event or a batch, told apart by an
 * `events` member, so each failure is reported against its own shape (a union would report both).
 * Gives `{ batch, events }`.
 */
export const postEventsRequestSchema = z.unknown().transform((body, ctx) => {
  const isBatch = typeof body === "object" && body !== null && !Array.isArray(body) && "events" in body;
  const parsed = isBatch ? batchInputSchema.safeParse(body) : eventInputSchema.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, input: undefined } as never);
    return z.NEVER;
  }
  return isBatch
    ? { batch: true as const, events: (parsed.data as z.output<typeof batchInputSchema>).events }
    : { batch: false as const, events: [parsed.data as EventInput] };
});

export type PostEventsRequest = z.output<typeof postEventsRequestSchema>;

/** An event as stored and returned. `hash` is the SHA-256 of the RFC 8785 JSON of the rest. */
export const storedEventSchema = z
  .object({
    id: z.string(),
    type: z.enum(EVENT_TYPES),
    category: z.string(),
    recordedAt: z.string().meta({ description: "Server clock at write time (UTC, ms). Orders the log." }),
    occurredAt: z.string(),
    actor: actorSchema,
    node: nodeSchema.optional(),
    resource: resourceSchema.optional(),
    sourceIp: z.string().optional(),
    userAgent: z.string().optional(),
    outcome: z.enum(["success", "failure"]),
    context: z.record(z.string(), z.unknown()),
    hash: z.string().regex(/^[a-f0-9]{64}$/),
  })
  .meta({ id: "Event" });

export type StoredEvent = z.infer<typeof storedEventSchema>;

const FIELD_ORDER = Object.keys(storedEventSchema.shape) as (keyof StoredEvent)[];

/** The fields of a stored event in one fixed order (the schema's), for responses and exports. */
export function inFieldOrder(event: Record<string, unknown>): StoredEvent {
  const out: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) if (event[key] !== undefined) out[key] = event[key];
  return out as StoredEvent;
}
