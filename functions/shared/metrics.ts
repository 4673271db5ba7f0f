import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * The service's CloudWatch metrics, written as EMF lines (Powertools Metrics) into the functions'
 * logs, in namespace `POWERTOOLS_METRICS_NAMESPACE` (the stack sets `AuditLog/<stage>`) with the
 * `service` dimension. The HTTP layer and the job handlers emit them, from what the core returned:
 * the core itself knows nothing of metrics. docs/operations.md says what each means; the stack alarms
 * on the ones that mean the log is at risk (lib/audit-log-stack.ts).
 */
export const Metric = {
  /** Events stored by POST /v1/events (created), and replays answered with the stored event. */
  eventsAccepted: "EventsAccepted",
  eventsReplayed: "EventsReplayed",
  /** POST /v1/events requests refused, with dimension `Reason`. */
  postsRejected: "PostsRejected",
  /** Answers with a 5xx status, 401 and 429, over every route. */
  serverErrors: "ServerErrors",
  authFailures: "AuthFailures",
  throttled: "Throttled",
  /** A record the service owes the log (a read, a denial, a key change) could not be written. */
  auditWriteFailed: "AuditWriteFailed",
  /** On-demand exports, once ready: from request to file, its size and its events. */
  exportDuration: "ExportDurationMs",
  exportBytes: "ExportBytes",
  exportEvents: "ExportEvents",
  /** Seconds from the end of the day the nightly export wrote, for every workspace, to when it did. */
  nightlyExportLag: "NightlyExportLagSeconds",
  /** How far behind the sealer is: the age of the last event it reached in a workspace it could not finish. */
  sealingLag: "SealingLagSeconds",
  /** Age of the oldest window of failed authentications not yet written as access.denied. */
  flushBacklog: "FlushBacklogSeconds",
} as const;

/** Why a post was refused, from its status: the `Reason` dimension of {@link Metric.postsRejected}. */
export const REJECTION_REASON: Readonly<Record<number, string>> = {
  400: "invalid",
  401: "unauthenticated",
  403: "forbidden",
  409: "conflict",
  413: "too_large",
  415: "not_json",
  429: "throttled",
  500: "error",
  503: "unavailable",
};

let instance: Metrics | undefined;

/**
 * The one Metrics of this execution environment, made on first use (so the environment, which
 * may disable it with `POWERTOOLS_METRICS_DISABLED`, is read then).
 */
export function metrics(): Metrics {
  instance ??= new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "AuditLog/local",
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "audit-log",
  });
  return instance;
}

export function count(name: string, value = 1): void {
  if (value > 0) metrics().addMetric(name, MetricUnit.Count, value);
}

/** A count with one dimension of its own, published at once (its dimension would otherwise apply to every metric). */
export function countBy(name: string, dimension: string, value: string, n = 1): void {
  const single = metrics().singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, n);
}

export function seconds(name: string, value: number): void {
  metrics().addMetric(name, MetricUnit.Seconds, Math.max(0, Math.round(value)));
}

export function milliseconds(name: string, value: number): void {
  metrics().addMetric(name, MetricUnit.Milliseconds, Math.max(0, Math.round(value)));
}

export function bytes(name: string, value: number): void {
  metrics().addMetric(name, MetricUnit.Bytes, value);
}

/** Writes what was added since the last flush (one EMF line); nothing when nothing was. */
export function publishMetrics(): void {
  const m = metrics();
  if (m.hasStoredMetrics()) m.publishStoredMetrics();
}
