import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { visit } from "jsonc-parser";
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

/** Deepest nesting a body may have: an event's context nests 6 levels inside a batch's 3. */
export const MAX_BODY_DEPTH = 16;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a JSON body: 415 unless JSON, 413 past {@link MAX_BODY_BYTES}, 400 when malformed. Also
 * 400 for what JSON.parse would accept but the log could not store exactly as sent: bytes that are
 * not UTF-8 (they would become U+FFFD), a duplicate key (the last one would win), `__proto__` as a
 * key (dropped on copy), integers beyond ±(2^53 − 1) (rounded) or numbers beyond a double
 * (`1e400` is Infinity), lone surrogates (not encodable), and nesting past {@link MAX_BODY_DEPTH}.
 */
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
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new BadRequestError("the body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text, exactly);
  } catch (err: unknown) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError(`the body is not valid JSON: ${(err as Error).message}`);
  }
  try {
    checkStructure(text);
  } catch (err: unknown) {
    if (err instanceof BadRequestError) throw err;
    throw new BadRequestError("the body nests too deep");
  }
  return value;
}

/** JSON.parse reviver: refuses values that would not be stored as sent. */
function exactly(key: string, value: unknown, context?: { source?: string }): unknown {
  if (key === "__proto__") throw new BadRequestError("`__proto__` is not allowed as a key");
  if (!key.isWellFormed()) throw new BadRequestError("a key holds a lone surrogate (not valid Unicode)");
  if (typeof value === "string" && !value.isWellFormed()) {
    throw new BadRequestError("a string holds a lone surrogate (not valid Unicode)");
  }
  if (typeof value === "number") {
    const source = context?.source ?? String(value);
    if (!Number.isFinite(value)) throw new BadRequestError(`the number ${source} is out of range`);
    // By value, not by spelling: 9007199254740993.0 and 9007199254740993e0 are rounded as well.
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      throw new BadRequestError(
        `the number ${source} is an integer beyond ±(2^53 − 1) and would be rounded; send it as a string`,
      );
    }
    if (Object.is(value, -0)) throw new BadRequestError("-0 would be stored as 0; send 0");
    if (value === 0 && /[1-9]/.test(source.replace(/[eE].*$/, ""))) {
      throw new BadRequestError(`the number ${source} is too small for a double and would be stored as 0`);
    }
  }
  return value;
}

/** Refuses duplicate keys in an object and nesting deeper than {@link MAX_BODY_DEPTH}. */
function checkStructure(text: string): void {
  const objects: (Set<string> | undefined)[] = [];
  let problem: string | undefined;
  const enter = (keys: Set<string> | undefined) => {
    objects.push(keys);
    if (objects.length > MAX_BODY_DEPTH) problem ??= `the body nests more than ${MAX_BODY_DEPTH} levels deep`;
  };
  visit(
    text,
    {
      onObjectBegin: () => enter(new Set()),
      onArrayBegin: () => enter(undefined),
      onObjectEnd: () => void objects.pop(),
      onArrayEnd: () => void objects.pop(),
      onObjectProperty: (property) => {
        const keys = objects.at(-1);
        if (keys?.has(property))
          problem ??= `the key ${JSON.stringify(property)} appears twice in one object`;
        keys?.add(property);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  if (problem) throw new BadRequestError(problem);
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

/** A non-JSON answer (a checkpoint note, a tile); binary bodies go out base64, as API Gateway wants. */
export function raw(
  statusCode: number,
  body: string | Buffer,
  contentType: string,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  const binary = Buffer.isBuffer(body);
  return {
    statusCode,
    headers: { "content-type": contentType, "cache-control": "no-store", ...headers },
    body: binary ? body.toString("base64") : body,
    isBase64Encoded: binary,
  };
}
