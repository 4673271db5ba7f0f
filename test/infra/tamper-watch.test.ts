import { describe, expect, it } from "vitest";
import { configSchema } from "../../functions/shared/config.js";
import { INTEGRITY_VIOLATION } from "../../functions/shared/core/tamper-watch.js";
import { CONTROL_TABLE_BASENAME, EVENTS_TABLE, EVENTS_TABLE_BASENAME } from "../../functions/shared/table.js";
import { STAGE_NAMES, STAGES } from "../../lib/stages.js";
import { actionsOnTable, allPolicyStatements, type TableRef, type TemplateJson } from "./support/iam.js";
import { logicalIdOf, synthCached } from "./support/synth.js";

/** Written out, not imported from lib/: shortening the construct's list must not shorten this test's. */
const STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"];

describe.each(STAGE_NAMES)("tamper watch (%s)", (stage) => {
  const s = synthCached(stage);
  const template = s.template.toJSON() as TemplateJson;
  const watch = s.stack.tamperWatch;
  const fnId = logicalIdOf(watch.function.function);
  const roleId = logicalIdOf(watch.function.role);
  const dlqId = logicalIdOf(watch.deadLetterQueue);
  const eventsId = logicalIdOf(s.stack.tables.events);
  const controlId = logicalIdOf(s.stack.tables.control);
  const topic = { Ref: logicalIdOf(s.stack.alarms.topic) };
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const statements = allPolicyStatements(template).filter((p) => p.roles.includes(roleId));

  it("reads the events table's stream from its oldest record, bisecting failed batches, with bounded retries and a DLQ", () => {
    const mappings = Object.values(s.template.findResources("AWS::Lambda::EventSourceMapping")).filter(
      (m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: fnId }),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.Properties).toMatchObject({
      EventSourceArn: { "Fn::GetAtt": [eventsId, "StreamArn"] },
      StartingPosition: "TRIM_HORIZON",
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      BatchSize: 100,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [dlqId, "Arn"] } } },
    });
    // One batch per shard at a time (the default): a retried batch is not overtaken by the next one.
    expect(mappings[0]?.Properties.ParallelizationFactor).toBeUndefined();
  });

  it("the stream it reads keeps both images, so a MODIFY shows what changed and a REMOVE what went", () => {
    const table = s.template.findResources("AWS::DynamoDB::Table")[eventsId]?.Properties;
    expect(table.StreamSpecification).toEqual({ StreamViewType: "NEW_AND_OLD_IMAGES" });
  });

  it("its dead-letter queue is encrypted, refuses plain HTTP, keeps 14 days, and only the watch sends to it", () => {
    const queue = s.template.findResources("AWS::SQS::Queue")[dlqId]?.Properties;
    expect(queue).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    const policy = Object.values(s.template.findResources("AWS::SQS::QueuePolicy")).find((p) =>
      JSON.stringify(p.Properties.Queues).includes(dlqId),
    );
    expect(policy?.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
    const senders = allPolicyStatements(template).filter(
      (p) =>
        [p.statement.Action].flat().includes("sqs:SendMessage") &&
        JSON.stringify(p.statement.Resource).includes(`"${dlqId}"`),
    );
    expect(senders.map((p) => p.roles)).toEqual([[roleId]]);
  });

  it("counts each logged violation and alarms on the first, quiet without data", () => {
    const filters = Object.values(s.template.findResources("AWS::Logs::MetricFilter")).map(
      (f) => f.Properties,
    );
    expect(filters).toContainEqual({
      LogGroupName: { Ref: logicalIdOf(watch.function.logGroup) },
      FilterPattern: `{ $.message = "${INTEGRITY_VIOLATION}" }`,
      MetricTransformations: [
        { MetricNamespace: `AuditLog/${stage}`, MetricName: "IntegrityViolation", MetricValue: "1" },
      ],
    });
    expect(INTEGRITY_VIOLATION).toBe("integrity violation");
    expect(
      alarms.filter((a) => a.Namespace === `AuditLog/${stage}` && a.MetricName === "IntegrityViolation"),
    ).toEqual([
      expect.objectContaining({
        Statistic: "Sum",
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        TreatMissingData: "notBreaching",
        AlarmActions: [topic],
        OKActions: [topic],
      }),
    ]);
  });

  it("alarms on its errors, on a batch given up to the DLQ, and on falling an hour behind the stream", () => {
    const on = (metric: string, id: string) =>
      alarms.filter((a) => a.MetricName === metric && JSON.stringify(a.Dimensions).includes(id));
    expect(on("Errors", fnId)).toHaveLength(1);
    expect(on("ApproximateNumberOfMessagesVisible", dlqId)).toEqual([
      expect.objectContaining({ Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" }),
    ]);
    expect(on("IteratorAge", fnId)).toEqual([
      expect.objectContaining({
        Statistic: "Maximum",
        Threshold: 3_600_000,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        AlarmActions: [topic],
      }),
    ]);
  });

  it("on the events table: appends (PutItem, GetItem) and reads the stream; nothing that changes or removes", () => {
    const events: TableRef = {
      logicalId: eventsId,
      tableName: `${EVENTS_TABLE_BASENAME}-${stage}`,
      indexNames: EVENTS_TABLE.indexes.map((i) => i.name),
    };
    expect(actionsOnTable(template, events, roleId)).toEqual(
      [...["dynamodb:GetItem", "dynamodb:PutItem"], ...STREAM_READ, "dynamodb:ListStreams"].sort(),
    );
    const reads = statements.find((p) => STREAM_READ.every((a) => [p.statement.Action].flat().includes(a)));
    expect(reads?.statement.Resource).toEqual({ "Fn::GetAtt": [eventsId, "StreamArn"] });
    const list = statements.find((p) => [p.statement.Action].flat().includes("dynamodb:ListStreams"));
    expect(JSON.stringify(list?.statement.Resource)).toContain(`{"Ref":"${eventsId}"},"/stream/*"`);
  });

  it("is one of the event writers the table's resource policy lets put", () => {
    const table = s.template.findResources("AWS::DynamoDB::Table")[eventsId]?.Properties;
    const denyPut = (table.ResourcePolicy.PolicyDocument.Statement as Record<string, unknown>[]).find(
      (st) => st.Sid === "DenyEventPutExceptTheService",
    ) as { Condition: { ArnNotEquals: { "aws:PrincipalArn": unknown[] } } };
    expect(denyPut.Condition.ArnNotEquals["aws:PrincipalArn"]).toContainEqual({
      "Fn::GetAtt": [roleId, "Arn"],
    });
  });

  it("on the control table: GetItem on the verifiable-log items (the sealed position) only", () => {
    const control: TableRef = {
      logicalId: controlId,
      tableName: `${CONTROL_TABLE_BASENAME}-${stage}`,
      indexNames: [],
    };
    expect(actionsOnTable(template, control, roleId)).toEqual(["dynamodb:GetItem"]);
    const get = statements.filter((p) => JSON.stringify(p.statement.Resource).includes(`"${controlId}"`));
    expect(get.map((p) => p.statement)).toEqual([
      expect.objectContaining({
        Action: "dynamodb:GetItem",
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["log#*"] } },
      }),
    ]);
  });

  it("runs with the shared environment, its own log group, on nodejs22.x arm64", () => {
    const fn = s.template.findResources("AWS::Lambda::Function")[fnId]?.Properties;
    expect(fn).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"], Handler: "index.handler" });
    expect(fn.LoggingConfig.LogGroup).toEqual({ Ref: logicalIdOf(watch.function.logGroup) });
    const env = Object.fromEntries(
      Object.entries(fn.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === "string" ? v : `resolved-${k}`,
      ]),
    );
    expect(configSchema.safeParse(env).success).toBe(true);
    expect(fn.Environment.Variables.EVENTS_TABLE).toEqual({ Ref: eventsId });
    expect(fn.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe(STAGES[stage].logLevel);
    expect(fn.Environment.Variables.EXPORT_BUCKET).toBeUndefined();
  });
});
