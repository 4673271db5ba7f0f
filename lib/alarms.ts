import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";

/** `POWERTOOLS_SERVICE_NAME` of every function: the `service` dimension of their EMF metrics. */
export const SERVICE_NAME = "audit-log";

export interface AlarmsProps {
  /**
   * CloudWatch namespace of the metrics the service derives from its own logs (see
   * {@link Alarms.onLogMessage}). Give each stage its own (`AuditLog/<stage>`): a metric filter cannot
   * add a constant dimension, so stages that share an account would otherwise count into one metric.
   */
  readonly metricNamespace: string;
  /**
   * Subscribed to the topic by email (the recipient must confirm the subscription).
   * @default - no subscription; subscribe a pager or chat integration to the topic yourself
   */
  readonly email?: string;
  /**
   * Evaluation period of every alarm.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
  /**
   * What happens to the topic's KMS key when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * An encrypted SNS topic and the alarms that publish to it. Every alarm here fires on the first
 * occurrence: in an audit log, one failed write or one missed export is already an incident.
 */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  /** Customer-managed key of the topic; its policy lets CloudWatch publish. */
  readonly topicKey: kms.Key;
  private readonly action: actions.SnsAction;
  private readonly period: Duration;
  /** Namespace of the log-derived metrics. */
  readonly metricNamespace: string;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.period = props.period ?? Duration.minutes(5);
    this.metricNamespace = props.metricNamespace;

    this.topicKey = new kms.Key(this, "TopicKey", {
      description: "Encrypts the audit log alarm topic",
      enableKeyRotation: true,
      removalPolicy: props.keyRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // CloudWatch publishes to an encrypted topic only if the key lets it generate and use data keys.
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
      }),
    );
    this.topic = new sns.Topic(this, "Topic", {
      displayName: "Audit log alarms",
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    if (props.email) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    }
    this.action = new actions.SnsAction(this.topic);
  }

  /**
   * A metric the functions write as EMF (functions/shared/metrics.ts): namespace
   * {@link metricNamespace}, dimension `service` (Powertools adds it to every metric), plus `dimensions`.
   */
  emfMetric(
    name: string,
    statistic: "Sum" | "Maximum",
    dimensions: Record<string, string> = {},
    period: Duration = this.period,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricNamespace,
      metricName: name,
      dimensionsMap: { service: SERVICE_NAME, ...dimensions },
      statistic,
      period,
    });
  }

  /** Errors and throttles of one function. */
  watchFunction(id: string, fn: lambda.IFunction): void {
    this.atLeastOnce(`${id}Errors`, fn.metricErrors({ period: this.period }), `${id}: invocation errors`);
    this.atLeastOnce(`${id}Throttles`, fn.metricThrottles({ period: this.period }), `${id}: throttled`);
  }

  /**
   * Counts the lines of `logGroup` whose JSON `message` field is exactly `message` (the Powertools
   * logger writes one JSON object per line), as metric `id` in {@link metricNamespace}, and alarms on
   * the first one. The filter emits nothing when no line matches, so quiet periods are missing data,
   * which does not alarm.
   */
  onLogMessage(
    id: string,
    logGroup: logs.ILogGroup,
    message: string,
    description: string,
  ): { filter: logs.MetricFilter; alarm: cloudwatch.Alarm } {
    const filter = this.messageFilter(id, logGroup, message, "1");
    const alarm = this.atLeastOnce(id, filter.metric({ statistic: "Sum", period: this.period }), description);
    return { filter, alarm };
  }

  /**
   * Takes the number in JSON field `field` of the lines of `logGroup` whose `message` is exactly
   * `message`, as metric `id`, and alarms when its Maximum in a period reaches `threshold`. The line
   * is logged on every run of a scheduled job, so no data means the job is not running: that
   * alarms too.
   */
  onLogValue(
    id: string,
    logGroup: logs.ILogGroup,
    message: string,
    field: string,
    threshold: number,
    description: string,
  ): { filter: logs.MetricFilter; alarm: cloudwatch.Alarm } {
    const filter = this.messageFilter(id, logGroup, message, `$.${field}`);
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric: filter.metric({ statistic: "Maximum", period: this.period }),
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    return { filter, alarm };
  }

  /** Metric `id` from the log lines whose JSON `message` is exactly `message`; each adds `value`. */
  private messageFilter(id: string, logGroup: logs.ILogGroup, message: string, value: string) {
    return new logs.MetricFilter(this, `${id}Filter`, {
      logGroup,
      filterPattern: logs.FilterPattern.stringValue("$.message", "=", message),
      metricNamespace: this.metricNamespace,
      metricName: id,
      metricValue: value,
    });
  }

  /**
   * Alarms when `metric` reaches 1 within one period (a Sum of errors, or the Maximum of a queue
   * depth). Missing data means nothing happened, so it does not alarm.
   */
  atLeastOnce(id: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
    return this.atOrAbove(id, metric, 1, description);
  }

  /**
   * Alarms when `metric` reaches `threshold` within one period (say, a stream consumer's iterator
   * age). Missing data does not alarm.
   */
  atOrAbove(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: missing,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    return alarm;
  }
}
