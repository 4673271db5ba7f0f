import * as z from "zod";

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
