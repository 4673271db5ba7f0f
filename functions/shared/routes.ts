import * as z from "zod";
import type { ZodOpenApiOperationObject } from "zod-openapi";
import { batchProblemResponse, common, problemResponse, retryAfter } from "./http/responses.js";
import {
  apiKeySchema,
  apiKeyWithSecretSchema,
  createKeyBodySchema,
  createViewerSessionBodySchema,
  rotateKeyBodySchema,
  settingsBodySchema,
  settingsSchema,
  viewerSessionSchema,
} from "./schemas/admin.js";
import {
  postEventsBodySchema,
  postEventsRequestSchema,
  storedEventIdSchema,
  storedEventSchema,
} from "./schemas/event.js";
import {
  createExportBodySchema,
  exportSchema,
  nightlyListQuerySchema,
  nightlyListSchema,
} from "./schemas/exports.js";
import { consistencyQuerySchema, consistencySchema, eventProofSchema, logKeySchema } from "./schemas/log.js";
import { listEventsQuerySchema } from "./schemas/query.js";
import { ControlIndex } from "./table.js";

/**
 * The route manifest: each route's method, path, handler, scope, what it validates, what its
 * function may touch on AWS, and its OpenAPI operation, in one entry. The handler's wrapper
 * (http/route.ts) reads its scope, source check and request schemas; the CDK stack its path and
 * needs (one Lambda integration per route, one function per handler, granted exactly its needs);
 * the OpenAPI generator its operation, with the request body and query from its schemas; the local
 * runtime dispatches to the same handler modules. `handler` names the folder under functions/ whose
 * `handler.ts` exports `handler`.
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

/** Kinds of item in the control table, each under its own partition-key prefix (lib/tables.ts). */
export type ControlItem =
  | "apiKey"
  | "workspace"
  | "failureCounter"
  | "reachCounter"
  | "exportJob"
  | "logState"
  | "rateCounter";

/**
 * What a function may do in the control table beyond GetItem (which every grant includes: API keys
 * and workspaces are looked up by id).
 */
export interface ControlAccess {
  /**
   * Item kinds it may put (PutItem): new items with `attribute_not_exists`, and the log's state,
   * replaced only under its revision condition (functions/shared/adapters/dynamodb-log-store.ts).
   */
  readonly create?: readonly ControlItem[];
  /** Item kinds it may change (UpdateItem). */
  readonly update?: readonly ControlItem[];
  /** Item kinds its event writes may condition on (a ConditionCheck in their transaction). */
  readonly check?: readonly ControlItem[];
  /** GSIs of the control table it may Query, by name (`ControlIndex`). */
  readonly queryIndexes?: readonly string[];
  /** Scan: the export job lists every workspace. The control table is small and holds no events. */
  readonly scan?: boolean;
  /** Query the verifiable log's items (`log#…`: its state and tile anchors) and nothing else. */
  readonly queryLog?: boolean;
}

/**
 * What one function may touch on AWS; the stack grants exactly this (lib/audit-log-stack.ts) and
 * nothing else. Every authenticated route may also append events (its audit records), read keys
 * and workspaces, and count failures, reaches and its workspace's requests.
 */
export interface Needs {
  /** May append events (conditional PutItem in a transaction, and GetItem to check a replayed id). */
  readonly appendEvents?: boolean;
  /** May Query the events table and its GSIs, and GetItem on it. */
  readonly queryEvents?: boolean;
  /** May Query only the byEventId index (which workspaces hold an id; no event content). */
  readonly lookupEventOwners?: boolean;
  /** Control table access beyond GetItem; see {@link ControlAccess}. */
  readonly control?: ControlAccess;
  /** May read the HMAC key that seals paging cursors. */
  readonly cursorSecret?: boolean;
  /**
   * Customers' export-destination credentials in Secrets Manager (`audit-log/<stage>/destinations/`),
   * and `DESTINATION_SECRET_PREFIX`: "write" may create a workspace's secret and put new values
   * (never read one back); "read" may only get the value.
   */
  readonly destinationSecrets?: "write" | "read";
  /**
   * The Object Lock bucket, and `EXPORT_BUCKET`: "write" may put objects with retention (and read
   * them back); "read" may only get and list.
   */
  readonly exportBucket?: "write" | "read";
  /**
   * The verifiable log: "seal" may sign checkpoints with the stage's KMS key, replace the log's
   * state and anchors, and write tiles (`LOG_SIGNING_KEY_ID`, `LOG_NAME`, `EXPORT_BUCKET`); "read"
   * may read the state, anchors and tiles, and never touches the key (`LOG_NAME`, `EXPORT_BUCKET`);
   * "key" may only read the key's public half (`LOG_SIGNING_KEY_ID`, `LOG_NAME`).
   */
  readonly verifiableLog?: "seal" | "read" | "key";
  /**
   * The export queue: "send" puts export requests on it (and gets `EXPORT_QUEUE_URL`); "consume" is
   * fed by it (batch size 1). The worker does both: it queues the rest of an export to hand over.
   */
  readonly exportQueue?: readonly ("send" | "consume")[];
}

/** A JSON body the wrapper parses and validates before the handler runs (400 naming each problem). */
export interface BodySpec<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Without it, an empty body is validated as `{}`. */
  required: boolean;
  /** What the OpenAPI document shows, when `schema` is not itself a plain shape. @default schema */
  docs?: z.ZodType;
}

interface RouteBase<H extends string, B extends BodySpec | undefined, Q extends z.ZodType | undefined> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** API Gateway route path, with `{param}` placeholders. */
  path: string;
  handler: H;
  /** Its function's description (the first route of a handler gives it). */
  description: string;
  needs?: Needs;
  body?: B;
  /** The query string's schema: validated (400) before the handler runs. */
  query?: Q;
  /** Its OpenAPI operation, without the request body and query (from `body` and `query`); null: not an API route. */
  operation: ZodOpenApiOperationObject | null;
}

/** A public route (`scope: null`), or one whose caller's key must hold `scope` (one of them, for a list). */
export type RouteDef<
  H extends string = string,
  B extends BodySpec | undefined = BodySpec | undefined,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
> =
  | (RouteBase<H, B, Q> & { scope: null })
  | (RouteBase<H, B, Q> & { scope: Scope | readonly [Scope, ...Scope[]]; sourceCheck: SourceCheck });

/** One entry, with its handler name and request schemas kept in its type (for the wrapper's typing). */
const route = <
  const H extends string,
  B extends BodySpec | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
>(
  def: RouteDef<H, B, Q>,
) => def;

export const ROUTES = [
  route({
    method: "GET",
    path: "/v1/health",
    handler: "health",
    description: "GET /v1/health",
    scope: null,
    operation: {
      operationId: "health",
      summary: "Liveness check (no key needed)",
      security: [],
      responses: {
        "200": {
          description: "Up",
          content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
        },
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/openapi.json",
    handler: "openapi",
    description: "GET /v1/openapi.json",
    scope: null,
    operation: {
      operationId: "openapi",
      summary: "This document",
      security: [],
      responses: {
        "200": {
          description: "OpenAPI 3.1 document",
          content: { "application/json": { schema: z.object({}).loose() } },
        },
      },
    },
  }),
  // The Audit Log page (HTML, its script and style): public, its browser code authenticates to the
  // API. Not part of the API's OpenAPI document.
  route({
    method: "GET",
    path: "/dashboard/audit",
    handler: "dashboard",
    description: "GET /dashboard/audit: the Audit Log page",
    scope: null,
    operation: null,
  }),
  route({
    method: "GET",
    path: "/dashboard/audit/{asset}",
    handler: "dashboard",
    scope: null,
    description: "the Audit Log page's script and style",
    operation: null,
  }),
  route({
    method: "POST",
    path: "/v1/events",
    handler: "post-events",
    description: "POST /v1/events: append events",
    scope: "events:write",
    sourceCheck: "in-write",
    needs: {
      appendEvents: true,
      // The append's transaction refuses a throttled source: a ConditionCheck on its failure counter.
      control: { check: ["failureCounter"] },
    },
    body: { schema: postEventsRequestSchema, required: true, docs: postEventsBodySchema },
    operation: {
      operationId: "postEvents",
      summary: "Record one event, or a batch of 1–100",
      description:
        "Write-once. `id` is the idempotency key: the same id with the same content answers 200 with the stored event and stores nothing new; with other content, 409.",
      responses: {
        "201": { description: "Stored", content: { "application/json": { schema: storedEventSchema } } },
        "200": {
          description: "A replay of a stored event, or the results of a batch",
          content: {
            "application/json": {
              schema: z.union([
                storedEventSchema,
                z
                  .object({
                    results: z.array(z.object({ id: z.string(), status: z.enum(["created", "duplicate"]) })),
                  })
                  .meta({ id: "BatchResults" }),
              ]),
            },
          },
        },
        ...common,
        "409": batchProblemResponse(
          "The id is already used by different content (a batch: `results` says which; the others were stored).",
        ),
        "503": {
          ...batchProblemResponse(
            "Storage unavailable: the outcome is unknown for what `results` does not list. Retry the same request after Retry-After; ids make that safe.",
          ),
          headers: retryAfter,
        },
        "429": {
          ...batchProblemResponse(
            "The source is throttled for failed authentications, or the workspace is over its request rate: nothing more was stored (a batch refused part-way lists in `results` what was). Retry after Retry-After.",
          ),
          headers: retryAfter,
        },
        "413": problemResponse("The body is larger than 256 KB."),
        "415": problemResponse("The body is not application/json."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/events",
    handler: "list-events",
    description: "GET /v1/events: query events",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { queryEvents: true, cursorSecret: true },
    query: listEventsQuerySchema,
    operation: {
      operationId: "listEvents",
      summary: "Query the log, newest first",
      responses: {
        "200": {
          description: "One page",
          content: {
            "application/json": {
              schema: z
                .object({ events: z.array(storedEventSchema), nextCursor: z.string().nullable() })
                .meta({ id: "EventPage" }),
            },
          },
        },
        ...common,
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/events/{id}",
    handler: "get-event",
    description: "GET /v1/events/{id}",
    scope: "events:read",
    sourceCheck: "alongside",
    operation: {
      operationId: "getEvent",
      summary: "One event by id",
      requestParams: { path: z.object({ id: storedEventIdSchema }) },
      responses: {
        "200": { description: "The event", content: { "application/json": { schema: storedEventSchema } } },
        ...common,
        "404": problemResponse("No such event in the caller's workspace."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/events/{id}/proof",
    handler: "get-event-proof",
    description: "GET /v1/events/{id}/proof: inclusion proof",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { verifiableLog: "read" },
    operation: {
      operationId: "getEventProof",
      summary: "An event's leaf index and inclusion proof against the latest checkpoint",
      description:
        "409 while the event is not covered by a checkpoint yet (within about two minutes of its write), or when its stored content is not what the log sealed (reported to the operator). Recorded as `audit.queried`.",
      requestParams: { path: z.object({ id: storedEventIdSchema }) },
      responses: {
        "200": { description: "The proof", content: { "application/json": { schema: eventProofSchema } } },
        ...common,
        "404": problemResponse("No such event in the caller's workspace."),
        "409": problemResponse("Not covered by a checkpoint yet, or not in the tree as stored."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/log/checkpoint",
    handler: "get-log-checkpoint",
    description: "GET /v1/log/checkpoint: the latest signed checkpoint",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { verifiableLog: "read" },
    operation: {
      operationId: "getLogCheckpoint",
      summary: "The workspace's latest signed checkpoint (c2sp.org/tlog-checkpoint, as a signed note)",
      description: "Recorded as `audit.queried`.",
      responses: {
        "200": { description: "The note", content: { "text/plain": { schema: z.string() } } },
        ...common,
        "404": problemResponse("No checkpoint yet: the workspace has no events."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/log/key",
    handler: "get-log-key",
    description: "GET /v1/log/key: the checkpoint verifier key",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { verifiableLog: "key" },
    operation: {
      operationId: "getLogKey",
      summary: "The key that verifies checkpoints, and this workspace's origin",
      description: "Pin it out of band (docs/integrity.md). Recorded as `audit.queried`.",
      responses: {
        "200": { description: "The key", content: { "application/json": { schema: logKeySchema } } },
        ...common,
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/log/tile/{path+}",
    handler: "get-log-tile",
    description: "GET /v1/log/tile/*: the tree's hash tiles",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { verifiableLog: "read" },
    operation: {
      operationId: "getLogTile",
      summary: "A hash tile of the workspace's tree (c2sp.org/tlog-tiles: tile/<L>/<N>[.p/<W>])",
      description: "Hash tiles hold hashes only, no event content. Recorded as `audit.queried`.",
      requestParams: { path: z.object({ path: z.string().meta({ description: "`<L>/<N>[.p/<W>]`" }) }) },
      responses: {
        "200": {
          description: "width × 32 bytes",
          content: { "application/octet-stream": { schema: z.string() } },
        },
        ...common,
        "404": problemResponse("Not a tile path, or a tile the tree does not have."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/log/consistency",
    handler: "get-log-consistency",
    description: "GET /v1/log/consistency: consistency proof",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { verifiableLog: "read" },
    query: consistencyQuerySchema,
    operation: {
      operationId: "getLogConsistency",
      summary: "A consistency proof between two tree sizes",
      description: "Recorded as `audit.queried`.",
      responses: {
        "200": { description: "The proof", content: { "application/json": { schema: consistencySchema } } },
        ...common,
        "404": problemResponse("No checkpoint yet: the workspace has no events."),
      },
    },
  }),
  route({
    method: "POST",
    path: "/v1/keys",
    handler: "create-key",
    description: "POST /v1/keys",
    scope: "admin",
    sourceCheck: "before",
    needs: { control: { create: ["apiKey"] } },
    body: { schema: createKeyBodySchema, required: true },
    operation: {
      operationId: "createKey",
      summary: "Create an API key (admin)",
      description: "The token is in this answer only. Recorded as `apikey.created`.",
      responses: {
        "201": {
          description: "Created",
          content: { "application/json": { schema: apiKeyWithSecretSchema } },
        },
        ...common,
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/keys",
    handler: "list-keys",
    description: "GET /v1/keys",
    scope: "admin",
    sourceCheck: "alongside",
    needs: { control: { queryIndexes: [ControlIndex.keysByWorkspace] } },
    operation: {
      operationId: "listKeys",
      summary: "List the workspace's API keys, metadata only (admin)",
      responses: {
        "200": {
          description: "Keys",
          content: {
            "application/json": {
              schema: z.object({ keys: z.array(apiKeySchema) }).meta({ id: "ApiKeyList" }),
            },
          },
        },
        ...common,
      },
    },
  }),
  route({
    method: "POST",
    path: "/v1/keys/{keyId}/rotate",
    handler: "rotate-key",
    description: "POST /v1/keys/{keyId}/rotate",
    scope: "admin",
    sourceCheck: "before",
    needs: { control: { update: ["apiKey"] } },
    body: { schema: rotateKeyBodySchema, required: false },
    operation: {
      operationId: "rotateKey",
      summary: "Rotate a key's secret (admin)",
      description:
        "Same key id, new secret (shown once), valid at once. The old secret keeps working for `graceSeconds` (default 86400), and stops within 60 s after that (the service caches key records for up to 60 s); revoke a leaked key instead of rotating it with no grace. Recorded as `apikey.rotated`.",
      requestParams: { path: z.object({ keyId: z.string() }) },
      responses: {
        "200": {
          description: "Rotated",
          content: { "application/json": { schema: apiKeyWithSecretSchema } },
        },
        ...common,
        "404": problemResponse("No such key in this workspace."),
        "409": problemResponse("The key is revoked, or changed meanwhile."),
      },
    },
  }),
  route({
    method: "DELETE",
    path: "/v1/keys/{keyId}",
    handler: "revoke-key",
    description: "DELETE /v1/keys/{keyId}",
    scope: "admin",
    sourceCheck: "before",
    needs: { control: { update: ["apiKey"] } },
    operation: {
      operationId: "revokeKey",
      summary: "Revoke a key (admin)",
      description:
        "The key is refused within 60 s everywhere (the service caches key records for up to 60 s). Recorded as `apikey.revoked`; no audit record is touched.",
      requestParams: { path: z.object({ keyId: z.string() }) },
      responses: {
        "200": { description: "Revoked", content: { "application/json": { schema: apiKeySchema } } },
        ...common,
        "404": problemResponse("No such key in this workspace."),
        "409": problemResponse("Already revoked."),
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/settings",
    handler: "get-settings",
    description: "GET /v1/settings",
    scope: "admin",
    sourceCheck: "alongside",
    operation: {
      operationId: "getSettings",
      summary: "The workspace's plan and retention (admin)",
      responses: {
        "200": { description: "Settings", content: { "application/json": { schema: settingsSchema } } },
        ...common,
      },
    },
  }),
  route({
    method: "PUT",
    path: "/v1/settings",
    handler: "put-settings",
    description: "PUT /v1/settings",
    scope: "admin",
    sourceCheck: "before",
    needs: {
      control: { update: ["workspace"] },
      // Stores the secret access key of a customer export destination; the rest is in the workspace.
      destinationSecrets: "write",
    },
    body: { schema: settingsBodySchema, required: true },
    operation: {
      operationId: "putSettings",
      summary: "Change the retention (admin)",
      description:
        "per-node: 90 days only; enterprise: 30–365. Applies to events recorded from now on; recorded as `audit.settings_changed`.",
      responses: {
        "200": { description: "Settings", content: { "application/json": { schema: settingsSchema } } },
        ...common,
      },
    },
  }),
  route({
    method: "GET",
    path: "/v1/exports/nightly",
    handler: "list-nightly-exports",
    description: "GET /v1/exports/nightly: manifests of nightly exports",
    scope: "events:read",
    sourceCheck: "alongside",
    needs: { exportBucket: "read" },
    query: nightlyListQuerySchema,
    operation: {
      operationId: "listNightlyExports",
      summary: "Nightly exports (enterprise) in a range of days, with their manifests",
      description:
        "Each manifest's SHA-256 is what the next day's `previousManifestSha256` names. `missingDays` lists days that should have an export and do not. Recorded as `audit.queried`.",
      responses: {
        "200": { description: "Exports", content: { "application/json": { schema: nightlyListSchema } } },
        ...common,
      },
    },
  }),
  route({
    method: "POST",
    path: "/v1/exports",
    handler: "create-export",
    description: "POST /v1/exports: queue an export",
    scope: "events:read",
    sourceCheck: "before",
    needs: { control: { create: ["exportJob"] }, exportQueue: ["send"] },
    body: { schema: createExportBodySchema, required: true },
    operation: {
      operationId: "createExport",
      summary: "Start an export of the log (JSON, NDJSON or CSV, optionally gzipped)",
      description:
        "Same filters as GET /v1/events. Answers 202; poll GET /v1/exports/{id}. The finished export is recorded as `audit.exported` with the count and the file's SHA-256.",
      responses: {
        "202": { description: "Accepted", content: { "application/json": { schema: exportSchema } } },
        ...common,
      },
    },
  }),
  // An admin key mints for its workspace; a reader key for itself (read-only, as it is). A session
  // is a short-lived key record of its own.
  route({
    method: "POST",
    path: "/v1/viewer-sessions",
    handler: "create-viewer-session",
    description: "POST /v1/viewer-sessions",
    scope: ["admin", "events:read"],
    sourceCheck: "before",
    needs: { control: { create: ["apiKey"] } },
    body: { schema: createViewerSessionBodySchema, required: false },
    operation: {
      operationId: "createViewerSession",
      summary: "Mint a read-only viewer session for the Audit Log page",
      description:
        "With an admin key, or a reader key (for its own workspace; the session can only read). The platform's dashboard calls this server-side and opens `url` (the token travels in the URL fragment, so it never reaches a server log). Recorded as `audit.viewer_session_created`; the session's reads are audited as any read, with `viewer` (which only an admin key may give) as the actor. Revoke early with DELETE /v1/keys/{sessionId}; revoking the key that minted it ends it too.",
      responses: {
        "201": {
          description: "The session",
          content: { "application/json": { schema: viewerSessionSchema } },
        },
        ...common,
      },
    },
  }),
  // Presigning a download URL needs s3:GetObject on the signer.
  route({
    method: "GET",
    path: "/v1/exports/{id}",
    handler: "get-export",
    description: "GET /v1/exports/{id}: status and download URL",
    scope: "events:read",
    // Checked first: a ready export's answer issues a download URL and records it
    // (audit.export_downloaded), which a refused request must not.
    sourceCheck: "before",
    needs: { exportBucket: "read" },
    operation: {
      operationId: "getExport",
      summary: "An export's status, and once ready a download URL valid for 10 minutes",
      description: "Every URL issued is recorded as `audit.export_downloaded`.",
      requestParams: { path: z.object({ id: z.string() }) },
      responses: {
        "200": { description: "The export", content: { "application/json": { schema: exportSchema } } },
        ...common,
        "404": problemResponse("No such export in this workspace."),
      },
    },
  }),
];

/**
 * Scheduled jobs: EventBridge rules on AWS, timers in the local runtime. Cron fields are UTC (as
 * EventBridge's always are). `needs` as for routes.
 */
export interface ScheduleDef {
  handler: string;
  description: string;
  schedule: { cron: { minute: string; hour: string } } | { everyMinutes: number };
  needs: Needs;
}

export const SCHEDULES: readonly ScheduleDef[] = [
  {
    handler: "nightly-export",
    description: "the previous UTC day of every enterprise workspace to the Object Lock bucket",
    schedule: { cron: { minute: "15", hour: "0" } },
    needs: {
      queryEvents: true,
      // audit.export_delivery_failed goes into the workspace's log.
      appendEvents: true,
      control: { scan: true },
      exportBucket: "write",
      // The manifest names the day's leaves and their range proof; it seals first if the tree is behind.
      verifiableLog: "seal",
      // Copies each day's files to the workspace's own bucket, if it set a destination.
      destinationSecrets: "read",
    },
  },
  {
    handler: "seal-log",
    description: "each workspace's new events into its Merkle tree, tiles and a signed checkpoint",
    schedule: { everyMinutes: 1 },
    needs: {
      queryEvents: true,
      // integrity.violation events go into the operator log.
      appendEvents: true,
      control: { scan: true },
      verifiableLog: "seal",
    },
  },
  {
    handler: "flush-access-failures",
    description:
      "one access.denied event per ended window of failed authentications and cross-workspace reaches",
    schedule: { everyMinutes: 1 },
    needs: {
      appendEvents: true,
      // Finds which workspaces hold a reached event id (the byEventId index, keys only).
      lookupEventOwners: true,
      control: { queryIndexes: [ControlIndex.pendingFailures], update: ["failureCounter", "reachCounter"] },
    },
  },
];

/** Handler folders that are not behind an HTTP route. */
export const SCHEDULED_HANDLERS = SCHEDULES.map((s) => s.handler);

/** Workers fed by a queue (SQS on AWS, a poller in the local runtime). `needs` as for routes. */
export const QUEUE_WORKERS = [
  {
    handler: "export-worker",
    queue: "exports",
    description: "writes on-demand exports: paged query, encoder, multipart upload",
    needs: {
      queryEvents: true,
      appendEvents: true,
      control: { update: ["exportJob"] },
      exportBucket: "write",
      // Evidence bundles: the log's state, anchors and tiles (no signing).
      verifiableLog: "read",
      // Fed by the queue; sends the export back to it to hand over before the 15-minute limit.
      exportQueue: ["consume", "send"],
    } satisfies Needs,
  },
] as const;

/** Handlers behind an authenticated route. */
export type AuthedRoute = Extract<(typeof ROUTES)[number], { sourceCheck: SourceCheck }>;
export type AuthedHandler = AuthedRoute["handler"];
/** The manifest entry of `handler`. */
export type RouteOf<H extends string> = Extract<(typeof ROUTES)[number], { handler: H }>;

/** The manifest entry that names `handler`: its (first) route, its schedule or its queue. */
function entryOf(handler: string): { description: string; needs?: Needs } {
  const entry =
    (ROUTES as readonly RouteDef[]).find((r) => r.handler === handler) ??
    SCHEDULES.find((s) => s.handler === handler) ??
    QUEUE_WORKERS.find((w) => w.handler === handler);
  if (!entry) throw new Error(`no route, schedule or queue names handler "${handler}"`);
  return entry;
}

/** What a function may touch on AWS: its entry's needs. */
export const needsOf = (handler: string): Needs => entryOf(handler).needs ?? {};

/** Its function's description: its entry's. */
export const descriptionOf = (handler: string): string => entryOf(handler).description;
