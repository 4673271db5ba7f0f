import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.js";

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 256 * 1024;

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** Parses a JSON body: 415 unless JSON, 413 past {@link MAX_BODY_BYTES}, 400 when malformed. */
export function jsonBody(event: APIGatewayProxyEventV2): unknown {
  const type = (header(event, "content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type !== "application/json" && !/^application\/[a-z0-9.+-]*\+json$/.test(type)) {
    throw new UnsupportedMediaTypeError(`send Content-Type: application/json (got ${type || "none"})`);
  }
  const raw = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64")
    : Buffer.from(event.body ?? "", "utf8");
  if (raw.length > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`the body is ${raw.length} bytes; the limit is ${MAX_BODY_BYTES}`);
  }
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err: unknown) {
    throw new BadRequestError(`the body is not valid JSON: ${(err as Error).message}`);
  }
}

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}
