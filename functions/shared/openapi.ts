import * as z from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { ROUTES } from "./routes.js";
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
  batchInputSchema,
  eventInputSchema,
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
import { problemSchema } from "./schemas/problem.js";
import { listEventsQuerySchema } from "./schemas/query.js";

const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** A batch's problem also says what became of each event it could settle. */
const batchProblemSchema = problemSchema
  .extend({
    results: z
      .array(z.object({ id: z.string(), status: z.enum(["created", "duplicate", "conflict"]) }))
      .optional()
      .meta({ description: "Batches: each event settled before the problem, and how." }),
  })
  .meta({ id: "BatchProblem" });
const batchProblemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: batchProblemSchema } },
});

const retryAfter = z.object({
  "Retry-After": z.string().meta({ description: "Seconds to wait before retrying." }),
});

/** Every operation that takes a body may refuse it as a whole before reading it. */
const bodyErrors = {
  "413": problemResponse("The body is larger than the limit."),
  "415": problemResponse("The body is not `application/json`."),
};

const common = {
  "431": problemResponse("The request's headers are larger than the gateway accepts."),
  "400": problemResponse("Validation failed; `errors[]` names each problem."),
  "401": problemResponse("Missing or unknown API key."),
  "403": problemResponse("The key lacks the route's scope (the denial is logged)."),
  "429": {
    ...problemResponse(
      "Too many failed authentications from this address in the current minute (refused on every route, even with a valid key, until the minute ends), or the workspace is over its request rate. A batch refused part-way lists in `results` what was stored before.",
    ),
    headers: retryAfter,
  },
  "503": {
    ...problemResponse(
      "Storage unavailable: the outcome is unknown (most often nothing was stored). Retry the same request after Retry-After; ids make that safe.",
    ),
    headers: retryAfter,
  },
};

const operations: Record<string, ZodOpenApiOperationObject> = {
  health: {
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
  openapi: {
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
  "post-events": {
    operationId: "postEvents",
    summary: "Record one event, or a batch of 1–100",
    description:
      "Write-once. `id` is the idempotency key: the same id with the same content answers 200 with the stored event and stores nothing new; with other content, 409.",
    requestBody: {
      required: true,
      content: { "application/json": { schema: z.union([eventInputSchema, batchInputSchema]) } },
    },
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
  "list-events": {
    operationId: "listEvents",
    summary: "Query the log, newest first",
    requestParams: { query: listEventsQuerySchema },
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
  "get-event": {
    operationId: "getEvent",
    summary: "One event by id",
    requestParams: { path: z.object({ id: storedEventIdSchema }) },
    responses: {
      "200": { description: "The event", content: { "application/json": { schema: storedEventSchema } } },
      ...common,
      "404": problemResponse("No such event in the caller's workspace."),
    },
  },
  "get-event-proof": {
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
  "get-log-checkpoint": {
    operationId: "getLogCheckpoint",
    summary: "The workspace's latest signed checkpoint (c2sp.org/tlog-checkpoint, as a signed note)",
    description: "Recorded as `audit.queried`.",
    responses: {
      "200": { description: "The note", content: { "text/plain": { schema: z.string() } } },
      ...common,
      "404": problemResponse("No checkpoint yet: the workspace has no events."),
    },
  },
  "get-log-key": {
    operationId: "getLogKey",
    summary: "The key that verifies checkpoints, and this workspace's origin",
    description: "Pin it out of band (docs/integrity.md). Recorded as `audit.queried`.",
    responses: {
      "200": { description: "The key", content: { "application/json": { schema: logKeySchema } } },
      ...common,
    },
  },
  "get-log-tile": {
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
  "get-log-consistency": {
    operationId: "getLogConsistency",
    summary: "A consistency proof between two tree sizes",
    description: "Recorded as `audit.queried`.",
    requestParams: { query: consistencyQuerySchema },
    responses: {
      "200": { description: "The proof", content: { "application/json": { schema: consistencySchema } } },
      ...common,
      "404": problemResponse("No checkpoint yet: the workspace has no events."),
    },
  },
  "create-key": {
    operationId: "createKey",
    summary: "Create an API key (admin)",
    description: "The token is in this answer only. Recorded as `apikey.created`.",
    requestBody: { required: true, content: { "application/json": { schema: createKeyBodySchema } } },
    responses: {
      "201": { description: "Created", content: { "application/json": { schema: apiKeyWithSecretSchema } } },
      ...common,
    },
  },
  "list-keys": {
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
  "rotate-key": {
    operationId: "rotateKey",
    summary: "Rotate a key's secret (admin)",
    description:
      "Same key id, new secret (shown once), valid at once. The old secret keeps working for `graceSeconds` (default 86400), and stops within 60 s after that (the service caches key records for up to 60 s); revoke a leaked key instead of rotating it with no grace. Recorded as `apikey.rotated`.",
    requestParams: { path: z.object({ keyId: z.string() }) },
    requestBody: { required: false, content: { "application/json": { schema: rotateKeyBodySchema } } },
    responses: {
      "200": { description: "Rotated", content: { "application/json": { schema: apiKeyWithSecretSchema } } },
      ...common,
      "404": problemResponse("No such key in this workspace."),
      "409": problemResponse("The key is revoked, or changed meanwhile."),
    },
  },
  "revoke-key": {
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
  "get-settings": {
    operationId: "getSettings",
    summary: "The workspace's plan and retention (admin)",
    responses: {
      "200": { description: "Settings", content: { "application/json": { schema: settingsSchema } } },
      ...common,
    },
  },
  "put-settings": {
    operationId: "putSettings",
    summary: "Change the retention (admin)",
    description:
      "per-node: 90 days only; enterprise: 30–365. Applies to events recorded from now on; recorded as `audit.settings_changed`.",
    requestBody: { required: true, content: { "application/json": { schema: settingsBodySchema } } },
    responses: {
      "200": { description: "Settings", content: { "application/json": { schema: settingsSchema } } },
      ...common,
    },
  },
  "list-nightly-exports": {
    operationId: "listNightlyExports",
    summary: "Nightly exports (enterprise) in a range of days, with their manifests",
    description:
      "Each manifest's SHA-256 is what the next day's `previousManifestSha256` names. `missingDays` lists days that should have an export and do not. Recorded as `audit.queried`.",
    requestParams: { query: nightlyListQuerySchema },
    responses: {
      "200": { description: "Exports", content: { "application/json": { schema: nightlyListSchema } } },
      ...common,
    },
  },
  "create-export": {
    operationId: "createExport",
    summary: "Start an export of the log (JSON, NDJSON or CSV, optionally gzipped)",
    description:
      "Same filters as GET /v1/events. Answers 202; poll GET /v1/exports/{id}. The finished export is recorded as `audit.exported` with the count and the file's SHA-256.",
    requestBody: { required: true, content: { "application/json": { schema: createExportBodySchema } } },
    responses: {
      "202": { description: "Accepted", content: { "application/json": { schema: exportSchema } } },
      ...common,
    },
  },
  "create-viewer-session": {
    operationId: "createViewerSession",
    summary: "Mint a read-only viewer session for the Audit Log page",
    description:
      "With an admin key, or a reader key (for its own workspace; the session can only read). The platform's dashboard calls this server-side and opens `url` (the token travels in the URL fragment, so it never reaches a server log). Recorded as `audit.viewer_session_created`; the session's reads are audited as any read, with `viewer` as the actor. Revoke early with DELETE /v1/keys/{sessionId}.",
    requestBody: {
      required: false,
      content: { "application/json": { schema: createViewerSessionBodySchema } },
    },
    responses: {
      "201": {
        description: "The session",
        content: { "application/json": { schema: viewerSessionSchema } },
      },
      ...common,
    },
  },
  "get-export": {
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
};

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of ROUTES) {
    // The Audit Log page (/dashboard/audit) is HTML for people, not part of the API.
    if (!route.path.startsWith("/v1/")) continue;
    const described = operations[route.handler];
    if (!described) throw new Error(`no OpenAPI operation for ${route.handler}`);
    const operation = described.requestBody
      ? { ...described, responses: { ...bodyErrors, ...described.responses } }
      : described;
    // API Gateway's greedy `{name+}` is `{name}` in OpenAPI.
    const path = route.path.replace(/\{(\w+)\+\}/g, "{$1}");
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
  }
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Audit log API",
      version: "1.0.0",
      description: "Immutable, write-once audit log of a DDoS detection and mitigation platform.",
    },
    servers: [{ url: "/" }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "`alk_<keyId>_<secret>`" } },
    },
    paths,
  });
}
