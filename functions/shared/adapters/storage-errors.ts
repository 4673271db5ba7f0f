import { UnavailableError } from "../errors.js";

const RETRYABLE = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "LimitExceededException",
  "TimeoutError",
]);

/**
 * Decides whether an SDK failure is storage trouble (→ 503 with Retry-After) or a bug (→ rethrown,
 * a generic 500). Transport failures carry no `$metadata.httpStatusCode`: the request never got an
 * answer, so nothing can be assumed stored.
 */
export function isStorageUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & {
    $fault?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { statusCode?: number };
  };
  if (RETRYABLE.has(e.name) || e.$fault === "server") return true;
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  // No status: the request never got an answer. 5xx (even one whose body would not parse): the
  // engine failed. Either way nothing can be assumed stored.
  return status === undefined || status >= 500;
}

/** What a client is told when storage fails: never which operation. */
export const STORAGE_UNAVAILABLE = "storage is unavailable; retry after Retry-After (ids make a retry safe)";

export function translateStorageError(err: unknown, what: string): never {
  if (isStorageUnavailable(err))
    throw new UnavailableError(STORAGE_UNAVAILABLE, { cause: err, operation: what });
  throw err;
}
