import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { MAX_EXPORT_ATTEMPTS } from "../functions/shared/core/exports.js";
import { deadLetterQueue } from "./dead-letter-queue.js";

export interface ExportQueueProps {
  /** The worker's timeout: a message stays invisible six times as long, as AWS advises for SQS event sources. */
  readonly workerTimeout: Duration;
  /**
   * Deliveries before a request goes to the dead-letter queue. One more than the worker's own limit
   * (MAX_EXPORT_ATTEMPTS), so the delivery after the last failed try, even a killed one, marks the
   * export failed instead of leaving it `running`. @default MAX_EXPORT_ATTEMPTS + 1
   */
  readonly maxReceiveCount?: number;
}

/** On-demand export requests (POST /v1/exports), consumed one at a time by the export worker. */
export class ExportQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExportQueueProps) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(this, "DeadLetterQueue", "the export request queue");
    this.queue = new sqs.Queue(this, "Queue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.workerTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: {
        queue: this.deadLetterQueue,
        maxReceiveCount: props.maxReceiveCount ?? MAX_EXPORT_ATTEMPTS + 1,
      },
    });
  }
}
