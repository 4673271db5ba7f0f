/**
 * The HTTP API's routes, shared by the CDK stack (one Lambda integration per route) and the local
 * runtime (which dispatches to the same handler modules). `handler` names the folder under
 * functions/ whose `handler.ts` exports `handler`.
 */
export type Scope = "events:write" | "events:read" | "admin";

/**
 * How an authenticated route refuses a source that is throttled for failed authentications (429
 * until its window ends, whatever key it now presents):
 * - `in-write`: its event writes carry the check in their own transaction (no read first);
 * - `before`: checked (one read) before the route changes anything;
 * - `alongside`: a read route; checked beside the read, whose answer is withheld if it fails.
 */
export type SourceCheck = "in-write" | "before" | "alongside";

interface RouteBase {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** API Gateway route path, with `{param}` placeholders. */
  path: string;
  handler: string;
}

/** A public route (`scope: null`), or one whose caller's key must hold `scope` (one of them, for a list). */
export type RouteDef =
  | (RouteBase & { scope: null })
  | (RouteBase & { scope: Scope | readonly [Scope, ...Scope[]]; sourceCheck: SourceCheck });

export const ROUTES: readonly RouteDef[] = [
  { method: "GET", path: "/v1/health", handler: "health", scope: null },
  { method: "GET", path: "/v1/openapi.json", handler: "openapi", scope: null },
  { method: "GET", path: "/dashboard/audit", handler: "dashboard", scope: null },
  { method: "GET", path: "/dashboard/audit/{asset}", handler: "dashboard", scope: null },
  {
    method: "POST",
    path: "/v1/events",
    handler: "post-events",
    scope: "events:write",
    sourceCheck: "in-write",
  },
  {
    method: "GET",
    path: "/v1/events",
    handler: "list-events",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/events/{id}",
    handler: "get-event",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/events/{id}/proof",
    handler: "get-event-proof",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/log/checkpoint",
    handler: "get-log-checkpoint",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/log/key",
    handler: "get-log-key",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/log/tile/{path+}",
    handler: "get-log-tile",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "GET",
    path: "/v1/log/consistency",
    handler: "get-log-consistency",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  { method: "POST", path: "/v1/keys", handler: "create-key", scope: "admin", sourceCheck: "before" },
  { method: "GET", path: "/v1/keys", handler: "list-keys", scope: "admin", sourceCheck: "alongside" },
  {
    method: "POST",
    path: "/v1/keys/{keyId}/rotate",
    handler: "rotate-key",
    scope: "admin",
    sourceCheck: "before",
  },
  {
    method: "DELETE",
    path: "/v1/keys/{keyId}",
    handler: "revoke-key",
    scope: "admin",
    sourceCheck: "before",
  },
  { method: "GET", path: "/v1/settings", handler: "get-settings", scope: "admin", sourceCheck: "alongside" },
  { method: "PUT", path: "/v1/settings", handler: "put-settings", scope: "admin", sourceCheck: "before" },
  {
    method: "GET",
    path: "/v1/exports/nightly",
    handler: "list-nightly-exports",
    scope: "events:read",
    sourceCheck: "alongside",
  },
  {
    method: "POST",
    path: "/v1/exports",
    handler: "create-export",
    scope: "events:read",
    sourceCheck: "before",
  },
  // An admin key mints for its workspace; a reader key for itself (read-only, as it is).
  {
    method: "POST",
    path: "/v1/viewer-sessions",
    handler: "create-viewer-session",
    scope: ["admin", "events:read"],
    sourceCheck: "before",
  },
  {
    method: "GET",
    path: "/v1/exports/{id}",
    handler: "get-export",
    scope: "events:read",
    sourceCheck: "alongside",
  },
];

/**
 * Scheduled jobs: EventBridge rules on AWS, timers in the local runtime. Cron fields are UTC (as
 * EventBridge's always are).
 */
export interface ScheduleDef {
  handler: string;
  description: string;
  schedule: { cron: { minute: string; hour: string } } | { everyMinutes: number };
}

export const SCHEDULES: readonly ScheduleDef[] = [
  {
    handler: "nightly-export",
    description: "the previous UTC day of every enterprise workspace to the Object Lock bucket",
    schedule: { cron: { minute: "15", hour: "0" } },
  },
  {
    handler: "seal-log",
    description: "each workspace's new events into its Merkle tree, tiles and a signed checkpoint",
    schedule: { everyMinutes: 1 },
  },
  {
    handler: "flush-access-failures",
    description: "one access.denied event per ended window of failed authentications",
    schedule: { everyMinutes: 1 },
  },
];

/** Handler folders that are not behind an HTTP route. */
export const SCHEDULED_HANDLERS = SCHEDULES.map((s) => s.handler);

/** Workers fed by a queue (SQS on AWS, a poller in the local runtime). */
export const QUEUE_WORKERS = [{ handler: "export-worker", queue: "exports" }] as const;
