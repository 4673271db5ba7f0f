import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";

/**
 * The local stand-in for an SQS event source mapping: polls the queue and hands each message
 * to the worker handler in an SQS-shaped event, deleting it once the handler succeeds (a failure
 * leaves it for redelivery after the visibility timeout, as Lambda would).
 */
export function pollQueue(
  sqs: SQSClient,
  queueUrl: string,
  worker: () => Promise<(event: SQSEvent) => Promise<unknown>>,
  log: (line: string) => void,
): () => void {
  let running = true;
  void (async () => {
    while (running) {
      try {
        // Short polls: moto handles one request at a time, so a long poll would stall every other call.
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 1,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
        );
        if (!out.Messages?.length) await new Promise((r) => setTimeout(r, 250));
        for (const message of out.Messages ?? []) {
          const handler = await worker();
          await handler({
            Records: [
              {
                messageId: message.MessageId ?? "",
                receiptHandle: message.ReceiptHandle ?? "",
                body: message.Body ?? "",
                attributes: {
                  ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? "1",
                } as SQSEvent["Records"][0]["attributes"],
                messageAttributes: {},
                md5OfBody: message.MD5OfBody ?? "",
                eventSource: "aws:sqs",
                eventSourceARN: queueUrl,
                awsRegion: "us-east-1",
              },
            ],
          });
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
          );
        }
      } catch (err: unknown) {
        if (running) log(`queue worker: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  })();
  return () => {
    running = false;
  };
}
