import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { AuditWriteUnavailable } from "../core/events.js";
import { count, countBy, Metric, publishMetrics, REJECTION_REASON } from "../metrics.js";

type Result = { status?: string };

/** The statuses of a batch's `results`, in a 200 or in a 409/429/503 problem document. */
function resultsOf(body: string | undefined): Result[] | undefined {
  try {
    const parsed = JSON.parse(body ?? "") as { results?: unknown };
    return Array.isArray(parsed.results) ? (parsed.results as Result[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A route's metrics, from its answer: 5xx, 401 and 429 on every route; on POST /v1/events, the
 * events accepted and replayed and the posts refused by reason; and a record the service owes the
 * log that could not be written. Registered before problemJson(), so its onError sees the problem
 * document problemJson made. Published at the end of every request.
 */
export function routeMetrics(
  handlerName: string,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const posts = handlerName === "post-events";
  const record = (response: APIGatewayProxyStructuredResultV2 | undefined | null, error?: unknown) => {
    const status = response?.statusCode ?? 500;
    if (status >= 500) count(Metric.serverErrors);
    if (status === 401) count(Metric.authFailures);
    if (status === 429) count(Metric.throttled);
    if (error instanceof AuditWriteUnavailable) count(Metric.auditWriteFailed);
    if (posts) {
      // A single event's 201 is one accepted: its body (the stored event) is not read again.
      const results =
        status === 201
          ? undefined
          : resultsOf(typeof response?.body === "string" ? response.body : undefined);
      if (results) {
        count(Metric.eventsAccepted, results.filter((r) => r.status === "created").length);
        count(Metric.eventsReplayed, results.filter((r) => r.status === "duplicate").length);
      } else if (status === 201) count(Metric.eventsAccepted);
      else if (status === 200) count(Metric.eventsReplayed);
      if (status >= 400) countBy(Metric.postsRejected, "Reason", REJECTION_REASON[status] ?? String(status));
    }
    publishMetrics();
  };
  return {
    after: async (request) => record(request.response),
    onError: async (request) => record(request.response, request.error),
  };
}
