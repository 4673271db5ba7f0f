import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { deadLetterQueue } from "./dead-letter-queue.js";

export interface ScheduledJobProps {
  /** The function to invoke. */
  readonly handler: lambda.IFunction;
  /** When to run. EventBridge evaluates cron expressions in UTC, always. */
  readonly schedule: events.Schedule;
  /** Shown on the rule. */
  readonly description: string;
  /**
   * How often EventBridge retries a failed asynchronous invoke before it gives the event to the DLQ.
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps retrying one event.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
}

/**
 * An EventBridge rule that invokes one function on a schedule. An invocation EventBridge could not
 * deliver lands in an encrypted dead-letter queue (the stack alarms on its depth) instead of
 * vanishing, so a missed run is visible and can be replayed. The jobs are idempotent, so running one
 * again is safe.
 */
export class ScheduledJob extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);

    this.deadLetterQueue = deadLetterQueue(this, "DeadLetterQueue", "the scheduled rule's Lambda target");

    this.rule = new events.Rule(this, "Rule", {
      description: props.description,
      schedule: props.schedule,
      targets: [
        new targets.LambdaFunction(props.handler, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: props.retryAttempts ?? 2,
          maxEventAge: props.maxEventAge ?? Duration.hours(6),
        }),
      ],
    });
  }
}
