import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { AppError, UnavailableError } from "../errors.js";
import { logger } from "../logger.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** RFC 9457 problem document. */
export function problem(
  status: number,
  type: string,
  title: string,
  detail: string,
  extensions: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, "cache-control": "no-store", ...headers },
    body: JSON.stringify({ type, title, status, detail, ...extensions }),
  };
}

/**
 * The one place errors become HTTP. Domain errors map to their status; anything else is a generic
 * 500 that reveals nothing and is logged with its cause.
 */
export function problemJson(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: async (request) => {
      // middy aborts just before the Lambda deadline: nothing may be assumed about what was stored.
      const err: unknown =
        request.error instanceof Error && request.error.name === "TimeoutError"
          ? new UnavailableError("the request ran out of time; retry it", { cause: request.error })
          : request.error;
      const instance = request.event.rawPath;
      if (err instanceof AppError) {
        if (err.status >= 500) {
          const operation = err instanceof UnavailableError ? err.operation : undefined;
          logger.error("request failed", { error: err, cause: err.cause, operation, path: instance });
        }
        request.response = problem(
          err.status,
          err.type,
          err.title,
          err.message,
          { instance, ...err.extensions },
          err.headers,
        );
        return;
      }
      logger.error("unhandled error", { error: err as Error, path: instance });
      request.response = problem(
        500,
        "/problems/internal",
        "Internal error",
        "The request failed; it has been logged.",
        {
          instance,
        },
      );
    },
  };
}
