import { CliError, EXIT, type ExitCode } from "./exit.js";
import { printable } from "./format.js";
import type { Io } from "./io.js";

export interface ApiClientOptions {
  baseUrl: string;
  key: string;
  /** Where the key came from, named in 401/403 messages. */
  keySource: string;
  userAgent: string;
  io: Pick<Io, "fetch" | "sleep" | "now" | "signal">;
  /**
   * Retries of a 429 or 503 (which carry Retry-After; a 503 means nothing was done, so a retry is safe).
   * @default 3
   */
  retries?: number;
  /**
   * The longest Retry-After the client waits out; a longer one fails at once, saying how long.
   * @default 30000
   */
  maxRetryWaitMs?: number;
  /** @default 30000 */
  timeoutMs?: number;
  /** Told of each retry (a line on stderr). */
  onRetry?: (message: string) => void;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  accept?: string;
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** The exit code an HTTP error status maps to. */
export function exitCodeOf(status: number): ExitCode {
  if (status === 400 || status === 422) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  return EXIT.api;
}

interface Problem {
  title?: unknown;
  detail?: unknown;
  message?: unknown;
  errors?: { path?: unknown; message?: unknown }[];
}

/**
 * One line for an error answer: the problem+json `title` and `detail` (and each validation error's
 * path and message), else an API Gateway `{message}`, else the status text.
 */
export function describeError(status: number, statusText: string, contentType: string, text: string): string {
  let problem: Problem | undefined;
  if (/json/i.test(contentType)) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === "object") problem = parsed as Problem;
    } catch {
      // not JSON after all: fall through to the status text
    }
  }
  let line = `${status}`;
  if (typeof problem?.title === "string") {
    line += ` ${problem.title}`;
    if (typeof problem.detail === "string" && problem.detail && problem.detail !== problem.title)
      line += `: ${problem.detail}`;
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    // The API's detail often already reads "/type: must be …": list only what it does not say.
    const listed = errors
      .filter((e) => typeof e?.message === "string" && !detail.includes(e.message as string))
      .map((e) => `${typeof e.path === "string" && e.path ? `${e.path} ` : ""}${e.message}`);
    if (listed.length) line += ` (${listed.join("; ")})`;
  } else if (typeof problem?.message === "string") {
    line += ` ${problem.message}`;
  } else {
    line += statusText ? ` ${statusText}` : "";
    const snippet = text.trim().slice(0, 200);
    if (snippet && /^text\/plain/i.test(contentType)) line += `: ${snippet}`;
  }
  return printable(line.replace(/\s*\n\s*/g, " "));
}

/** Why fetch threw, in one line: the system error code when there is one. */
function networkMessage(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "no answer in time";
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}

const isLoopback = (url: URL) => ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);

/** The audit log API over fetch: bearer key, JSON, bounded retries on 429/503, errors as {@link CliError}. */
export class ApiClient {
  readonly baseUrl: string;
  private readonly retries: number;
  private readonly maxRetryWaitMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl;
    this.retries = options.retries ?? 3;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  url(path: string, query: Record<string, string | undefined> = {}): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, v);
    const s = qs.toString();
    return `${this.baseUrl}${path}${s ? `?${s}` : ""}`;
  }

  /** A 2xx answer, or a {@link CliError} with the exit code its status maps to. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const { io } = this.options;
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.key}`,
      accept: options.accept ?? "application/json",
      "user-agent": this.options.userAgent,
    };
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const signal = io.signal ? AbortSignal.any([io.signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await io.fetch(url, { method, headers, body, signal });
      } catch (err: unknown) {
        if (io.signal?.aborted) throw new CliError("interrupted", EXIT.interrupted);
        const target = new URL(url);
        const hint = isLoopback(target) ? " (is the local runtime running? npm start)" : "";
        throw new CliError(`cannot reach ${target.origin}: ${networkMessage(err)}${hint}`, EXIT.network);
      }
      if (res.ok) return res;
      const text = await res.text().catch(() => "");
      let line = describeError(res.status, res.statusText, res.headers.get("content-type") ?? "", text);
      if (res.status === 429 || res.status === 503) {
        const wait = retryAfterMs(res.headers.get("retry-after"), io.now()) ?? 1000 * 2 ** attempt;
        if (attempt < this.retries && wait <= this.maxRetryWaitMs) {
          this.options.onRetry?.(
            `${line}; retrying in ${Math.ceil(wait / 1000)} s (${attempt + 1}/${this.retries})`,
          );
          await io.sleep(wait, io.signal);
          if (io.signal?.aborted) throw new CliError("interrupted", EXIT.interrupted);
          continue;
        }
        line +=
          wait > this.maxRetryWaitMs
            ? ` (the API asks to retry in ${Math.ceil(wait / 1000)} s)`
            : ` (still after ${this.retries} retries)`;
      }
      if (res.status === 401 || res.status === 403) line += ` (key: ${this.options.keySource})`;
      throw new CliError(line, exitCodeOf(res.status));
    }
  }

  /** The answer's JSON; an answer that is not JSON is not the audit log API's. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        `${method} ${path} answered ${res.status} with something that is not JSON: is ${this.baseUrl} the audit log API?`,
        EXIT.api,
      );
    }
  }

  async text(method: string, path: string, options: RequestOptions = {}): Promise<string> {
    return (await this.send(method, path, { accept: "text/plain", ...options })).text();
  }
}
