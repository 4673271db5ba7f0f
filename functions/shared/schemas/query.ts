import * as z from "zod";
import { CATEGORIES, EVENT_TYPES } from "./catalogue.js";
import { ipSchema, timestampSchema } from "./event.js";

export const LIST_LIMIT_MAX = 1000;
export const LIST_LIMIT_DEFAULT = 100;

const typeFilter = z
  .string()
  .refine(
    (t) => (EVENT_TYPES as string[]).includes(t) || (t.endsWith(".*") && CATEGORIES.includes(t.slice(0, -2))),
    {
      message: `must be a catalogue type or a category prefix (${CATEGORIES.map((c) => `${c}.*`).join(", ")})`,
    },
  )
  .meta({ description: "An exact type, or a category prefix such as `pcap.*`.", example: "pcap.*" });

/** Filters of GET /v1/events (and, later, exports). Unknown parameters are rejected. */
export const eventFiltersSchema = z.object({
  actor: z.string().min(1).max(256).optional().meta({ description: "actor.id" }),
  type: typeFilter.optional(),
  node: z.string().min(1).max(256).optional().meta({ description: "node.id" }),
  since: timestampSchema.optional().meta({ description: "Inclusive lower bound on recordedAt." }),
  until: timestampSchema.optional().meta({ description: "Exclusive upper bound on recordedAt." }),
  outcome: z.enum(["success", "failure"]).optional(),
  sourceIp: ipSchema.optional(),
});

export const listEventsQuerySchema = eventFiltersSchema
  .extend({
    limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
    cursor: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .meta({ description: "`nextCursor` of the previous page." }),
  })
  .strict()
  .refine((q) => !q.since || !q.until || q.since < q.until, {
    message: "must be later than since",
    path: ["until"],
  });

export type EventFilters = z.output<typeof eventFiltersSchema>;
export type ListEventsQuery = z.output<typeof listEventsQuerySchema>;
