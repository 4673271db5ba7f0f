/**
 * Exit codes of `audit-log`, one per kind of failure, so scripts can tell a bad key from a server in
 * trouble. `verify` keeps the offline verifier's own codes (docs/evidence.md).
 */
export const EXIT = {
  ok: 0,
  /** Bad flags or arguments, an unreadable file, or a filter the API rejected (400). */
  usage: 1,
  /** No key found, or the API refused it (401, 403). */
  auth: 2,
  /** The API answered 404: no such event or export in this workspace, or no checkpoint yet. */
  notFound: 3,
  /** The API failed: 5xx, 503 or 429 still after the retries, an export that failed, an answer that is not the API's. */
  api: 4,
  /** The downloaded export's SHA-256 or size is not what the API states. */
  checksum: 5,
  /** The API could not be reached: connection refused, DNS, reset, timeout. */
  network: 6,
  /** Stopped by Ctrl-C (except `tail`, for which Ctrl-C is the normal end: 0). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports as one line on stderr and an exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** The epilogue of `audit-log --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0    ok
  1    usage: bad flags or arguments, or a filter the API rejected (400)
  2    authentication: no key found, or the API refused it (401, 403)
  3    not found (404)
  4    API error: 5xx, 503/429 still after retries, an export that failed
  5    checksum mismatch: the downloaded export is not the file the API describes
  6    network: the API could not be reached
  130  interrupted (Ctrl-C); tail exits 0 on Ctrl-C
  verify exits with the offline verifier's codes 0-7 (audit-log verify --help)`;
