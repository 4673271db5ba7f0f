import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { ROUTES, type RouteDef } from "../../functions/shared/routes.js";

export type LambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** API Gateway's own payload ceiling for HTTP APIs; the handlers enforce their smaller limit. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

interface CompiledRoute {
  route: RouteDef;
  pattern: RegExp;
  params: string[];
}

function compile(route: RouteDef): CompiledRoute {
  const params: string[] = [];
  // `{name+}` is API Gateway's greedy parameter: the rest of the path, slashes and all.
  const source = route.path
    .replace(/[.*?^$()|[\]\\]/g, "\\$&")
    .replace(/\{(\w+)(\+?)\}/g, (_m, name: string, greedy: string) => {
      params.push(name);
      return greedy ? "(.+)" : "([^/]+)";
    });
  return { route, pattern: new RegExp(`^${source}$`), params };
}

function lambdaContext(name: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const TEXT_TYPES = /^(application\/([a-z0-9.+-]*\+)?json|text\/|application\/x-www-form-urlencoded)/i;

/** Turns one HTTP request into the API Gateway HTTP API (payload v2) event Lambda would receive. */
export function toApiGatewayEvent(
  req: IncomingMessage,
  body: Buffer,
  route: RouteDef,
  pathParameters: Record<string, string> | undefined,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const text = TEXT_TYPES.test(headers["content-type"] ?? "");
  const now = new Date();
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        // As API Gateway does: the TCP peer, not a client-supplied header.
        sourceIp: (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""),
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.length ? (text ? body.toString("utf8") : body.toString("base64")) : undefined,
    isBase64Encoded: body.length > 0 && !text,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > GATEWAY_MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body =
    result.body === undefined
      ? ""
      : result.isBase64Encoded
        ? Buffer.from(result.body, "base64")
        : result.body;
  res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
  res.end(body);
}

/**
 * The local stand-in for API Gateway: route matching from routes.ts, then the very handler modules
 * Lambda runs. `resolve` supplies a handler per folder name (tests inject ones with a frozen clock).
 */
export function createLocalServer(resolve: (handlerName: string) => Promise<LambdaHandler>): Server {
  const routes = ROUTES.map(compile);
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      // As API Gateway does, a static segment wins over a path variable (/v1/exports/nightly
      // over /v1/exports/{id}): the match with the fewest parameters is taken.
      let match: { compiled: CompiledRoute; values: string[] } | undefined;
      for (const compiled of routes) {
        const m = compiled.route.method === req.method ? compiled.pattern.exec(path) : null;
        if (m && (!match || compiled.params.length < match.compiled.params.length))
          match = { compiled, values: m.slice(1) };
      }
      if (!match) {
        send(res, {
          statusCode: 404,
          headers: { "content-type": "application/json" },
          body: '{"message":"Not Found"}',
        });
        return;
      }
      const body = await readBody(req);
      if (body === undefined) {
        send(res, {
          statusCode: 413,
          headers: { "content-type": "application/json" },
          body: '{"message":"Request Entity Too Large"}',
        });
        return;
      }
      const { compiled, values } = match;
      const params = compiled.params.length
        ? Object.fromEntries(compiled.params.map((p, i) => [p, decodeURIComponent(values[i] ?? "")]))
        : undefined;
      const event = toApiGatewayEvent(req, body, compiled.route, params);
      const handler = await resolve(compiled.route.handler);
      send(res, await handler(event, lambdaContext(compiled.route.handler, event.requestContext.requestId)));
    })().catch((err: unknown) => {
      // API Gateway answers 500 when the integration itself fails.
      process.stderr.write(`local gateway: ${(err as Error).stack ?? String(err)}\n`);
      if (!res.headersSent)
        send(res, {
          statusCode: 500,
          headers: { "content-type": "application/json" },
          body: '{"message":"Internal Server Error"}',
        });
    });
  });
  // Idle keep-alive connections outlive the clients' own idle timeout, as a gateway's do: a server
  // that closes first races the client's next request on the same socket ("other side closed").
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Node refuses oversized headers (or URLs) before any handler runs; answer as the API does, in
  // problem+json (API Gateway has its own limits on AWS).
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      type: tooLarge ? "/problems/request-header-fields-too-large" : "/problems/bad-request",
      title: tooLarge ? "The request's headers are too large" : "The request could not be read",
      status,
      detail: tooLarge ? "send a shorter URL or fewer, smaller headers" : "malformed HTTP request",
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
        `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Loads `functions/<name>/handler.ts` and returns its `handler` export, as Lambda would. */
export async function moduleHandler<H = LambdaHandler>(name: string): Promise<H> {
  const mod = (await import(`../../functions/${name}/handler.ts`)) as { handler: H };
  return mod.handler;
}

export async function listen(server: Server, port: number, host = "127.0.0.1"): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("server has no address");
  return `http://${host}:${address.port}`;
}
