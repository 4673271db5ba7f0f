import * as z from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { ROUTES } from "./routes.js";
import { batchInputSchema, eventIdSchema, eventInputSchema, storedEventSchema } from "./schemas/event.js";
import { problemSchema } from "./schemas/problem.js";
import { listEventsQuerySchema } from "./schemas/query.js";

const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

const retryAfter = z.object({
  "Retry-After": z.string().meta({ description: "Seconds to wait before retrying." }),
});

const common = {
  "400": problemResponse("Validation failed; `errors[]` names each problem."),
  "401": problemResponse("Missing or unknown API key."),
  "403": problemResponse("The key lacks the route's scope."),
  "503": {
    ...problemResponse("Storage unavailable; nothing was stored. Retry after Retry-After."),
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
      "409": problemResponse("The id is already used by different content."),
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
    requestParams: { path: z.object({ id: eventIdSchema }) },
    responses: {
      "200": { description: "The event", content: { "application/json": { schema: storedEventSchema } } },
      ...common,
      "404": problemResponse("No such event in the caller's workspace."),
    },
  },
};

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of ROUTES) {
    const operation = operations[route.handler];
    if (!operation) throw new Error(`no OpenAPI operation for ${route.handler}`);
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
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
