/// <reference lib="dom" />
/**
 * The API as the page calls it: same origin, `Authorization: Bearer <token>`, problem+json errors
 * turned into {@link ApiError}. The token lives in sessionStorage only (one tab, gone when it
 * closes); it arrives in the URL fragment, which browsers never send to a server.
 */

const TOKEN_KEY = "audit-log.token";

/** The API's root: the page is `<root>dashboard/audit`, so a stage or base path prefix carries over. */
const apiRoot = () => new URL("../", location.href);

/**
 * Moves `#token=…` from the URL into sessionStorage and removes it from the address bar and the
 * history entry (history.replaceState), so it is neither bookmarked, shared nor logged.
 */
export function adoptTokenFromFragment(): void {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token === null) return;
  fragment.delete("token");
  if (token) setToken(token);
  const rest = fragment.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

/** An answer other than 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly problem: Problem = {},
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Thrown instead of sending a request when there is no token: the page shows its sign-in state. */
export class NoTokenError extends Error {
  override readonly name = "NoTokenError";
}

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const token = getToken();
  if (!token) throw new NoTokenError("no session");
  let res: Response;
  try {
    res = await fetch(new URL(path, apiRoot()), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "the service did not answer: check your connection, then retry");
  }
  if (res.ok) return res;
  let problem: Problem = {};
  try {
    problem = (await res.json()) as Problem;
  } catch {
    // Not problem+json (a gateway error page): the status says enough.
  }
  const retry = Number(res.headers.get("retry-after"));
  const detail =
    problem.errors?.length && problem.status === 400
      ? problem.errors.map((e) => `${e.path.replace(/^\//, "") || "request"}: ${e.message}`).join("; ")
      : (problem.detail ?? problem.title ?? res.statusText);
  throw new ApiError(
    res.status,
    detail || `HTTP ${res.status}`,
    problem,
    Number.isFinite(retry) ? retry : undefined,
  );
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request("GET", path)).json()) as T;
}

export async function getText(path: string): Promise<string> {
  return (await request("GET", path)).text();
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await (await request("POST", path, body)).json()) as T;
}

/** A stored event as GET /v1/events returns it (functions/shared/schemas/event.ts). */
export interface StoredEvent {
  id: string;
  type: string;
  category: string;
  recordedAt: string;
  occurredAt: string;
  actor: { type: string; id: string; name?: string };
  node?: { id: string; name?: string };
  resource?: { type: string; id: string };
  sourceIp?: string;
  userAgent?: string;
  outcome: "success" | "failure";
  context: Record<string, unknown>;
  hash: string;
}

export interface EventPage {
  events: StoredEvent[];
  nextCursor: string | null;
}

/** GET/POST /v1/exports (functions/shared/schemas/exports.ts). */
export interface ExportView {
  id: string;
  status: "pending" | "running" | "ready" | "failed";
  format: string;
  eventCount?: number;
  bytes?: number;
  sha256?: string;
  url?: string;
  error?: string;
}

export const query = (params: Record<string, string>) => {
  const q = new URLSearchParams(params).toString();
  return q ? `?${q}` : "";
};
