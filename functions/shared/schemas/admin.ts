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

export const PER_NODE_RETENTION_DAYS = 90;
export const ENTERPRISE_RETENTION = { min: 30, max: 365, default: 365 } as const;

export const settingsBodySchema = z
  .strictObject({ retentionDays: z.number().int() })
  .meta({ id: "SettingsInput", description: "per-node: 90 only. enterprise: 30–365." });

export const settingsSchema = z
  .object({
    workspaceId: z.string(),
    plan: z.enum(["per-node", "enterprise"]),
    retentionDays: z.number().int(),
    retentionDaysAllowed: z.object({ min: z.number().int(), max: z.number().int() }),
  })
  .meta({ id: "Settings" });
