import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { bodyErrors } from "./http/responses.js";
import { ROUTES, type RouteDef } from "./routes.js";

/**
 * The OpenAPI document is the route manifest's (functions/shared/routes.ts): each route's operation,
 * with its request body and query from the schemas the route validates them with.
 */

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument() {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of ROUTES as readonly RouteDef[]) {
    // The Audit Log page (/dashboard/audit) is HTML for people, not part of the API.
    if (route.operation === null) continue;
    const { body, query } = route;
    const operation: ZodOpenApiOperationObject = {
      ...route.operation,
      ...(query
        ? {
            requestParams: {
              ...route.operation.requestParams,
              query,
            } as ZodOpenApiOperationObject["requestParams"],
          }
        : {}),
      ...(body
        ? {
            requestBody: {
              required: body.required,
              content: { "application/json": { schema: body.docs ?? body.schema } },
            },
            responses: { ...bodyErrors, ...route.operation.responses },
          }
        : {}),
    };
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
