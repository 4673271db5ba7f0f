/**
 * Domain errors. Each carries the HTTP status and the RFC 9457 problem `type` it maps to; the one
 * middleware in http/problem.ts turns them into application/problem+json. Nothing above the
 * adapters ever sees an SDK error type.
 */
export interface FieldError {
  /** JSON Pointer (RFC 6901) into the request body or query, e.g. `/events/3/context/incidentId`. */
  path: string;
  message: string;
}

export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly type: string;
  abstract readonly title: string;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Record<string, string> = {};
  /** Problem extension members added to the body (RFC 9457 §3.2). */
  readonly extensions: Record<string, unknown> = {};
}

export class ValidationError extends AppError {
  override readonly name = "ValidationError";
  readonly status = 400;
  readonly type = "/problems/validation";
  readonly title = "The request is not valid";
  constructor(
    readonly errors: FieldError[],
    detail = errors.length === 1
      ? `${errors[0]?.path || "/"}: ${errors[0]?.message}`
      : `${errors.length} problems in the request`,
  ) {
    super(detail);
    this.extensions.errors = errors;
  }
}

export class BadRequestError extends AppError {
  override readonly name = "BadRequestError";
  readonly status = 400;
  readonly type = "/problems/bad-request";
  readonly title = "Bad request";
}

export class UnauthorizedError extends AppError {
  override readonly name = "UnauthorizedError";
  readonly status = 401;
  readonly type = "/problems/unauthorized";
  readonly title = "Missing or invalid API key";
  override readonly headers = { "www-authenticate": 'Bearer realm="audit-log"' };
}

export class ForbiddenError extends AppError {
  override readonly name = "ForbiddenError";
  readonly status = 403;
  readonly type = "/problems/forbidden";
  readonly title = "The API key lacks the required scope";
}

export class NotFoundError extends AppError {
  override readonly name = "NotFoundError";
  readonly status = 404;
  readonly type = "/problems/not-found";
  readonly title = "Not found";
}

/** The id was already used for an event with different content. */
export class ConflictError extends AppError {
  override readonly name = "ConflictError";
  readonly status = 409;
  readonly type = "/problems/conflict";
  readonly title = "The event id is already used by different content";
}

export class PayloadTooLargeError extends AppError {
  override readonly name = "PayloadTooLargeError";
  readonly status = 413;
  readonly type = "/problems/payload-too-large";
  readonly title = "The request body is too large";
}

export class UnsupportedMediaTypeError extends AppError {
  override readonly name = "UnsupportedMediaTypeError";
  readonly status = 415;
  readonly type = "/problems/unsupported-media-type";
  readonly title = "The request body must be application/json";
}

/**
 * Storage could not be reached or answered with a fault; nothing was acknowledged. `operation`
 * names what failed, for the log only: the client's detail never names internals.
 */
export class UnavailableError extends AppError {
  override readonly name = "UnavailableError";
  readonly status = 503;
  readonly type = "/problems/unavailable";
  readonly title = "The service is temporarily unavailable";
  override readonly headers: Record<string, string>;
  readonly operation: string | undefined;
  constructor(detail: string, options?: { cause?: unknown; retryAfterSeconds?: number; operation?: string }) {
    super(detail, { cause: options?.cause });
    this.headers = { "retry-after": String(options?.retryAfterSeconds ?? 2) };
    this.operation = options?.operation;
  }
}

/** Too many failed attempts from one source: slow down until the window ends. */
export class TooManyRequestsError extends AppError {
  override readonly name = "TooManyRequestsError";
  readonly status = 429;
  readonly type = "/problems/too-many-requests";
  readonly title: string;
  override readonly headers: Record<string, string>;
  constructor(detail: string, retryAfterSeconds: number, title = "Too many failed attempts") {
    super(detail);
    this.title = title;
    this.headers = { "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))) };
  }
}

/** Why a bearer token was refused; carries the key's workspace when its id resolved. */
export class AuthenticationFailure extends Error {
  override readonly name = "AuthenticationFailure";
  constructor(
    readonly reason:
      | "missing_key"
      | "malformed_key"
      | "unknown_key"
      | "wrong_secret"
      | "revoked_key"
      | "expired_session",
    readonly keyId?: string,
    readonly keyWorkspace?: string,
  ) {
    super(`authentication failed: ${reason}`);
  }
}
