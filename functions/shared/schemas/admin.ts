import * as z from "zod";

export const SCOPES = ["events:write", "events:read", "admin"] as const;
/** Grace for a rotated key's old secret: default 24 h, at most 7 days, 0 ends it at once. */
export const ROTATION_GRACE_DEFAULT_SECONDS = 86_400;
export const ROTATION_GRACE_MAX_SECONDS = 7 * 86_400;

export const createKeyBodySchema = z
  .strictObject({
    name: z.string().min(1).max(64).meta({ example: "siem-exporter" }),
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .refine((s) => new Set(s).size === s.length, { message: "must not repeat a scope" }),
  })
  .meta({ id: "CreateKeyInput" });

export const rotateKeyBodySchema = z
  .strictObject({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(ROTATION_GRACE_MAX_SECONDS)
      .default(ROTATION_GRACE_DEFAULT_SECONDS),
  })
  .meta({ id: "RotateKeyInput" });

export const apiKeySchema = z
  .object({
    keyId: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    createdAt: z.string(),
    rotatedAt: z.string().optional(),
    previousValidUntil: z
      .string()
      .optional()
      .meta({ description: "Until when the secret before the last rotation still works." }),
    revokedAt: z.string().optional(),
  })
  .meta({
    id: "ApiKey",
    description: "Key metadata. The secret is never shown again after creation or rotation.",
  });

export const apiKeyWithSecretSchema = apiKeySchema
  .extend({ token: z.string().meta({ description: "The bearer token. Shown once; store it now." }) })
  .meta({ id: "ApiKeyWithSecret" });

/** A viewer session lasts 15 minutes unless asked otherwise: at least 1, at most 60. */
export const VIEWER_SESSION_TTL = { min: 60, max: 3600, default: 900 } as const;
const viewerText = z
  .string()
  .min(1)
  .max(128)
  // The control characters (C0, DEL and C1), spelled out: a `\p{Cc}` class is beyond JSON Schema tools.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it refuses.
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, { error: "must not contain control characters" });

export const createViewerSessionBodySchema = z
  .strictObject({
    ttlSeconds: z
      .number()
      .int()
      .min(VIEWER_SESSION_TTL.min)
      .max(VIEWER_SESSION_TTL.max)
      .default(VIEWER_SESSION_TTL.default)
      .meta({ description: "How long the session works, in seconds. Default 900 (15 minutes)." }),
    viewer: z
      .strictObject({ id: viewerText, name: viewerText.optional() })
      .optional()
      .meta({
        description:
          "The person the platform's dashboard mints the session for; their reads are recorded with this id as the actor.",
        example: { id: "user-42", name: "Alice Ng" },
      }),
  })
  .meta({ id: "CreateViewerSessionInput" });

export const viewerSessionSchema = z
  .object({
    sessionId: z.string(),
    token: z.string().meta({
      description:
        "A read-only bearer token (`alv_…`) for this workspace. Pass it to the Audit Log page in the URL fragment: `/dashboard/audit#token=<token>`.",
    }),
    workspaceId: z.string(),
    scopes: z.array(z.literal("events:read")),
    expiresAt: z.string(),
    viewer: z.object({ id: z.string(), name: z.string().optional() }).optional(),
    url: z.string().meta({ description: "The Audit Log page with the token in its fragment." }),
  })
  .meta({ id: "ViewerSession" });

/**
 * Workspace ids: 1–63 of a–z, 0–9 and `-`, starting with a letter or digit. The operator log
 * (`_operator`) and a source's failure window (`_source`) can never be one.
 */
export const workspaceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
  error: "must be 1–63 of a–z, 0–9 and -, starting with a letter or digit",
});

export const createWorkspaceSchema = z.strictObject({
  workspaceId: workspaceIdSchema,
  plan: z.enum(["per-node", "enterprise"]),
  /** Default: the plan's (per-node 90, enterprise 365). */
  retentionDays: z.number().int().min(1).max(3650).optional(),
});

export const PER_NODE_RETENTION_DAYS = 90;
export const ENTERPRISE_RETENTION = { min: 30, max: 365, default: 365 } as const;

const destinationFields = {
  endpoint: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .max(512)
    .optional()
    .meta({
      description:
        "S3-compatible endpoint (https), e.g. https://s3.eu-central-1.amazonaws.com or an R2/MinIO URL. " +
        "Default: AWS S3 in `region`.",
    }),
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .default("us-east-1"),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "must be an S3 bucket name" }),
  prefix: z
    .string()
    .max(256)
    .regex(/^[\x20-\x7e]*$/, { error: "must be printable ASCII" })
    .default("")
    .meta({
      description: "Key prefix; the files land under `<prefix>exports/<workspace>/<yyyy>/<mm>/<dd>/`.",
    }),
  accessKeyId: z.string().min(1).max(256),
  forcePathStyle: z.boolean().default(false),
};

export const exportDestinationInputSchema = z
  .strictObject({
    ...destinationFields,
    secretAccessKey: z
      .string()
      .min(1)
      .max(1024)
      .meta({ description: "Stored in AWS Secrets Manager; never shown again, never logged." }),
  })
  .meta({
    id: "ExportDestinationInput",
    description: "Enterprise: a bucket of your own that receives a copy of every nightly export.",
  });

export const exportDestinationSchema = z
  .object({
    ...destinationFields,
    region: z.string(),
    prefix: z.string(),
    forcePathStyle: z.boolean(),
    updatedAt: z.string(),
  })
  .meta({ id: "ExportDestination", description: "The destination, without its secret." });

export const settingsBodySchema = z
  .strictObject({
    retentionDays: z.number().int().optional(),
    exportDestination: exportDestinationInputSchema
      .nullable()
      .optional()
      .meta({ description: "Enterprise only. `null` removes the destination." }),
  })
  .refine((b) => b.retentionDays !== undefined || b.exportDestination !== undefined, {
    error: "give retentionDays, exportDestination, or both",
  })
  .meta({
    id: "SettingsInput",
    description: "Fields left out stay as they are. retentionDays: per-node 90 only, enterprise 30–365.",
  });

export const settingsSchema = z
  .object({
    workspaceId: z.string(),
    plan: z.enum(["per-node", "enterprise"]),
    retentionDays: z.number().int(),
    retentionDaysAllowed: z.object({ min: z.number().int(), max: z.number().int() }),
    exportDestination: exportDestinationSchema.nullable(),
  })
  .meta({ id: "Settings" });
