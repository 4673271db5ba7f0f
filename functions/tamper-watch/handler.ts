import type { DynamoDBStreamEvent } from "aws-lambda";
import { watchStream } from "#shared/core/tamper-watch.js";
import { type Deps, defaultDeps } from "#shared/deps.js";
import { logger } from "#shared/logger.js";

/**
 * The events table's DynamoDB stream (NEW_AND_OLD_IMAGES): flags every MODIFY, every REMOVE that
 * TTL did not make, and every event that appears in a sealed range. A batch whose violation cannot
 * be recorded throws; the event source mapping retries it, bisecting, then hands it to the DLQ.
 */
export const makeHandler =
  (deps: Deps = defaultDeps()) =>
  async (event: DynamoDBStreamEvent) => {
    const outcome = await watchStream(deps, event.Records);
    logger.debug("stream batch checked", { records: outcome.records, violations: outcome.violations.length });
    return { records: outcome.records, violations: outcome.violations.length };
  };

export const handler = makeHandler();
