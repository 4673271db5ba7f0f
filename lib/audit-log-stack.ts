import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, Stack, type StackProps, Tags, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { Config } from "../functions/shared/config.js";
import { FAILURE_FLUSH_BACKLOG, FAILURE_FLUSH_FAILED } from "../functions/shared/core/access.js";
import { SEALER_RUN } from "../functions/shared/core/log.js";
import { INTEGRITY_VIOLATION } from "../functions/shared/core/tamper-watch.js";
import { Metric, REJECTION_REASON } from "../functions/shared/metrics.js";
import {
  descriptionOf,
  type Needs,
  needsOf,
  QUEUE_WORKERS,
  ROUTES,
  SCHEDULED_HANDLERS,
  SCHEDULES,
} from "../functions/shared/routes.js";
import { checkpointKeyAlias, logNameOf } from "../functions/shared/table.js";
import { Alarms } from "./alarms.js";
import { DESTINATION_DELIVERY_FAILED, DestinationSecrets } from "./destination-secrets.js";

import { ExportArchive } from "./export-archive.js";
import { ExportQueue } from "./export-queue.js";
import { AuditHttpApi } from "./http-api.js";
import { ScheduledJob } from "./scheduled-job.js";
import { ServiceFunction } from "./service-function.js";
import type { StageConfig } from "./stages.js";
import { AuditTables } from "./tables.js";
import { TamperWatch } from "./tamper-watch.js";

/** Failed authentications older than this and not yet in the log raise an alarm. */
const FAILURE_BACKLOG_ALARM_SECONDS = 300;

/** The repository root: where package-lock.json lives and esbuild runs. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * How one function is sized and, for jobs, how stale an undelivered run may become; what it may
 * touch is its entry's `needs` in the route manifest (functions/shared/routes.ts). Nothing else is
 * granted.
 */
export interface Sizing {
  /**
   * Required for every handler in `SCHEDULES` (functions/shared/routes.ts, which also says when it
   * runs, for EventBridge and the local runtime alike): how stale an undelivered run may become.
   */
  readonly schedule?: { readonly maxEventAge: Duration };
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** Commands that add files to the function's asset after esbuild; see ServiceFunctionProps. */
  readonly afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/** A function as the stack builds it: its manifest entry's description and needs, and its sizing. */
export type HandlerSpec = Needs & Sizing & { readonly description: string };

/**
 * The functions that are not the default size, and the jobs' schedules. Every entry must name a
 * handler of the manifest: synth fails otherwise.
 */
export const SIZING: Readonly<Record<string, Sizing>> = {
  // The page's script and style (functions/dashboard/app), built by esbuild into the asset beside
  // the handler, which serves them (functions/dashboard/page.ts).
  dashboard: {
    afterBundling: (inputDir, outputDir) => [
      `"${inputDir}/node_modules/.bin/tsx" "${inputDir}/scripts/lib/dashboard-assets.ts" "${outputDir}/dashboard-assets"`,
    ],
  },
  "export-worker": { memorySize: 1024, timeout: Duration.minutes(15) },
  "nightly-export": {
    schedule: { maxEventAge: Duration.hours(6) },
    memorySize: 1024,
    // Lambda's ceiling. The job works per workspace-day and skips what an earlier run already wrote.
    timeout: Duration.minutes(15),
  },
  "seal-log": {
    // Every minute; a run more than a few minutes late is superseded by the next.
    schedule: { maxEventAge: Duration.minutes(10) },
    memorySize: 1024,
    timeout: Duration.seconds(50),
  },
  "flush-access-failures": {
    // A window is one minute; a run that is late by more than a few minutes is superseded by the next.
    schedule: { maxEventAge: Duration.minutes(10) },
    timeout: Duration.seconds(50),
  },
};

/** What the stack builds for `handler`: the manifest's description and needs, and its sizing. */
export function specOf(handler: string): HandlerSpec {
  return { description: descriptionOf(handler), ...needsOf(handler), ...SIZING[handler] };
}

/**
 * The stage's CloudWatch namespace: the functions' EMF metrics and the metrics derived from their
 * logs. Each stage its own, so stages that share an account never count into one metric.
 */
export const metricNamespaceOf = (stage: string) => `AuditLog/${stage}`;
/** The sealer normally runs every minute: 10 minutes behind is an incident. */
export const SEALING_LAG_ALARM_SECONDS = 600;
/** The nightly export starts 15 minutes after the day; 4 hours after, it is late. */
export const NIGHTLY_LAG_ALARM_SECONDS = 4 * 3600;

export interface AuditLogStackProps extends StackProps {
  /** The stage's row of `lib/stages.ts`. */
  readonly config: StageConfig;
}

/**
 * One environment of the audit log: tables, functions, HTTP API, export bucket, nightly schedule and
 * alarms. Every data resource follows `config.removalPolicy` (RETAIN in prod).
 */
export class AuditLogStack extends Stack {
  readonly tables: AuditTables;
  readonly archive: ExportArchive;
  readonly http: AuditHttpApi;
  readonly functions: ReadonlyMap<string, ServiceFunction>;
  /** The HMAC key that seals paging cursors: 64 random characters, generated by Secrets Manager. */
  readonly cursorSecret: secretsmanager.Secret;
  /** Scheduled handler → its rule and dead-letter queue. */
  readonly jobs: ReadonlyMap<string, ScheduledJob>;
  readonly alarms: Alarms;
  /** On-demand export requests, consumed by the export worker. */
  readonly exportQueue: ExportQueue;
  /** The name prefix of customers' destination secrets, and the grants on it. */
  readonly destinationSecrets: DestinationSecrets;
  /** The function on the events table's stream that flags changes made outside the write path. */
  readonly tamperWatch: TamperWatch;
  /** The KMS key (ECC_NIST_P256) that signs the verifiable log's checkpoints. */
  readonly checkpointKey: kms.Key;

  constructor(scope: Construct, id: string, props: AuditLogStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: `Immutable audit log (${config.name})`,
      terminationProtection: config.terminationProtection,
      ...stackProps,
    });
    Tags.of(this).add("service", "audit-log");
    Tags.of(this).add("stage", config.name);

    this.tables = new AuditTables(this, "Tables", {
      stage: config.name,
      removalPolicy: config.removalPolicy,
      deletionProtection: config.tableDeletionProtection,
    });

    this.archive = new ExportArchive(this, "Exports", {
      objectLockDays: config.objectLockDays,
      exportExpirationDays: config.exportExpirationDays,
      accessLogExpirationDays: config.s3AccessLogExpirationDays,
      removalPolicy: config.removalPolicy,
    });

    const cursorSecret = new secretsmanager.Secret(this, "CursorSecret", {
      description: `HMAC key that seals the audit log's paging cursors (${config.name})`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: config.removalPolicy,
    });
    this.cursorSecret = cursorSecret;
    Validations.of(cursorSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Rotating the cursor key invalidates every outstanding paging cursor; rotation needs the " +
        "runtime to accept the previous version for one cursor lifetime, which is not built yet.",
    });

    // Names are checked against the runtime's config schema: a rename there fails this file's build.
    const sharedEnv = {
      EVENTS_TABLE: this.tables.events.tableName,
      CONTROL_TABLE: this.tables.control.tableName,
      // Set everywhere so that loadConfig() passes in every function; only the functions whose spec
      // says `cursorSecret` may actually read the secret.
      CURSOR_SECRET_ID: cursorSecret.secretArn,
      DEFAULT_RETENTION_DAYS: String(config.defaultRetentionDays),
      WORKSPACE_RATE_LIMIT: String(config.workspaceRateLimit),
    } satisfies Partial<Record<keyof Config, string>>;
    const exportEnv = {
      EXPORT_BUCKET: this.archive.bucket.bucketName,
    } satisfies Partial<Record<keyof Config, string>>;

    // Signs every workspace's checkpoints. The private key never leaves KMS; verifiers pin the
    // public key (GET /v1/log/key, docs/integrity.md).
    this.checkpointKey = new kms.Key(this, "CheckpointKey", {
      description: `Signs the audit log's checkpoints (${config.name}): c2sp.org/signed-note type 0x02`,
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      alias: checkpointKeyAlias(config.name),
      removalPolicy: config.removalPolicy,
    });
    const logEnv = {
      seal: { LOG_SIGNING_KEY_ID: this.checkpointKey.keyArn, LOG_NAME: logNameOf(config.name), ...exportEnv },
      read: { LOG_NAME: logNameOf(config.name), ...exportEnv },
      key: { LOG_SIGNING_KEY_ID: this.checkpointKey.keyArn, LOG_NAME: logNameOf(config.name) },
    } satisfies Record<string, Partial<Record<keyof Config, string>>>;

    const destinationSecrets = new DestinationSecrets(this, "DestinationSecrets", { stage: config.name });
    this.destinationSecrets = destinationSecrets;
    // Deliberately no ALLOW_HTTP_DESTINATIONS: deployed stages accept https destinations only.
    const destinationEnv = {
      DESTINATION_SECRET_PREFIX: destinationSecrets.prefix,
    } satisfies Partial<Record<keyof Config, string>>;

    const exportQueue = new ExportQueue(this, "ExportQueue", {
      workerTimeout: SIZING["export-worker"]?.timeout ?? Duration.minutes(15),
    });
    this.exportQueue = exportQueue;

    const functionsScope = new Construct(this, "Functions");
    const functions = new Map<string, ServiceFunction>();
    for (const handler of handlerNames()) {
      const spec = specOf(handler);
      const sf = new ServiceFunction(functionsScope, constructId(handler), {
        entry: join(REPO_ROOT, "functions", handler, "handler.ts"),
        projectRoot: REPO_ROOT,
        description: `Audit log (${config.name}): ${spec.description}`,
        environment: {
          ...sharedEnv,
          ...(spec.exportBucket ? exportEnv : {}),
          ...(spec.verifiableLog ? logEnv[spec.verifiableLog] : {}),
          ...(spec.destinationSecrets ? destinationEnv : {}),
          ...(spec.exportQueue?.includes("send") ? { EXPORT_QUEUE_URL: exportQueue.queue.queueUrl } : {}),
        },
        memorySize: spec.memorySize,
        timeout: spec.timeout,
        afterBundling: spec.afterBundling,
        logRetention: config.functionLogRetention,
        logRemovalPolicy: config.removalPolicy,
        logLevel: config.logLevel,
        metricsNamespace: metricNamespaceOf(config.name),
      });
      const authenticated = isAuthenticated(handler);
      const appends = authenticated || spec.appendEvents === true;
      if (appends) this.tables.grantEventAppend(sf.role);
      if (spec.queryEvents) this.tables.grantEventQuery(sf.role);
      if (spec.lookupEventOwners) this.tables.grantEventOwnerLookup(sf.role);
      // Appending reads the workspace (its retention); authenticating reads the key and counts
      // failures, and a reach for another workspace's resource is counted too.
      if (appends || spec.control || spec.verifiableLog === "seal" || spec.verifiableLog === "read") {
        const counters = authenticated ? (["failureCounter", "reachCounter", "rateCounter"] as const) : [];
        this.tables.grantControl(sf.role, {
          ...spec.control,
          update: [...new Set([...(spec.control?.update ?? []), ...counters])],
          create: [
            ...(spec.control?.create ?? []),
            ...(spec.verifiableLog === "seal" ? (["logState"] as const) : []),
          ],
          queryLog: spec.verifiableLog === "seal" || spec.verifiableLog === "read",
        });
      }
      if (spec.verifiableLog === "seal") this.checkpointKey.grant(sf.role, "kms:GetPublicKey", "kms:Sign");
      if (spec.verifiableLog === "key") this.checkpointKey.grant(sf.role, "kms:GetPublicKey");
      if (spec.verifiableLog) {
        // Tiles live in the Object Lock bucket; a function with its own bucket grant keeps that one.
        if (!spec.exportBucket && spec.verifiableLog === "seal") this.archive.grantExportWrite(sf.role);
        if (!spec.exportBucket && spec.verifiableLog === "read") this.archive.grantExportRead(sf.role);
      }
      if (spec.cursorSecret) cursorSecret.grantRead(sf.role);
      if (spec.destinationSecrets === "write") destinationSecrets.grantWrite(sf.role);
      if (spec.destinationSecrets === "read") destinationSecrets.grantRead(sf.role);
      if (spec.exportBucket === "write") this.archive.grantExportWrite(sf.role);
      if (spec.exportBucket === "read") this.archive.grantExportRead(sf.role);
      if (spec.exportQueue?.includes("send")) exportQueue.queue.grantSendMessages(sf.role);
      if (spec.exportQueue?.includes("consume")) {
        sf.function.addEventSource(new SqsEventSource(exportQueue.queue, { batchSize: 1 }));
      }
      functions.set(handler, sf);
    }
    const unused = Object.keys(SIZING).filter((name) => !functions.has(name));
    if (unused.length > 0) {
      throw new Error(`SIZING lists handlers that no route, schedule or queue uses: ${unused.join(", ")}`);
    }
    this.functions = functions;
    // Fed by the events table's stream, not by a route, schedule or queue: built apart from the manifest.
    this.tamperWatch = new TamperWatch(this, "TamperWatch", {
      tables: this.tables,
      projectRoot: REPO_ROOT,
      stage: config.name,
      environment: sharedEnv,
      logRetention: config.functionLogRetention,
      logRemovalPolicy: config.removalPolicy,
      logLevel: config.logLevel,
      metricsNamespace: metricNamespaceOf(config.name),
    });
    const fn = (handler: string): lambda.IFunction => {
      const sf = functions.get(handler);
      if (sf === undefined) throw new Error(`no function for handler "${handler}"`);
      return sf.function;
    };

    this.http = new AuditHttpApi(this, "Http", {
      apiName: `audit-log-${config.name}`,
      routes: ROUTES,
      functions: new Map([...functions].map(([name, sf]) => [name, sf.function])),
      throttle: config.throttle,
      corsAllowOrigins: config.corsAllowOrigins,
      accessLogRetention: config.apiAccessLogRetention,
      accessLogRemovalPolicy: config.removalPolicy,
    });

    const scheduledScope = new Construct(this, "Schedules");
    const jobs = new Map<string, ScheduledJob>();
    for (const { handler, schedule: when } of SCHEDULES) {
      const schedule = SIZING[handler]?.schedule;
      if (schedule === undefined) throw new Error(`scheduled handler "${handler}" has no schedule in SIZING`);
      jobs.set(
        handler,
        new ScheduledJob(scheduledScope, constructId(handler), {
          handler: fn(handler),
          // EventBridge cron is always UTC, as SCHEDULES states.
          schedule:
            "cron" in when
              ? events.Schedule.cron(when.cron)
              : events.Schedule.rate(Duration.minutes(when.everyMinutes)),
          maxEventAge: schedule.maxEventAge,
          description: `Audit log (${config.name}): ${descriptionOf(handler)}`,
        }),
      );
    }
    this.jobs = jobs;

    const alarms = new Alarms(this, "Alarms", {
      email: config.alarmEmail,
      metricNamespace: metricNamespaceOf(config.name),
      keyRemovalPolicy: config.removalPolicy,
    });
    this.alarms = alarms;
    for (const [handler, sf] of functions) alarms.watchFunction(constructId(handler), sf.function);
    this.tamperWatch.addAlarms(alarms);
    alarms.atLeastOnce(
      "Api5xx",
      this.http.stage.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
      "HTTP API answered 5xx: an event may not have been stored",
    );
    alarms.atLeastOnce(
      "EventsTableThrottles",
      this.tables.events.metricThrottledRequestsForOperations({
        operations: [
          dynamodb.Operation.PUT_ITEM,
          dynamodb.Operation.TRANSACT_WRITE_ITEMS,
          dynamodb.Operation.GET_ITEM,
          dynamodb.Operation.QUERY,
        ],
        period: Duration.minutes(5),
      }),
      "DynamoDB throttled requests on the events table (hot partition or GSI back-pressure)",
    );
    alarms.atLeastOnce(
      "ExportDeadLetters",
      exportQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      "An on-demand export request failed three times: it is in the export dead-letter queue",
    );
    // The nightly export logs this line when a customer's bucket still refuses a day after retries; the
    // day is safe in the Object Lock bucket, but the customer does not have it.
    const nightlyExport = functions.get("nightly-export");
    if (nightlyExport === undefined) throw new Error('no function for handler "nightly-export"');
    alarms.onLogMessage(
      "DestinationDeliveryFailed",
      nightlyExport.logGroup,
      DESTINATION_DELIVERY_FAILED,
      "The nightly export could not deliver a day to a customer's export destination: see docs/deploy.md",
    );
    // The failure flush (every minute) logs each window it could not write, and the age of the
    // oldest one left: failed logins that are not in the log yet.
    const flush = functions.get("flush-access-failures");
    if (flush === undefined) throw new Error('no function for handler "flush-access-failures"');
    alarms.onLogMessage(
      "FailureFlushFailed",
      flush.logGroup,
      FAILURE_FLUSH_FAILED,
      "A window of failed authentications could not be written as access.denied: see docs/deploy.md",
    );
    alarms.onLogValue(
      "FailureFlushBacklogSeconds",
      flush.logGroup,
      FAILURE_FLUSH_BACKLOG,
      "oldestPendingSeconds",
      FAILURE_BACKLOG_ALARM_SECONDS,
      "Failed authentications have waited over 5 minutes to be logged, or the flush is not running: see docs/deploy.md",
    );
    // The sealer (a stored tile or an event that does not match the tree), the proof route, and the
    // export worker placing an evidence bundle's events in the tree log the same line as the tamper watch.
    for (const handler of ["seal-log", "get-event-proof", "nightly-export", "export-worker"]) {
      const sf = functions.get(handler);
      if (sf === undefined) throw new Error(`no function for handler "${handler}"`);
      alarms.onLogMessage(
        `${constructId(handler)}IntegrityViolation`,
        sf.logGroup,
        INTEGRITY_VIOLATION,
        `${handler} found the log or its tree changed outside the write path: see the operator's security log (integrity.violation) and docs/integrity.md`,
      );
    }
    // Every run logs how many workspaces it could not seal; no such line for 5 minutes means the
    // sealer stopped (its rule disabled, the function broken): checkpoints go stale either way.
    const sealer = functions.get("seal-log");
    if (sealer === undefined) throw new Error('no function for handler "seal-log"');
    alarms.onLogValue(
      "SealerFailedOrStopped",
      sealer.logGroup,
      SEALER_RUN,
      "failedWorkspaces",
      1,
      "A workspace's log could not be sealed, or the sealer has not run for 5 minutes: new events are not covered by checkpoints. See docs/integrity.md",
    );
    // EMF metrics the functions write (functions/shared/metrics.ts; docs/operations.md).
    alarms.atLeastOnce(
      "AuditWriteFailed",
      alarms.emfMetric(Metric.auditWriteFailed, "Sum"),
      "A record the service owes the log (a read, a denial, a key change) could not be written: the request got 503. Storage trouble; see docs/operations.md",
    );
    alarms.atLeastOnce(
      "EventsRefusedUnavailable",
      alarms.emfMetric(Metric.postsRejected, "Sum", { Reason: REJECTION_REASON[503] as string }),
      "POST /v1/events answered 503: producers must retry (nothing is lost if they do). Storage trouble; see docs/operations.md",
    );
    alarms.atOrAbove(
      "SealingLag",
      alarms.emfMetric(Metric.sealingLag, "Maximum"),
      SEALING_LAG_ALARM_SECONDS,
      "The sealer is over 10 minutes behind a workspace: new events wait for a checkpoint. See docs/integrity.md",
    );
    // Written once a day when every enterprise workspace has its day; none in a day means a day is missing.
    alarms.atOrAbove(
      "NightlyExportLag",
      alarms.emfMetric(Metric.nightlyExportLag, "Maximum", {}, Duration.days(1)),
      NIGHTLY_LAG_ALARM_SECONDS,
      "The nightly export finished over 4 hours after the day ended, or no nightly export finished in a day: a compliance day is missing. See docs/operations.md",
      cloudwatch.TreatMissingData.BREACHING,
    );
    for (const [handler, job] of jobs) {
      alarms.atLeastOnce(
        `${constructId(handler)}DeadLetters`,
        job.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: "Maximum",
        }),
        `A scheduled ${handler} invocation could not be delivered: replay it from the dead-letter queue`,
      );
    }

    new CfnOutput(this, "ApiUrl", { value: this.http.url, description: "Base URL of the HTTP API" });
    new CfnOutput(this, "EventsTableName", { value: this.tables.events.tableName });
    new CfnOutput(this, "ControlTableName", { value: this.tables.control.tableName });
    new CfnOutput(this, "ExportBucketName", { value: this.archive.bucket.bucketName });
    new CfnOutput(this, "AlarmTopicArn", { value: alarms.topic.topicArn });
  }
}

/** Every handler folder that gets a function: each distinct route handler, then the scheduled jobs. */
export function handlerNames(): string[] {
  return [
    ...new Set([
      ...ROUTES.map((r) => r.handler),
      ...SCHEDULED_HANDLERS,
      ...QUEUE_WORKERS.map((w) => w.handler),
    ]),
  ];
}

/**
 * Whether a handler serves a route that needs an API key. Such a handler looks the key up in the
 * control table, counts failed attempts there (401, then 429), and records every read and every
 * denied request as an event in the log, so it needs those three grants whatever else it does.
 */
export function isAuthenticated(handler: string): boolean {
  return ROUTES.some((route) => route.handler === handler && route.scope !== null);
}

/** `post-events` → `PostEvents`. */
function constructId(handler: string): string {
  return handler
    .split(/[^a-zA-Z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}
