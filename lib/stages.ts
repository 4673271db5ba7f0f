import { RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";

/**
 * Every per-environment setting of the stack, in one typed table. `bin/app.ts` picks a row by the
 * `stage` context value; constructs never branch on the stage name themselves, they read a field.
 */
export const STAGE_NAMES = ["dev", "staging", "prod"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface StageConfig {
  readonly name: StageName;
  /**
   * Applied to every data resource: both tables, both buckets, the table key, the cursor secret and
   * every log group. prod keeps all of them when the stack is deleted.
   */
  readonly removalPolicy: RemovalPolicy;
  /** CloudFormation termination protection on the stack itself. */
  readonly terminationProtection: boolean;
  /**
   * DynamoDB deletion protection on both tables. Off in dev only, so that a throwaway dev stack can
   * be destroyed; staging and prod refuse DeleteTable until an operator turns it off by hand.
   */
  readonly tableDeletionProtection: boolean;
  /**
   * Default Object Lock retention, COMPLIANCE mode, for every export object. Nobody (root included)
   * can shorten it or delete a locked object version before it ends, so dev keeps it at one day.
   */
  readonly objectLockDays: number;
  /**
   * Lifecycle expiry for export objects, in days after creation. Leave unset to keep exports for
   * ever; dev sets it so that its bucket empties itself once the short lock has passed.
   */
  readonly exportExpirationDays?: number;
  /** Event retention (DynamoDB TTL) for a workspace without its own setting: `DEFAULT_RETENTION_DAYS`. */
  readonly defaultRetentionDays: number;
  /** Retention of the Lambda function log groups. */
  readonly functionLogRetention: RetentionDays;
  /** Retention of the API access log group: who called what, from which IP. */
  readonly apiAccessLogRetention: RetentionDays;
  /** Lifecycle expiry of the S3 server access logs of the export bucket, in days. */
  readonly s3AccessLogExpirationDays: number;
  /** Default route throttling of the HTTP API stage (requests per second, and burst). */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * One workspace's share of that: authenticated requests a second, averaged over 10 s, beyond
   * which the service answers it 429 (`WORKSPACE_RATE_LIMIT`, functions/shared/core/throttle.ts).
   */
  readonly workspaceRateLimit: number;
  /** Browser origins allowed by CORS. Empty means no CORS preflight configuration at all. */
  readonly corsAllowOrigins: readonly string[];
  /** Email address subscribed to the alarm topic; `-c alarmEmail=...` overrides it. */
  readonly alarmEmail?: string;
  /** `POWERTOOLS_LOG_LEVEL` of every function. */
  readonly logLevel: "DEBUG" | "INFO" | "WARN" | "ERROR";
}

export const STAGES: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    name: "dev",
    removalPolicy: RemovalPolicy.DESTROY,
    terminationProtection: false,
    tableDeletionProtection: false,
    objectLockDays: 1,
    exportExpirationDays: 2,
    defaultRetentionDays: 7,
    functionLogRetention: RetentionDays.ONE_WEEK,
    apiAccessLogRetention: RetentionDays.ONE_MONTH,
    s3AccessLogExpirationDays: 30,
    throttle: { rateLimit: 50, burstLimit: 100 },
    workspaceRateLimit: 25,
    corsAllowOrigins: ["http://localhost:3000"],
    logLevel: "DEBUG",
  },
  staging: {
    name: "staging",
    removalPolicy: RemovalPolicy.RETAIN,
    terminationProtection: false,
    tableDeletionProtection: true,
    objectLockDays: 30,
    defaultRetentionDays: 30,
    functionLogRetention: RetentionDays.ONE_MONTH,
    apiAccessLogRetention: RetentionDays.THREE_MONTHS,
    s3AccessLogExpirationDays: 90,
    throttle: { rateLimit: 200, burstLimit: 400 },
    workspaceRateLimit: 100,
    // Placeholder origin: replace with the staging console's real origin.
    corsAllowOrigins: ["https://audit.staging.example.com"],
    logLevel: "INFO",
  },
  prod: {
    name: "prod",
    removalPolicy: RemovalPolicy.RETAIN,
    terminationProtection: true,
    tableDeletionProtection: true,
    objectLockDays: 365,
    defaultRetentionDays: 90,
    functionLogRetention: RetentionDays.THREE_MONTHS,
    // Access logs answer "who read what": keep them as long as the longest event retention.
    apiAccessLogRetention: RetentionDays.ONE_YEAR,
    s3AccessLogExpirationDays: 400,
    // One workspace must sustain 1,000 events/s; batches carry many events per request.
    throttle: { rateLimit: 2000, burstLimit: 4000 },
    workspaceRateLimit: 500,
    // Placeholder origin: replace with the production console's real origin.
    corsAllowOrigins: ["https://audit.example.com"],
    logLevel: "INFO",
  },
};

/** Type guard for the `stage` context value. */
export function isStageName(value: unknown): value is StageName {
  return typeof value === "string" && (STAGE_NAMES as readonly string[]).includes(value);
}

/**
 * Resolves the `stage` context value to its configuration, failing with the list of valid stages
 * rather than silently deploying the wrong environment.
 *
 * @param value the raw context value; `undefined` selects dev
 * @param overrides per-deploy values that do not belong in source control (the alarm email)
 */
export function stageConfig(value: unknown, overrides: { alarmEmail?: string } = {}): StageConfig {
  const name = value ?? "dev";
  if (!isStageName(name)) {
    throw new Error(`unknown stage ${JSON.stringify(name)}: use -c stage=${STAGE_NAMES.join("|")}`);
  }
  const base = STAGES[name];
  return overrides.alarmEmail ? { ...base, alarmEmail: overrides.alarmEmail } : base;
}
