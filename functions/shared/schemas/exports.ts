import * as z from "zod";
import { EXPORT_FORMATS } from "../export-formats.js";
import { eventFiltersSchema } from "./query.js";

const day = z.iso.date({ error: "must be a UTC day, YYYY-MM-DD" });

/** Query of GET /v1/exports/nightly: an inclusive range of UTC days, at most 366. */
export const nightlyListQuerySchema = z
  .strictObject({
    from: day.optional().meta({ description: "First day (inclusive). Default: 29 days before `to`." }),
    to: day.optional().meta({ description: "Last day (inclusive). Default: yesterday (UTC)." }),
  })
  .meta({ id: "NightlyExportQuery" });

export const nightlyManifestSchema = z
  .object({
    version: z.literal(1),
    workspace: z.string(),
    day: z.string(),
    eventCount: z.number().int(),
    firstRecordedAt: z.string().nullable(),
    lastRecordedAt: z.string().nullable(),
    data: z.object({
      key: z.string(),
      sha256: z.string(),
      bytes: z.number().int(),
      encoding: z.string(),
      format: z.string(),
    }),
    eventHashes: z.object({ merkleRoot: z.string(), algorithm: z.string() }),
    previousManifestSha256: z.string().nullable(),
    retainUntil: z.string(),
    log: z
      .object({
        origin: z.string(),
        range: z.object({ start: z.number().int(), end: z.number().int() }),
        checkpoint: z.string(),
        proof: z.array(z.string()),
      })
      .nullable()
      .optional()
      .meta({
        description:
          "The day's place in the workspace's verifiable log: its events are exactly leaves [start, end) of the tree the signed checkpoint commits to, and `proof` (base64 hashes) is the range proof (docs/evidence.md). Null for a day without events; absent only in manifests written before the verifiable log.",
      }),
  })
  .meta({ id: "NightlyManifest" });

export const nightlyListSchema = z
  .object({
    exports: z.array(
      z.object({
        day: z.string(),
        manifestKey: z.string(),
        manifestSha256: z.string(),
        manifest: nightlyManifestSchema,
      }),
    ),
    missingDays: z.array(z.string()).meta({
      description:
        "Days in the range (since the workspace was created, before today) with no manifest: a gap an auditor should see.",
    }),
  })
  .meta({ id: "NightlyExportList" });

export type NightlyManifest = z.infer<typeof nightlyManifestSchema>;

/** POST /v1/exports: a format, optional gzip, and the same filters as GET /v1/events. */
export const createExportBodySchema = eventFiltersSchema
  .extend({
    format: z.enum(EXPORT_FORMATS).meta({
      description:
        "`evidence`: an evidence bundle (docs/evidence.md) of every sealed event in since–until, with their leaf indexes, the range proof and the checkpoint; always gzip. It takes no other filter: a filtered set has gaps no proof can vouch for.",
    }),
    gzip: z.boolean().default(false),
    trustedSize: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().meta({
      description:
        "Evidence bundles only: the size of a checkpoint you already hold; the bundle then carries a consistency proof from it.",
    }),
  })
  .strict()
  .refine(
    (q) =>
      q.format !== "evidence" ||
      Object.entries(q).every(
        ([k, v]) => ["format", "gzip", "since", "until", "trustedSize"].includes(k) || v === undefined,
      ),
    { message: "an evidence bundle covers a whole time range: only since and until apply", path: ["format"] },
  )
  .refine((q) => q.format === "evidence" || q.trustedSize === undefined, {
    message: "only evidence bundles take a trusted size",
    path: ["trustedSize"],
  })
  .refine((q) => !q.since || !q.until || q.since < q.until, {
    message: "must be later than since",
    path: ["until"],
  })
  .meta({ id: "CreateExportInput" });

export const exportSchema = z
  .object({
    id: z.string(),
    status: z.enum(["pending", "running", "ready", "failed"]),
    format: z.enum(EXPORT_FORMATS),
    gzip: z.boolean(),
    filters: z.record(z.string(), z.string()),
    createdAt: z.string(),
    finishedAt: z.string().optional(),
    eventCount: z.number().int().optional(),
    bytes: z.number().int().optional(),
    sha256: z.string().optional().meta({ description: "SHA-256 of the file as downloaded." }),
    url: z
      .string()
      .optional()
      .meta({ description: "Presigned GET, valid 10 minutes; a new one on every GET once ready." }),
    error: z.string().optional(),
  })
  .meta({ id: "Export" });
