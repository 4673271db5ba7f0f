import { describe, expect, it } from "vitest";
import { configSchema } from "../../functions/shared/config.js";
import { MAX_EXPORT_ATTEMPTS } from "../../functions/shared/core/exports.js";
import { QUEUE_WORKERS, ROUTES, SCHEDULED_HANDLERS } from "../../functions/shared/routes.js";
import { destinationSecretPrefix } from "../../functions/shared/table.js";
import { STAGES } from "../../lib/stages.js";
import { functionLogicalId, logicalIdOf, synthCached } from "./support/synth.js";

const expectedHandlers = [
  ...new Set([
    ...ROUTES.map((r) => r.handler),
    ...SCHEDULED_HANDLERS,
    ...QUEUE_WORKERS.map((w) => w.handler),
  ]),
].sort();

describe.each(["dev", "staging", "prod"] as const)("Lambda functions (%s)", (stage) => {
  const s = synthCached(stage);
  const functions = s.template.findResources("AWS::Lambda::Function");
  const logGroups = s.template.findResources("AWS::Logs::LogGroup");

  it("one function per distinct route handler, plus the scheduled ones, the queue workers and the tamper watch", () => {
    expect([...s.stack.functions.keys()].sort()).toEqual(expectedHandlers);
    // The tamper watch is fed by the events table's stream, so it is built apart from the route manifest.
    expect(Object.keys(functions).sort()).toEqual(
      [
        ...expectedHandlers.map((handler) => functionLogicalId(s, handler)),
        logicalIdOf(s.stack.tamperWatch.function.function),
      ].sort(),
    );
    expect(Object.keys(functions)).toHaveLength(expectedHandlers.length + 1);
  });

  it("every function runs nodejs22.x on arm64 with the bundled ESM handler", () => {
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
      });
      // Tracing is off, not half on: the SDK clients are not instrumented (docs/operations.md).
      expect(fn.Properties).not.toHaveProperty("TracingConfig");
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe("--enable-source-maps");
    }
  });

  it("every function logs to a log group of its own that has the stage's retention", () => {
    const used = new Set<string>();
    for (const fn of Object.values(functions)) {
      const ref = fn.Properties.LoggingConfig?.LogGroup?.Ref as string | undefined;
      expect(ref).toBeTypeOf("string");
      const group = logGroups[ref as string];
      expect(group?.Properties?.RetentionInDays).toBe(STAGES[stage].functionLogRetention);
      used.add(ref as string);
    }
    expect(used.size).toBe(Object.keys(functions).length);
  });

  it("the environment satisfies the runtime's own config schema", () => {
    for (const handler of expectedHandlers) {
      const variables = functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables as Record<
        string,
        unknown
      >;
      // Deploy-time references become placeholder strings; only names and literal values matter here.
      const env = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => [k, typeof v === "string" ? v : `resolved-${k}`]),
      );
      expect(configSchema.safeParse(env).success).toBe(true);
      expect(env.DEFAULT_RETENTION_DAYS).toBe(String(STAGES[stage].defaultRetentionDays));
      expect(variables.POWERTOOLS_LOG_LEVEL).toBe(STAGES[stage].logLevel);
    }
  });

  it("table names and the cursor secret are references to this stack's resources", () => {
    const variables = functions[functionLogicalId(s, "list-events")]?.Properties.Environment.Variables;
    expect(variables).toMatchObject({
      EVENTS_TABLE: { Ref: logicalIdOf(s.stack.tables.events) },
      CONTROL_TABLE: { Ref: logicalIdOf(s.stack.tables.control) },
      CURSOR_SECRET_ID: { Ref: logicalIdOf(s.stack.cursorSecret) },
    });
  });

  it("only the export functions and the verifiable log's (its tiles are there) are told where the export bucket is", () => {
    const told = [
      "nightly-export",
      "list-nightly-exports",
      "get-export",
      "export-worker",
      "seal-log",
      "get-event-proof",
      "get-log-checkpoint",
      "get-log-tile",
      "get-log-consistency",
    ];
    for (const handler of expectedHandlers) {
      const variables = functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables;
      if (told.includes(handler)) {
        expect(variables.EXPORT_BUCKET, handler).toEqual({ Ref: logicalIdOf(s.stack.archive.bucket) });
      } else {
        expect(variables.EXPORT_BUCKET, handler).toBeUndefined();
      }
    }
  });

  it("the export queue gives up one delivery after the worker does, so a killed last try is still marked failed", () => {
    const queues = s.template.findResources("AWS::SQS::Queue");
    const queue = queues[logicalIdOf(s.stack.exportQueue.queue)] as {
      Properties: { RedrivePolicy: { maxReceiveCount: number } };
    };
    expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBe(MAX_EXPORT_ATTEMPTS + 1);
  });

  it("the queue's URL goes to the functions that send to it: create-export, and the worker that hands over", () => {
    for (const handler of expectedHandlers) {
      const variables = functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables;
      if (["create-export", "export-worker"].includes(handler)) {
        expect(variables.EXPORT_QUEUE_URL, handler).toEqual({ Ref: logicalIdOf(s.stack.exportQueue.queue) });
      } else {
        expect(variables.EXPORT_QUEUE_URL, handler).toBeUndefined();
      }
    }
  });

  it("only the settings handler and the nightly export are told where destination secrets live", () => {
    for (const handler of expectedHandlers) {
      const variables = functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables;
      if (["put-settings", "nightly-export"].includes(handler)) {
        // Written out, and checked against the runtime's own builder: the IAM grants use the same prefix.
        expect(variables.DESTINATION_SECRET_PREFIX, handler).toBe(`audit-log/${stage}/destinations/`);
        expect(variables.DESTINATION_SECRET_PREFIX, handler).toBe(destinationSecretPrefix(stage));
      } else {
        expect(variables.DESTINATION_SECRET_PREFIX, handler).toBeUndefined();
      }
    }
  });

  it("no function is allowed plain-http customer destinations: https only, the runtime's default", () => {
    for (const handler of expectedHandlers) {
      const variables = functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables;
      expect(variables.ALLOW_HTTP_DESTINATIONS, handler).toBeUndefined();
    }
    const minimal = { EVENTS_TABLE: "e", CONTROL_TABLE: "c", CURSOR_SECRET_ID: "arn:secret" };
    expect(configSchema.parse(minimal).ALLOW_HTTP_DESTINATIONS).toBe(false);
  });

  it("route handlers answer well inside API Gateway's 30 s integration limit", () => {
    for (const handler of new Set(ROUTES.map((r) => r.handler))) {
      expect(functions[functionLogicalId(s, handler)]?.Properties.Timeout, handler).toBeLessThan(30);
    }
  });

  it("the export job gets Lambda's full 15 minutes; the minutely flush and sealer end before the next run", () => {
    expect(functions[functionLogicalId(s, "nightly-export")]?.Properties.Timeout).toBe(900);
    expect(functions[functionLogicalId(s, "flush-access-failures")]?.Properties.Timeout).toBeLessThan(60);
    expect(functions[functionLogicalId(s, "seal-log")]?.Properties.Timeout).toBeLessThan(60);
  });
});
