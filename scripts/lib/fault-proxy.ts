import { randomBytes } from "node:crypto";
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A fault injector in front of a real engine (Dynoxide, moto, or any HTTP server): every request is
 * forwarded to the engine unless a fault is drawn for it, and the faults are what the network and
 * AWS do to a client, not an imitation of the engine's own answers:
 * - `latency`: a spike before the request reaches the engine (half of them) or before its answer
 *   reaches the client (the other half). The request is forwarded even if the client gave up
 *   meanwhile, as bytes already on the wire still arrive: a late write the engine applies.
 * - `error500`: the engine is not asked; the client gets the protocol's 500 (DynamoDB
 *   `InternalServerError`, S3 `InternalError`, `InternalFailure` for the JSON services of moto).
 * - `throttling`: not asked; DynamoDB `ThrottlingException` (400), S3 `SlowDown` (503), the JSON
 *   services' `ThrottlingException` (400), plain HTTP 429.
 * - `throughputExceeded`: not asked; DynamoDB `ProvisionedThroughputExceededException` (400). Not
 *   a fault of the other protocols (never drawn for them).
 * - `reset`: the request is read, not forwarded, and the connection is reset (TCP RST).
 * - `answerLost`: the request is forwarded, the engine's whole answer is read, then the client's
 *   connection is reset: applied, but the client cannot know.
 * Each request draws at most one of the five failures, and a latency spike on its own draw.
 */

export const FAULT_KINDS = [
  "latency",
  "error500",
  "throttling",
  "throughputExceeded",
  "reset",
  "answerLost",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** Probability per request of each fault, from 0 to 1 (failures together at most 1). */
export type FaultRates = Partial<Record<FaultKind, number>>;

/**
 * How the upstream speaks, for the error bodies: `dynamodb` (JSON 1.0, `__type`), `aws` (moto:
 * S3's XML, or the JSON protocol of a request with `x-amz-target`: KMS, SQS, Secrets Manager),
 * `http` (any server: API Gateway's own `{"message": ...}` 500 and 429).
 */
export type Protocol = "dynamodb" | "aws" | "http";

export interface FaultProxyOptions {
  /** The engine, e.g. `http://127.0.0.1:8000`. */
  upstream: string;
  protocol: Protocol;
  rates?: FaultRates;
  /** Range of a latency spike, ms. @default [200, 3000] */
  latencyMs?: readonly [number, number];
  /** Uniform [0, 1) draws; pass a seeded one for a reproducible sequence. @default Math.random */
  random?: () => number;
  /** @default 0 (a free port) */
  port?: number;
  /** Which requests may get faults (others are forwarded as they are), by head and body. @default all */
  eligible?: (req: IncomingMessage, body: Buffer) => boolean;
  /** Told of each fault as it is injected (a latency spike with its ms), for diagnostics. */
  onFault?: (
    fault: { kind: FaultKind; service: string; ms?: number },
    req: IncomingMessage,
    body: Buffer,
  ) => void;
}

export type FaultCounts = Record<FaultKind, number>;

export interface FaultProxyStats {
  /** Requests received. */
  requests: number;
  /** Requests the engine received (including those whose answer was then lost). */
  forwarded: number;
  /** Forwarded after the client had already closed its connection (during a latency spike). */
  forwardedAfterClientLeft: number;
  /** The engine could not be reached or broke off; the client's connection was reset. */
  upstreamErrors: number;
  faults: FaultCounts;
  /** The same faults by service (`dynamodb`, `s3`, `kms`, `sqs`, `secretsmanager`, `http`). */
  byService: Record<string, FaultCounts & { requests: number }>;
}

export interface FaultProxy {
  /** Where clients send requests instead of the engine. */
  endpoint: string;
  stats(): FaultProxyStats;
  /** Changes the rates from the next request on (`{}` turns every fault off). */
  setRates(rates: FaultRates): void;
  /** Requests being handled now (read, delayed, forwarded or answered). */
  inFlight(): number;
  /** Resolves once no request is in flight, or rejects after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const FAILURES = ["error500", "throttling", "throughputExceeded", "reset", "answerLost"] as const;
type Failure = (typeof FAILURES)[number];

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // The proxy has the whole body already; the engine must not wait for a 100 Continue.
  "expect",
]);

function serviceOf(protocol: Protocol, headers: IncomingHttpHeaders): string {
  if (protocol !== "aws") return protocol;
  const target = String(headers["x-amz-target"] ?? "");
  if (!target) return "s3";
  if (target.startsWith("TrentService.")) return "kms";
  if (target.startsWith("AmazonSQS.")) return "sqs";
  if (target.startsWith("secretsmanager.")) return "secretsmanager";
  return target.split(".")[0]?.toLowerCase() || "aws";
}

/** ProvisionedThroughputExceededException is DynamoDB's alone; every other kind applies to all. */
const applicable = (protocol: Protocol, kind: Failure) =>
  kind !== "throughputExceeded" || protocol === "dynamodb";

interface Reply {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
}

function xmlError(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
}

/** The error answer of `kind` in the request's protocol, as AWS sends it. */
export function errorReply(
  protocol: Protocol,
  service: string,
  kind: "error500" | "throttling" | "throughputExceeded",
  req: Pick<IncomingMessage, "method" | "headers">,
): Reply {
  const requestId = randomBytes(16).toString("hex").toUpperCase();
  if (protocol === "dynamodb") {
    const [status, type, message] =
      kind === "error500"
        ? [500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error"]
        : kind === "throttling"
          ? [
              400,
              "com.amazon.coral.availability#ThrottlingException",
              "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
            ]
          : [
              400,
              "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
              "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            ];
    return {
      status,
      headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": requestId },
      body: JSON.stringify({ __type: type, message }),
    };
  }
  if (protocol === "aws" && service === "s3") {
    const [status, code, message] =
      kind === "error500"
        ? [500, "InternalError", "We encountered an internal error. Please try again."]
        : [503, "SlowDown", "Please reduce your request rate."];
    return {
      status,
      headers: { "content-type": "application/xml", "x-amz-request-id": requestId },
      // A HEAD answer has no body; the SDK reads the status alone.
      body: req.method === "HEAD" ? "" : xmlError(code, message, requestId),
    };
  }
  if (protocol === "aws") {
    const [status, type, message] =
      kind === "error500"
        ? [500, "InternalFailure", "The request processing has failed because of an unknown error."]
        : [400, "ThrottlingException", "Rate exceeded"];
    return {
      status,
      headers: {
        "content-type": String(req.headers["content-type"] ?? "application/x-amz-json-1.1"),
        "x-amzn-requestid": requestId,
      },
      body: JSON.stringify({ __type: type, message }),
    };
  }
  // As API Gateway answers its own failures.
  return {
    status: kind === "error500" ? 500 : 429,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: kind === "error500" ? "Internal Server Error" : "Too Many Requests" }),
  };
}

const zeroCounts = (): FaultCounts =>
  Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as unknown as FaultCounts;

function validate(rates: FaultRates): FaultRates {
  let failures = 0;
  for (const [kind, rate] of Object.entries(rates)) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown fault kind ${kind}`);
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1))
      throw new Error(`fault rate ${kind}=${rate}: a number from 0 to 1`);
    if (kind !== "latency") failures += rate;
  }
  if (failures > 1) throw new Error(`the failure rates add up to ${failures}, more than 1`);
  return { ...rates };
}

/** Closes the connection with a TCP RST (the client sees ECONNRESET), if it is still open. */
function reset(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts the proxy on 127.0.0.1 and resolves once it listens. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const random = options.random ?? Math.random;
  const [latencyMin, latencyMax] = options.latencyMs ?? [200, 3000];
  if (!(latencyMin >= 0 && latencyMax >= latencyMin))
    throw new Error("latencyMs: [min, max] with 0 ≤ min ≤ max");
  let rates = validate(options.rates ?? {});
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const stats: FaultProxyStats = {
    requests: 0,
    forwarded: 0,
    forwardedAfterClientLeft: 0,
    upstreamErrors: 0,
    faults: zeroCounts(),
    byService: {},
  };
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const sockets = new Set<Socket>();

  const count = (service: string, kind: FaultKind, req: IncomingMessage, body: Buffer, ms?: number) => {
    stats.faults[kind]++;
    (stats.byService[service] as FaultCounts)[kind]++;
    options.onFault?.({ kind, service, ...(ms === undefined ? {} : { ms }) }, req, body);
  };

  function draw(): Failure | undefined {
    let u = random();
    for (const kind of FAILURES) {
      const rate = applicable(options.protocol, kind) ? (rates[kind] ?? 0) : 0;
      if (u < rate) return kind;
      u -= rate;
    }
    return undefined;
  }

  function forward(req: IncomingMessage, body: Buffer): Promise<{ res: IncomingMessage; body: Buffer }> {
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    if (body.length > 0 || req.headers["content-length"] !== undefined)
      headers["content-length"] = body.length;
    return new Promise((resolve, reject) => {
      const out = request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ res, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      out.on("error", reject);
      out.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const service = serviceOf(options.protocol, req.headers);
    stats.requests++;
    stats.byService[service] ??= { requests: 0, ...zeroCounts() };
    (stats.byService[service] as { requests: number }).requests++;
    const eligible = options.eligible?.(req, body) ?? true;
    const spike =
      eligible && random() < (rates.latency ?? 0)
        ? {
            ms: latencyMin + random() * (latencyMax - latencyMin),
            before: random() < 0.5,
          }
        : undefined;
    const failure = eligible ? draw() : undefined;
    if (spike) count(service, "latency", req, body, spike.ms);
    if (spike?.before) await sleep(spike.ms);

    if (failure === "reset") {
      count(service, "reset", req, body);
      reset(req.socket);
      return;
    }
    if (failure === "error500" || failure === "throttling" || failure === "throughputExceeded") {
      count(service, failure, req, body);
      const reply = errorReply(options.protocol, service, failure, req);
      res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
      res.end(reply.body);
      return;
    }

    if (req.socket.destroyed) stats.forwardedAfterClientLeft++;
    let answer: { res: IncomingMessage; body: Buffer };
    try {
      stats.forwarded++;
      answer = await forward(req, body);
    } catch {
      stats.upstreamErrors++;
      reset(req.socket);
      return;
    }
    if (failure === "answerLost") {
      count(service, "answerLost", req, body);
      reset(req.socket);
      return;
    }
    if (spike && !spike.before) await sleep(spike.ms);
    if (req.socket.destroyed) return;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.res.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    // A HEAD (or 204/304) answer keeps the engine's content-length for a body it does not carry.
    const bodiless = req.method === "HEAD" || answer.res.statusCode === 204 || answer.res.statusCode === 304;
    if (!bodiless) headers["content-length"] = answer.body.length;
    res.writeHead(answer.res.statusCode ?? 502, headers);
    res.end(bodiless ? undefined : answer.body);
  }

  const server = createServer((req, res) => {
    inFlight++;
    handle(req, res)
      .catch(() => {
        // The client went away while its request was being read: nothing to answer.
        reset(req.socket);
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) {
          for (const w of waiters) w();
          waiters = [];
        }
      });
  });
  server.keepAliveTimeout = 65_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => structuredClone(stats),
    setRates: (next) => {
      rates = validate(next);
    },
    inFlight: () => inFlight,
    idle: (timeoutMs) =>
      inFlight === 0
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () =>
                reject(new Error(`fault proxy: ${inFlight} requests still in flight after ${timeoutMs} ms`)),
              timeoutMs,
            );
            waiters.push(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      agent.destroy();
    },
  };
}

/** Parses `latency=0.02,reset=0.01,...` (every kind absent is 0). */
export function parseRates(text: string): FaultRates {
  const rates: FaultRates = {};
  for (const part of text.split(",").map((p) => p.trim())) {
    if (!part) continue;
    const [kind, value] = part.split("=");
    if (!kind || value === undefined || !(FAULT_KINDS as readonly string[]).includes(kind))
      throw new Error(`fault rate ${part}: kind=rate with kind one of ${FAULT_KINDS.join(", ")}`);
    rates[kind as FaultKind] = Number(value);
  }
  return validate(rates);
}

export { seededRandom } from "./random.js";
