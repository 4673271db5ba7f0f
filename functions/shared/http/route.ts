import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { authenticate } from "../core/api-keys.js";
import type { ControlStore, Principal } from "../ports.js";
import { ROUTES } from "../routes.js";
import { problemJson } from "./problem.js";
import { header } from "./request.js";

export interface RouteRequest {
  event: APIGatewayProxyEventV2;
  principal: Principal;
}

/**
 * Wraps a route: problem+json for every error, then the API key check for the scope that
 * routes.ts gives this handler. What remains in a handler is the call into the core and the shape
 * of the answer.
 */
export function authedRoute(
  deps: { control: ControlStore },
  handlerName: string,
  fn: (req: RouteRequest) => Promise<APIGatewayProxyStructuredResultV2>,
) {
  const scope = ROUTES.find((r) => r.handler === handlerName)?.scope;
  if (!scope) throw new Error(`no authenticated route is served by ${handlerName}`);
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(problemJson())
    .handler(async (event) => {
      const principal = await authenticate(deps.control, header(event, "authorization"), scope);
      return fn({ event, principal });
    });
}

/** A route that needs no key (health, the OpenAPI document). */
export function publicRoute(
  fn: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>,
) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().use(problemJson()).handler(fn);
}
