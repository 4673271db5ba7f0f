import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { ExportQueue } from "../ports.js";
import { translateStorageError } from "./storage-errors.js";

/** Export requests go to SQS; the worker Lambda (or the local runtime's poller) takes them. */
export class SqsExportQueue implements ExportQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(exportId: string): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify({ exportId }) }),
      );
    } catch (err: unknown) {
      translateStorageError(err, "export queue");
    }
  }
}
