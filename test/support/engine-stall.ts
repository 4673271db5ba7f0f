import type { ChildProcess } from "node:child_process";
import type { Server } from "node:http";
import { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { WorkerExtras } from "../../functions/export-worker/handler.js";
import { JOB_REQUEST_TIMEOUT_MS, newDocumentClient } from "../../functions/shared/adapters/clients.js";
import type { FixedClock } from "../../functions/shared/clock.js";
import { loadConfig } from "../../functions/shared/config.js";
import { type Deps, makeDeps } from "../../functions/shared/deps.js";
import { type LocalEnv, localEnv, processEnvFor, provision } from "../../scripts/lib/bootstrap.js";
import { type LocalEngines, startEngines } from "../../scripts/lib/engines.js";
import { createLocalServer, type LambdaHandler, listen } from "../../scripts/lib/local-server.js";

/**
 * Engines of one test file's own, which it may pause with SIGSTOP without stalling the engines
 * the other integration files share (global-setup.ts). Table, bucket and key names are those of
 * stage `stall`, provisioned as the local bootstrap does.
 */
export interface PrivateEngines {
  engines: LocalEngines;
  env: LocalEnv;
  /** SIGSTOP the engine's process; returns when the signal has been sent. */
  pause(engine: EngineName): void;
  /** SIGCONT; harmless when it is not paused. */
  resume(engine: EngineName): void;
  paused(engine: EngineName): boolean;
  /** SIGCONT both, then stop both (what afterAll must run, whatever happened). */
  stop(): Promise<void>;
}

export type EngineName = "dynamodb" | "moto";

export async function startPrivateEngines(): Promise<PrivateEngines> {
  const engines = await startEngines({ quiet: true });
  const processOf = (engine: EngineName): ChildProcess => {
    const child = engine === "moto" ? engines.processes.moto : engines.processes.dynamodb;
    // Without Dynoxide, DynamoDB is moto too: pausing one would pause both, and the tests would lie.
    if (!child?.pid) throw new Error(`no ${engine} process of its own to pause (is Dynoxide installed?)`);
    return child;
  };
  const state: Record<EngineName, boolean> = { dynamodb: false, moto: false };
  const signal = (engine: EngineName, sig: "SIGSTOP" | "SIGCONT") => {
    const child = processOf(engine);
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, sig);
    state[engine] = sig === "SIGSTOP";
  };
  // A worker that dies with an engine paused must not leave a stopped process behind.
  const onExit = () => {
    for (const child of [engines.processes.moto, engines.processes.dynamodb]) {
      try {
        if (child?.pid) {
          process.kill(child.pid, "SIGCONT");
          process.kill(child.pid, "SIGKILL");
        }
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", onExit);
  try {
    const env = localEnv(engines, "stall");
    await provision(env);
    return {
      engines,
      env,
      pause: (engine) => signal(engine, "SIGSTOP"),
      resume: (engine) => signal(engine, "SIGCONT"),
      paused: (engine) => state[engine],
      stop: async () => {
        for (const engine of ["dynamodb", "moto"] as const) {
          try {
            signal(engine, "SIGCONT");
          } catch {
            // no such engine
          }
        }
        process.removeListener("exit", onExit);
        await engines.stop();
      },
    };
  } catch (err: unknown) {
    process.removeListener("exit", onExit);
    await engines.stop();
    throw err;
  }
}

/**
 * Points the handlers' configuration (and the AWS SDK's endpoint variables, read when a client is
 * made) at `env`; returns the undo. Each test file runs in its own worker, so this changes only the
 * file that calls it; it must run before any handler module is imported (their module-scope
 * clients are made at import).
 */
export function pointProcessEnvAt(env: LocalEnv): () => void {
  const vars: Record<string, string | undefined> = processEnvFor(env);
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const assign = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  assign(vars);
  return () => assign(before);
}

/**
 * An S3 client configured as the service's (clients.ts: 3 attempts, standard retries, throw on a
 * request timeout) but with a short request timeout, so that a paused moto fails a call within
 * seconds rather than after the jobs' 60 s.
 */
export function shortTimeoutS3(env: LocalEnv, requestTimeout: number): S3Client {
  return new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    forcePathStyle: true,
    maxAttempts: 3,
    retryMode: "standard",
    requestHandler: { connectionTimeout: 1_000, requestTimeout, throwOnRequestTimeout: true },
  });
}

export interface StallApi {
  baseUrl: string;
  deps: Deps;
  /** Deps for jobs (the export worker, the nightly export): the jobs' longer DynamoDB timeout. */
  jobDeps: Deps;
  /**
   * Runs the export worker, one message per invocation as the SQS event source does, until the
   * queue is empty; a run that throws is redelivered (its receive count goes up). Returns each
   * invocation's outcome in order.
   */
  runQueuedExports(extras: WorkerExtras): Promise<{ exportId: string; delivery: number; error?: unknown }[]>;
  close(): Promise<void>;
}

/**
 * The API path in-process against the private engines, as harness.ts startApi builds it (the local
 * gateway in front of each handler's `makeHandler`, a frozen clock, no backoff sleeps), but with
 * the DynamoDB client's request timeout set to `dynamoTimeoutMs`, so a stalled engine gives its
 * 503 after about three such timeouts (the SDK's 3 attempts) instead of 3 × 5 s.
 */
export async function startStallApi(options: {
  env: LocalEnv;
  clock: FixedClock;
  dynamoTimeoutMs: number;
}): Promise<StallApi> {
  const { env, clock } = options;
  const config = loadConfig();
  if (config.EVENTS_TABLE !== env.eventsTable) throw new Error("process.env is not pointed at these engines");
  const dynamo: DynamoDBDocumentClient = newDocumentClient(env.dynamoEndpoint, options.dynamoTimeoutMs);
  const deps = makeDeps({ config, client: dynamo, clock, appendBackoff: async () => undefined });
  const jobDeps = makeDeps({
    config,
    client: newDocumentClient(env.dynamoEndpoint, JOB_REQUEST_TIMEOUT_MS),
    clock,
  });
  const queued: string[] = [];
  const exportQueue = { enqueue: async (id: string) => void queued.push(id) };
  const cache = new Map<string, LambdaHandler>();
  const server: Server = createLocalServer(async (name) => {
    const cached = cache.get(name);
    if (cached) return cached;
    const mod = (await import(`../../functions/${name}/handler.ts`)) as {
      makeHandler: (d: Deps, extra?: unknown) => LambdaHandler;
    };
    const handler = mod.makeHandler(deps, name === "create-export" ? exportQueue : undefined);
    cache.set(name, handler);
    return handler;
  });
  const baseUrl = await listen(server, 0);
  const deliveries = new Map<string, number>();
  return {
    baseUrl,
    deps,
    jobDeps,
    runQueuedExports: async (extras) => {
      const { makeHandler } = await import("../../functions/export-worker/handler.js");
      const worker = makeHandler(jobDeps, { queue: exportQueue, ...extras });
      const runs: { exportId: string; delivery: number; error?: unknown }[] = [];
      for (let id = queued.shift(); id !== undefined; id = queued.shift()) {
        const delivery = (deliveries.get(id) ?? 0) + 1;
        deliveries.set(id, delivery);
        const record = {
          body: JSON.stringify({ exportId: id }),
          attributes: { ApproximateReceiveCount: String(delivery) },
        };
        try {
          await worker({ Records: [record] } as never);
          runs.push({ exportId: id, delivery });
          deliveries.delete(id);
        } catch (error: unknown) {
          runs.push({ exportId: id, delivery, error });
          if (runs.length > 10) throw error;
          queued.push(id); // SQS redelivers a failed message
        }
      }
      return runs;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Rejects after `ms` with `what`: a bound on an event-driven wait, never a wait of its own. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}
