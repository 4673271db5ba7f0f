import * as z from "zod";

/**
 * Runtime configuration, parsed once from `process.env` at cold start: a missing variable fails the
 * init, not the first request. The CDK stack sets these names; the local runtime and the tests set
 * the same names (plus `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_DYNAMODB`, which the AWS SDK reads
 * by itself, to reach moto and Dynoxide).
 */
/** The cursor HMAC key's shortest acceptable length, in bytes (SHA-256's block of security: 256 bits). */
export const CURSOR_KEY_MIN_BYTES = 32;

export const configSchema = z
  .object({
    EVENTS_TABLE: z.string().min(1),
    CONTROL_TABLE: z.string().min(1),
    /** Secrets Manager id of the HMAC key that seals paging cursors (deployed stacks). */
    CURSOR_SECRET_ID: z.string().min(1).optional(),
    /** The HMAC key itself (local runs, tests). One of the two is required. */
    CURSOR_SECRET: z.string().min(CURSOR_KEY_MIN_BYTES).optional(),
    /** Retention for a workspace that has no setting of its own. @default 90 */
    DEFAULT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    /** SQS queue that hands on-demand exports to the export worker. */
    EXPORT_QUEUE_URL: z.string().min(1).optional(),
    /** Bucket with Object Lock that receives the nightly exports. */
    EXPORT_BUCKET: z.string().min(1).optional(),
    /**
     * Secrets Manager name prefix of customers' export-destination credentials
     * (`destinationSecretPrefix(stage)` in table.ts); set for the settings and nightly-export functions.
     */
    DESTINATION_SECRET_PREFIX: z.string().min(1).optional(),
    /**
     * Allow `http://` customer destinations (the local runtime, whose "customer" bucket is moto).
     * Deployed stacks accept only https endpoints.
     */
    ALLOW_HTTP_DESTINATIONS: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    /**
     * How long API key and workspace records are trusted without a read, per execution
     * environment. A revocation or retention change made elsewhere takes effect within it.
     * @default 60 (the most allowed); 0 reads them on every request
     */
    RECORD_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(60),
    /**
     * Authenticated requests a second each workspace may make, averaged over 10 s
     * (`WorkspaceRateLimit`); beyond it, 429. The stage sets its share of the API's throttle.
     * @default 200; 0 turns the limit off (benchmarks)
     */
    WORKSPACE_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(200),
    /**
     * KMS key (id, ARN or alias) that signs the verifiable log's checkpoints: ECC_NIST_P256,
     * SIGN_VERIFY. Set for the sealer and the log routes.
     */
    LOG_SIGNING_KEY_ID: z.string().min(1).optional(),
    /**
     * The stage's log name: the signing key's name in notes and the prefix of every workspace's
     * origin (`<LOG_NAME>/<workspace>`). No spaces or `+` (c2sp.org/signed-note).
     */
    LOG_NAME: z
      .string()
      .regex(/^[^\s+]+$/, "no spaces or + (a signed-note key name)")
      .optional(),
    /** Path-style S3 addressing, needed for moto and most S3-compatible endpoints. */
    S3_FORCE_PATH_STYLE: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
  })
  .refine((c) => c.CURSOR_SECRET_ID !== undefined || c.CURSOR_SECRET !== undefined, {
    message: "set CURSOR_SECRET_ID (deployed) or CURSOR_SECRET (local)",
    path: ["CURSOR_SECRET_ID"],
  });

export type Config = z.infer<typeof configSchema>;

/** Parses the environment; throws a readable error naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}
