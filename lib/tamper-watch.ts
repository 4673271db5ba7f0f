import { join } from "node:path";
import { type CfnElement, Duration, type RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { INTEGRITY_VIOLATION } from "../functions/shared/core/tamper-watch.js";
import { Keys } from "../functions/shared/table.js";
import type { Alarms } from "./alarms.js";
import { deadLetterQueue } from "./dead-letter-queue.js";
import { ServiceFunction } from "./service-function.js";
import type { AuditTables } from "./tables.js";

/** Reading a DynamoDB stream, as an event source mapping does on the function's behalf. */
export const STREAM_READ_ACTIONS = [
  "dynamodb:DescribeStream",
  "dynamodb:GetRecords",
  "dynamodb:GetShardIterator",
  "dynamodb:ListStreams",
] as const;

export interface TamperWatchProps {
  /** The events table (its NEW_AND_OLD_IMAGES stream feeds the watch) and the control table. */
  readonly tables: AuditTables;
  /** The repository root, where esbuild runs. */
  readonly projectRoot: string;
  /** Shown in the function's description. */
  readonly stage: string;
  /** The variables every function gets (`functions/shared/config.ts` names). */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Retries of a failing batch before its metadata goes to the dead-letter queue (the batch is
   * bisected first, which does not count). @default 10
   */
  readonly retryAttempts?: number;
  /** Records per invocation. @default 100 */
  readonly batchSize?: number;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  readonly logRetention?: logs.RetentionDays;
  readonly logRemovalPolicy?: RemovalPolicy;
  readonly logLevel?: string;
  readonly metricsNamespace?: string;
}

/**
 * The tamper watch (functions/tamper-watch): a function on the events table's stream that flags
 * every MODIFY, every REMOVE that TTL did not make, and every event inserted into a sealed range,
 * and records each in the operator's security log.
 *
 * The stream is read from TRIM_HORIZON, so a first deploy (or a watch that was down) checks the 24 h
 * the stream keeps. A batch that fails is bisected and retried, then its shard and sequence numbers
 * go to an encrypted dead-letter queue, from which the records can be read again while the stream
 * still holds them. Grants: stream reads on this table's streams; appending events (the table's
 * resource policy lets only the event writers put, and this role is one); GetItem on the control
 * table's verifiable-log items only, which hold the sealed position.
 */
export class TamperWatch extends Construct {
  readonly function: ServiceFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly eventSourceMapping: lambda.EventSourceMapping;

  constructor(scope: Construct, id: string, props: TamperWatchProps) {
    super(scope, id);
    const events = props.tables.events;
    if (!events.tableStreamArn) throw new Error("the events table has no stream for the tamper watch");

    this.function = new ServiceFunction(this, "TamperWatch", {
      entry: join(props.projectRoot, "functions", "tamper-watch", "handler.ts"),
      projectRoot: props.projectRoot,
      description: `Audit log (${props.stage}): tamper watch on the events table's stream`,
      environment: props.environment,
      timeout: props.timeout ?? Duration.seconds(60),
      logRetention: props.logRetention,
      logRemovalPolicy: props.logRemovalPolicy,
      logLevel: props.logLevel,
      metricsNamespace: props.metricsNamespace,
    });
    const role = this.function.role;

    // Violations go into the operator's security log through the one write path (conditional puts).
    props.tables.grantEventAppend(role);
    // The sealed position (`log#<workspace>` / `state`), and nothing else in the control table.
    // (Table key use through DynamoDB comes with the append grant: both tables share one key.)
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["dynamodb:GetItem"],
        resources: [props.tables.control.tableArn],
        conditions: {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${Keys.logPk("")}*`] },
        },
      }),
    );
    // The data actions on this table's current stream only. CDK's grantStreamRead would add
    // ListStreams on "*"; here it is limited to this table's streams, as in AWS's example policy for
    // a stream consumer (it lists stream ARNs, no data).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: STREAM_READ_ACTIONS.filter((a) => a !== "dynamodb:ListStreams"),
        resources: [events.tableStreamArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["dynamodb:ListStreams"],
        resources: [
          Stack.of(this).formatArn({
            service: "dynamodb",
            resource: "table",
            resourceName: `${events.tableName}/stream/*`,
          }),
        ],
      }),
    );
    const table = Stack.of(this).getLogicalId(events.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/<${table}>/stream/*]`,
      reason:
        "Only dynamodb:ListStreams, on the events table's own streams: it names stream ARNs and reads " +
        "no records. The record-reading actions are granted on the current stream's ARN alone.",
    });

    this.deadLetterQueue = deadLetterQueue(this, "DeadLetterQueue", "the tamper watch's stream batches");
    this.eventSourceMapping = this.function.function.addEventSourceMapping("EventsStream", {
      eventSourceArn: events.tableStreamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 100,
      bisectBatchOnError: true,
      retryAttempts: props.retryAttempts ?? 10,
      onFailure: new SqsDlq(this.deadLetterQueue),
    });
  }

  /**
   * The first integrity violation logged, any failed invocation, a batch given up to the
   * dead-letter queue, and a watch an hour behind the stream (which keeps records 24 h) alarm.
   */
  addAlarms(alarms: Alarms): void {
    const fn = this.function.function;
    alarms.onLogMessage(
      "IntegrityViolation",
      this.function.logGroup,
      INTEGRITY_VIOLATION,
      "The tamper watch found the events table changed outside the write path: see the operator's security log (integrity.violation) and docs/integrity.md",
    );
    alarms.watchFunction("TamperWatch", fn);
    alarms.atLeastOnce(
      "TamperWatchDeadLetters",
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      "The tamper watch gave up on a stream batch: those changes were not checked; replay them from the DLQ within 24 h",
    );
    alarms.atOrAbove(
      "TamperWatchIteratorAge",
      fn.metric("IteratorAge", { period: Duration.minutes(5), statistic: "Maximum" }),
      Duration.hours(1).toMilliseconds(),
      "The tamper watch is over an hour behind the events table's stream, which keeps records 24 h",
    );
  }
}
