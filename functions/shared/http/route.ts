import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type * as z from "zod";
import { type Client, onAuthenticationFailure, recordDenied } from "../core/access.js";
import { authenticate } from "../core/api-keys.js";
import type { EventsDeps } from "../core/events.js";
import {
  refuseThrottledSource,
  sourceGuard,
  type WorkspaceRateLimit,
  type WriteGuard,
} from "../core/throttle.js";
import { validationError } from "../core/zod-errors.js";
import { AuthenticationFailure, ForbiddenError } from "../errors.js";
import type { Principal } from "../ports.js";
import {
  type AuthedHandler,
  type BodySpec,
  ROUTES,
  type RouteDef,
  type RouteOf,
  type Scope,
} from "../routes.js";
import { REQUEST_PATH_MAX_LENGTH } from "../schemas/catalogue.js";
import { USER_AGENT_MAX_LENGTH } from "../schemas/event.js";
import { routeMetrics } from "./metrics.js";
import { problemJson } from "./problem.js";
import { header, jsonBody } from "./request.js";

export interface RouteRequest<B = undefined, Q = undefined> {
  event: APIGatewayProxyEventV2;
  principal: Principal;
  client: Client;
  /** What the route's event writes must carry (routes whose source check is `in-write`). */
  guard: WriteGuard;
  /** The body, parsed by the route's schema (routes.ts `body`). */
  body: B;
  /** The query string, parsed by the route's schema (routes.ts `query`). */
  query: Q;
}

type BodyOf<R> =
  NonNullable<R extends { body?: infer B } ? B : never> extends BodySpec<infer S> ? z.output<S> : undefined;
type QueryOf<R> =
  NonNullable<R extends { query?: infer Q } ? Q : never> extends infer S extends z.ZodType
    ? z.output<S>
    : undefined;

/** Parses a request part with its schema: 400 naming each problem, before the handler runs. */
function parsed<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/**
 * The caller as API Gateway saw it: the TCP source address, never a client-supplied header. The
 * User-Agent and path are the client's to choose, so they are cut to what an event may hold before
 * anything (a failure counter, an access.denied event) keeps them.
 */
export function clientOf(event: APIGatewayProxyEventV2): Client {
  return {
    sourceIp: event.requestContext.http.sourceIp,
    // toWellFormed: a cut through a surrogate pair leaves half a character, which no event may hold.
    userAgent:
      event.requestContext.http.userAgent?.slice(0, USER_AGENT_MAX_LENGTH).toWellFormed() || undefined,
    method: event.requestContext.http.method.slice(0, 16),
    path: event.rawPath.slice(0, REQUEST_PATH_MAX_LENGTH).toWellFormed(),
  };
}

/**
 * Wraps a route: problem+json for every error, then the API key check for the scope that
 * routes.ts gives this handler. Failed keys are counted (401, then 429) and denied scopes recorded
 * as `access.denied` before the error goes out. A source throttled for failed keys is refused as
 * the route's `sourceCheck` says, and a workspace over its rate is refused (429) before anything.
 * What remains in a handler is the call into the core and the shape of the answer.
 */
export function authedRoute<H extends AuthedHandler>(
  deps: EventsDeps & { rateLimit?: WorkspaceRateLimit },
  handlerName: H,
  fn: (
    req: RouteRequest<BodyOf<RouteOf<H>>, QueryOf<RouteOf<H>>>,
  ) => Promise<APIGatewayProxyStructuredResultV2>,
) {
  const route = ROUTES.find((r) => r.handler === handlerName) as RouteDef | undefined;
  if (!route?.scope) throw new Error(`no authenticated route is served by ${handlerName}`);
  const { sourceCheck, body, query } = route;
  const allowed: readonly Scope[] = typeof route.scope === "string" ? [route.scope] : route.scope;
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(routeMetrics(handlerName))
    .use(problemJson())
    .handler(async (event) => {
      const client = clientOf(event);
      let principal: Principal;
      try {
        principal = await authenticate(deps.records, header(event, "authorization"), deps.clock.now());
      } catch (err: unknown) {
        if (err instanceof AuthenticationFailure) await onAuthenticationFailure(deps, err, client);
        throw err;
      }
      const now = deps.clock.now();
      deps.rateLimit?.refuseIfOver(principal.workspaceId, now);
      // Every authenticated request counts toward its workspace's rate, refused ones too: a 403 still
      // writes its access.denied event.
      const counted = deps.rateLimit?.count(deps.control, principal.workspaceId, now);
      if (!allowed.some((s) => principal.scopes.includes(s))) {
        await Promise.all([
          recordDenied(deps, principal.workspaceId, principal, client, "missing_scope", {
            requiredScope: allowed.join(" or "),
          }),
          counted,
        ]);
        throw new ForbiddenError(`this route needs the ${allowed.map((s) => `\`${s}\``).join(" or ")} scope`);
      }
      const [answer, check] = await Promise.allSettled([
        (async () => {
          if (sourceCheck === "before") await refuseThrottledSource(deps, client.sourceIp);
          // Parse at the edge: the handler and the core get typed input, or the request a 400.
          const request = {
            event,
            principal,
            client,
            guard: sourceGuard(deps.clock, client.sourceIp),
            body: body ? parsed(body.schema, event.body || body.required ? jsonBody(event) : {}) : undefined,
            query: query ? parsed(query, event.queryStringParameters ?? {}) : undefined,
          } as RouteRequest<BodyOf<RouteOf<H>>, QueryOf<RouteOf<H>>>;
          return fn(request);
        })(),
        sourceCheck === "alongside" ? refuseThrottledSource(deps, client.sourceIp) : undefined,
        counted,
      ]);
      if (check.status === "rejected") throw check.reason;
      if (answer.status === "rejected") throw answer.reason;
      return answer.value;
    });
}

/** A route that needs no key (health, the OpenAPI document). */
export function publicRoute(
  fn: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>,
) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().use(problemJson()).handler(fn);
}
