import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { Metric } from "../../functions/shared/metrics.js";
import { QUEUE_WORKERS, ROUTES, SCHEDULED_HANDLERS } from "../../functions/shared/routes.js";
import { SERVICE_NAME } from "../../lib/alarms.js";
import { metricNamespaceOf } from "../../lib/audit-log-stack.js";
import { STAGE_NAMES } from "../../lib/stages.js";
import { functionLogicalId, logicalIdOf, synthCached } from "./support/synth.js";

const expectedHandlers = [
  ...new Set([
    ...ROUTES.map((r) => r.handler),
    ...SCHEDULED_HANDLERS,
    ...QUEUE_WORKERS.map((w) => w.handler),
  ]),
];

describe("alarms (prod)", () => {
  const s = synthCached("prod");
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const topic = { Ref: logicalIdOf(s.stack.alarms.topic) };

  /** Alarms on a plain metric with this name whose dimensions mention `logicalId`. */
  const alarmsOn = (metricName: string, logicalId: string) =>
    alarms.filter((a) => a.MetricName === metricName && JSON.stringify(a.Dimensions).includes(logicalId));

  it("every alarm notifies the topic when it fires and when it clears", () => {
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
  });

  it.each(expectedHandlers)("%s has an errors alarm and a throttles alarm", (handler) => {
    const fn = functionLogicalId(s, handler);
    expect(alarmsOn("Errors", fn)).toHaveLength(1);
    expect(alarmsOn("Throttles", fn)).toHaveLength(1);
  });

  it("alarms on API 5xx responses", () => {
    const api = alarms.filter((a) => a.MetricName === "5xx" && a.Namespace === "AWS/ApiGateway");
    expect(api).toHaveLength(1);
    expect(JSON.stringify(api[0]?.Dimensions)).toContain(logicalIdOf(s.stack.http.api));
  });

  it("alarms on throttled requests against the events table", () => {
    const throttles = alarms.filter((a) =>
      JSON.stringify(a.Metrics ?? []).includes('"MetricName":"ThrottledRequests"'),
    );
    expect(throttles).toHaveLength(1);
    expect(JSON.stringify(throttles[0]?.Metrics)).toContain(logicalIdOf(s.stack.tables.events));
  });

  it.each(SCHEDULED_HANDLERS)(
    "alarms as soon as one %s invocation lands in its dead-letter queue",
    (handler) => {
      const queue = s.stack.jobs.get(handler)?.deadLetterQueue;
      const dlq = alarmsOn("ApproximateNumberOfMessagesVisible", logicalIdOf(queue as IConstruct));
      expect(dlq).toHaveLength(1);
      expect(dlq[0]).toMatchObject({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    },
  );

  it("the topic is KMS-encrypted, refuses plain HTTP, and CloudWatch may use its key", () => {
    const keyId = logicalIdOf(s.stack.alarms.topicKey);
    s.template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] } });
    const key = s.template.findResources("AWS::KMS::Key")[keyId]?.Properties;
    expect(key.EnableKeyRotation).toBe(true);
    expect(JSON.stringify(key.KeyPolicy)).toContain("cloudwatch.amazonaws.com");
    const topicPolicy = Object.values(s.template.findResources("AWS::SNS::TopicPolicy"))[0]?.Properties;
    expect(JSON.stringify(topicPolicy.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });
});

describe.each(STAGE_NAMES)("customer destination delivery alarm (%s)", (stage) => {
  const s = synthCached(stage);
  const filters = Object.values(s.template.findResources("AWS::Logs::MetricFilter")).map((f) => f.Properties);
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const nightlyLogGroup = logicalIdOf(s.stack.functions.get("nightly-export")?.logGroup as IConstruct);

  // The exact line the nightly export logs (Powertools JSON) when a day cannot reach a customer's bucket.
  const PATTERN = '{ $.message = "destination delivery failed" }';

  it("one metric filter, on the nightly export's log group, counts each failed delivery once", () => {
    const delivery = filters.filter((f) => f.FilterPattern === PATTERN);
    expect(delivery).toHaveLength(1);
    expect(delivery[0]).toEqual({
      LogGroupName: { Ref: nightlyLogGroup },
      FilterPattern: PATTERN,
      MetricTransformations: [
        { MetricNamespace: `AuditLog/${stage}`, MetricName: "DestinationDeliveryFailed", MetricValue: "1" },
      ],
    });
  });

  it("alarms on the first failure in five minutes, stays quiet without data, and notifies the topic", () => {
    const topic = { Ref: logicalIdOf(s.stack.alarms.topic) };
    const matching = alarms.filter(
      (a) => a.Namespace === `AuditLog/${stage}` && a.MetricName === "DestinationDeliveryFailed",
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [topic],
      OKActions: [topic],
    });
    expect(matching[0]?.Dimensions).toBeUndefined();
  });
});

describe.each(STAGE_NAMES)("failed-authentication flush alarms (%s)", (stage) => {
  const s = synthCached(stage);
  const filters = Object.values(s.template.findResources("AWS::Logs::MetricFilter")).map((f) => f.Properties);
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const flushLogGroup = logicalIdOf(s.stack.functions.get("flush-access-failures")?.logGroup as IConstruct);
  const topic = { Ref: logicalIdOf(s.stack.alarms.topic) };
  const alarmOn = (name: string) =>
    alarms.filter((a) => a.Namespace === `AuditLog/${stage}` && a.MetricName === name);

  it("counts every window the flush could not write, and alarms on the first", () => {
    expect(filters).toContainEqual({
      LogGroupName: { Ref: flushLogGroup },
      FilterPattern: '{ $.message = "failure window not flushed" }',
      MetricTransformations: [
        { MetricNamespace: `AuditLog/${stage}`, MetricName: "FailureFlushFailed", MetricValue: "1" },
      ],
    });
    expect(alarmOn("FailureFlushFailed")).toEqual([
      expect.objectContaining({
        Statistic: "Sum",
        Threshold: 1,
        TreatMissingData: "notBreaching",
        AlarmActions: [topic],
      }),
    ]);
  });

  it("alarms when the oldest unflushed window is 5 minutes old, or when the flush stops logging", () => {
    expect(filters).toContainEqual({
      LogGroupName: { Ref: flushLogGroup },
      FilterPattern: '{ $.message = "failure flush backlog" }',
      MetricTransformations: [
        {
          MetricNamespace: `AuditLog/${stage}`,
          MetricName: "FailureFlushBacklogSeconds",
          MetricValue: "$.oldestPendingSeconds",
        },
      ],
    });
    expect(alarmOn("FailureFlushBacklogSeconds")).toEqual([
      expect.objectContaining({
        Statistic: "Maximum",
        Period: 300,
        Threshold: 300,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "breaching",
        AlarmActions: [topic],
        OKActions: [topic],
      }),
    ]);
  });
});

describe.each(STAGE_NAMES)("alarms on the functions' EMF metrics (%s)", (stage) => {
  const s = synthCached(stage);
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const functions = Object.values(s.template.findResources("AWS::Lambda::Function")).map((f) => f.Properties);
  const namespace = metricNamespaceOf(stage);
  const on = (metricName: string) =>
    alarms.filter((a) => a.MetricName === metricName && a.Namespace === namespace);

  it("every function writes its EMF metrics to the stage's namespace, as service audit-log", () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      expect(fn.Environment.Variables).toMatchObject({
        POWERTOOLS_METRICS_NAMESPACE: namespace,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      });
    }
  });

  it.each([
    [Metric.auditWriteFailed, [{ Name: "service", Value: SERVICE_NAME }], "Sum", 1, 300, "notBreaching"],
    [
      Metric.postsRejected,
      [
        { Name: "service", Value: SERVICE_NAME },
        { Name: "Reason", Value: "unavailable" },
      ],
      "Sum",
      1,
      300,
      "notBreaching",
    ],
    [Metric.sealingLag, [{ Name: "service", Value: SERVICE_NAME }], "Maximum", 600, 300, "notBreaching"],
    // Once a day when every enterprise workspace has its day: no value in a day alarms too.
    [
      Metric.nightlyExportLag,
      [{ Name: "service", Value: SERVICE_NAME }],
      "Maximum",
      14_400,
      86_400,
      "breaching",
    ],
  ] as const)(
    "alarms on %s %j (%s ≥ %d over %d s, missing data %s)",
    (metric, dimensions, statistic, threshold, period, missing) => {
      const found = on(metric);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        Statistic: statistic,
        Threshold: threshold,
        Period: period,
        EvaluationPeriods: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: missing,
      });
      expect(
        [...((found[0]?.Dimensions ?? []) as { Name: string; Value: string }[])].sort((a, b) =>
          a.Name.localeCompare(b.Name),
        ),
      ).toEqual([...dimensions].sort((a, b) => a.Name.localeCompare(b.Name)));
    },
  );

  it("sends no X-Ray traces: tracing is off, not half on", () => {
    for (const fn of functions) expect(fn).not.toHaveProperty("TracingConfig");
  });
});
