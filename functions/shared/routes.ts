/**
 * The HTTP API's routes, shared by the CDK stack (one Lambda integration per route) and the local
 * runtime (which dispatches to the same handler modules). `handler` names the folder under
 * functions/ whose `handler.ts` exports `handler`.
 */
export type Scope = "events:write" | "events:read" | "admin";

export interface RouteDef {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** API Gateway route path, with `{param}` placeholders. */
  path: string;
  handler: string;
  /** Scope the caller's key must hold; `null` for public routes. */
  scope: Scope | null;
}

export const ROUTES: readonly RouteDef[] = [
  { method: "GET", path: "/v1/health", handler: "health", scope: null },
  { method: "GET", path: "/v1/openapi.json", handler: "openapi", scope: null },
  { method: "POST", path: "/v1/events", handler: "post-events", scope: "events:write" },
  { method: "GET", path: "/v1/events", handler: "list-events", scope: "events:read" },
  { method: "GET", path: "/v1/events/{id}", handler: "get-event", scope: "events:read" },
];

/** Handler folders that are not behind an HTTP route (scheduled jobs). */
export const SCHEDULED_HANDLERS = ["nightly-export"] as const;
