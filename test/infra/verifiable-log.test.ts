import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { SEALER_RUN } from "../../functions/shared/core/log.js";
import { INTEGRITY_VIOLATION } from "../../functions/shared/core/tamper-watch.js";
import { checkpointKeyAlias, logNameOf } from "../../functions/shared/table.js";
import { STAGE_NAMES, type StageName } from "../../lib/stages.js";
import { functionLogicalId, logicalIdOf, synthCached } from "./support/synth.js";

/**
 * Written out, not taken from the manifest's needs: the functions that get the verifiable log's environment
 * (the signing key, the log name, the bucket that holds its tiles).
 */
const LOG_FUNCTIONS = [
  "seal-log",
  "nightly-export",
  "export-worker",
  "get-event-proof",
  "get-log-checkpoint",
  "get-log-key",
  "get-log-tile",
  "get-log-consistency",
];

/** The functions that use the checkpoint key: the two that sign, and the route that publishes it. */
const KEY_USERS = ["seal-log", "nightly-export", "get-log-key"];

/**
 * The functions that check stored events against the sealed tree and log `integrity violation`
 * when one does not match (functions/shared/core/log.ts, reportViolation): the sealer, the nightly
 * export (which seals first and places the day's events), the proof route, and the export worker
 * (evidence bundles place every event). The tamper watch has its own (test/infra/tamper-watch.test.ts).
 */
const INTEGRITY_REPORTERS: Record<string, string> = {
  "seal-log": "SealLogIntegrityViolation",
  "get-event-proof": "GetEventProofIntegrityViolation",
  "nightly-export": "NightlyExportIntegrityViolation",
  "export-worker": "ExportWorkerIntegrityViolation",
};

/** What happens to the signing key when the stack is deleted: prod and staging keep it. */
const KEY_DELETION_POLICY: Record<StageName, string> = { dev: "Delete", staging: "Retain", prod: "Retain" };

describe.each(STAGE_NAMES)("verifiable log (%s)", (stage) => {
  const s = synthCached(stage);
  const keyId = logicalIdOf(s.stack.checkpointKey);
  const keys = s.template.findResources("AWS::KMS::Key");
  const functions = s.template.findResources("AWS::Lambda::Function");
  const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const filters = Object.values(s.template.findResources("AWS::Logs::MetricFilter")).map((f) => f.Properties);
  const topic = { Ref: logicalIdOf(s.stack.alarms.topic) };
  const variablesOf = (handler: string) =>
    functions[functionLogicalId(s, handler)]?.Properties.Environment.Variables as Record<string, unknown>;

  describe("the checkpoint signing key", () => {
    const key = keys[keyId];

    it("is an ECC_NIST_P256 key for SIGN_VERIFY (ECDSA_SHA_256: c2sp.org/signed-note type 0x02)", () => {
      expect(key?.Properties).toMatchObject({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" });
      // An asymmetric key cannot rotate: a new key signs beside it under a new key name.
      expect(key?.Properties.EnableKeyRotation).toBeUndefined();
    });

    it(`has DeletionPolicy and UpdateReplacePolicy ${KEY_DELETION_POLICY[stage]}`, () => {
      expect(key?.DeletionPolicy).toBe(KEY_DELETION_POLICY[stage]);
      expect(key?.UpdateReplacePolicy).toBe(KEY_DELETION_POLICY[stage]);
    });

    it("its key policy only delegates to the account's IAM: no role or service is named in it", () => {
      const statements = key?.Properties.KeyPolicy.Statement as Record<string, unknown>[];
      expect(statements).toEqual([
        {
          Effect: "Allow",
          Principal: {
            AWS: {
              "Fn::Join": [
                "",
                ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"],
              ],
            },
          },
          Action: "kms:*",
          Resource: "*",
        },
      ]);
    });

    it("has the stage's alias, the one npm start and the docs use", () => {
      const aliases = Object.values(s.template.findResources("AWS::KMS::Alias")).filter(
        (a) => JSON.stringify(a.Properties.TargetKeyId) === JSON.stringify({ "Fn::GetAtt": [keyId, "Arn"] }),
      );
      expect(aliases.map((a) => a.Properties.AliasName)).toEqual([`alias/audit-log-${stage}-checkpoints`]);
      expect(checkpointKeyAlias(stage)).toBe(`alias/audit-log-${stage}-checkpoints`);
    });

    it("is the only asymmetric key in the stack", () => {
      const asymmetric = Object.entries(keys).filter(
        ([, k]) => k.Properties.KeySpec !== undefined && k.Properties.KeySpec !== "SYMMETRIC_DEFAULT",
      );
      expect(asymmetric.map(([id]) => id)).toEqual([keyId]);
    });
  });

  describe("the sealer's schedule", () => {
    const job = s.stack.jobs.get("seal-log");
    if (job === undefined) throw new Error("no job for seal-log");
    const rule = s.template.findResources("AWS::Events::Rule")[logicalIdOf(job.rule)]?.Properties;
    const queueId = logicalIdOf(job.deadLetterQueue);

    it("runs every minute and invokes only the seal-log function", () => {
      expect(rule.ScheduleExpression).toBe("rate(1 minute)");
      expect(rule.State).toBe("ENABLED");
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0].Arn).toEqual({ "Fn::GetAtt": [functionLogicalId(s, "seal-log"), "Arn"] });
    });

    it("retries an undelivered run for 10 minutes at most, then hands it to its own dead-letter queue", () => {
      expect(rule.Targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 600 });
      expect(rule.Targets[0].DeadLetterConfig).toEqual({ Arn: { "Fn::GetAtt": [queueId, "Arn"] } });
      expect(s.template.findResources("AWS::SQS::Queue")[queueId]?.Properties.SqsManagedSseEnabled).toBe(
        true,
      );
    });

    it("alarms on the first run in its dead-letter queue", () => {
      const dlq = alarms.filter(
        (a) =>
          a.MetricName === "ApproximateNumberOfMessagesVisible" &&
          JSON.stringify(a.Dimensions).includes(queueId),
      );
      expect(dlq).toEqual([
        expect.objectContaining({
          Threshold: 1,
          ComparisonOperator: "GreaterThanOrEqualToThreshold",
          AlarmActions: [topic],
        }),
      ]);
    });

    it("a run ends before the next one starts", () => {
      expect(functions[functionLogicalId(s, "seal-log")]?.Properties.Timeout).toBeLessThan(60);
    });
  });

  it("alarms when a workspace could not be sealed, and when the sealer stops logging its runs", () => {
    const filter = filters.find((f) => f.FilterPattern === `{ $.message = "${SEALER_RUN}" }`);
    expect(filter?.LogGroupName).toEqual({
      Ref: logicalIdOf(s.stack.functions.get("seal-log")?.logGroup as IConstruct),
    });
    expect(filter?.MetricTransformations[0].MetricValue).toBe("$.failedWorkspaces");
    const alarm = alarms.find((a) => a.MetricName === filter?.MetricTransformations[0].MetricName);
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "breaching",
    });
  });

  describe("the log functions' environment", () => {
    it.each(LOG_FUNCTIONS)(
      "%s is told the stage's log name, the signing key (by ARN) if it uses it, and the tile bucket if it reads tiles",
      (handler) => {
        const variables = variablesOf(handler);
        if (KEY_USERS.includes(handler))
          expect(variables.LOG_SIGNING_KEY_ID).toEqual({ "Fn::GetAtt": [keyId, "Arn"] });
        else expect(variables.LOG_SIGNING_KEY_ID).toBeUndefined();
        // Written out, and checked against the runtime's own builder: origins and key names start with it.
        expect(variables.LOG_NAME).toBe(`flowtriq.com/audit-log/${stage}`);
        expect(variables.LOG_NAME).toBe(logNameOf(stage));
        if (handler === "get-log-key") expect(variables.EXPORT_BUCKET).toBeUndefined();
        else expect(variables.EXPORT_BUCKET).toEqual({ Ref: logicalIdOf(s.stack.archive.bucket) });
      },
    );

    it("no other function, the tamper watch included, is told about the signing key or the log name", () => {
      const others = [...s.stack.functions.keys()].filter((h) => !LOG_FUNCTIONS.includes(h));
      expect(others.length).toBeGreaterThan(0);
      for (const handler of others) {
        expect(variablesOf(handler).LOG_SIGNING_KEY_ID, handler).toBeUndefined();
        expect(variablesOf(handler).LOG_NAME, handler).toBeUndefined();
      }
      const watch =
        functions[logicalIdOf(s.stack.tamperWatch.function.function)]?.Properties.Environment.Variables;
      expect(watch.LOG_SIGNING_KEY_ID).toBeUndefined();
      expect(watch.LOG_NAME).toBeUndefined();
    });
  });

  describe("integrity violations found by the log's functions", () => {
    const pattern = `{ $.message = "${INTEGRITY_VIOLATION}" }`;

    it("are counted on the log group of each function that can find one, and nowhere else but the tamper watch", () => {
      const counted = filters.filter((f) => f.FilterPattern === pattern).map((f) => f.LogGroupName);
      const groupOf = (handler: string) => ({
        Ref: logicalIdOf(s.stack.functions.get(handler)?.logGroup as IConstruct),
      });
      expect(counted).toHaveLength(Object.keys(INTEGRITY_REPORTERS).length + 1);
      expect(counted).toEqual(
        expect.arrayContaining([
          ...Object.keys(INTEGRITY_REPORTERS).map(groupOf),
          { Ref: logicalIdOf(s.stack.tamperWatch.function.logGroup) },
        ]),
      );
    });

    it.each(Object.entries(INTEGRITY_REPORTERS))(
      "%s: one filter counts each logged violation as %s",
      (handler, metric) => {
        const group = logicalIdOf(s.stack.functions.get(handler)?.logGroup as IConstruct);
        expect(filters.filter((f) => f.MetricTransformations[0].MetricName === metric)).toEqual([
          {
            LogGroupName: { Ref: group },
            FilterPattern: pattern,
            MetricTransformations: [
              { MetricNamespace: `AuditLog/${stage}`, MetricName: metric, MetricValue: "1" },
            ],
          },
        ]);
      },
    );

    it.each(Object.entries(INTEGRITY_REPORTERS))(
      "%s: alarms on the first %s, quiet without data",
      (_handler, metric) => {
        expect(alarms.filter((a) => a.Namespace === `AuditLog/${stage}` && a.MetricName === metric)).toEqual([
          expect.objectContaining({
            Statistic: "Sum",
            Period: 300,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: "GreaterThanOrEqualToThreshold",
            TreatMissingData: "notBreaching",
            AlarmActions: [topic],
            OKActions: [topic],
          }),
        ]);
      },
    );
  });

  describe("the tile route", () => {
    const routes = Object.values(s.template.findResources("AWS::ApiGatewayV2::Route"));
    const route = routes.find((r) => r.Properties.RouteKey === "GET /v1/log/tile/{path+}");

    it("GET /v1/log/tile/{path+} is a greedy route to the get-log-tile function", () => {
      expect(route?.Properties.ApiId).toEqual({ Ref: logicalIdOf(s.stack.http.api) });
      const target = route?.Properties.Target["Fn::Join"][1][1].Ref as string;
      const integration = s.template.findResources("AWS::ApiGatewayV2::Integration")[target]?.Properties;
      expect(integration).toMatchObject({ IntegrationType: "AWS_PROXY", PayloadFormatVersion: "2.0" });
      expect(integration.IntegrationUri).toEqual({
        "Fn::GetAtt": [functionLogicalId(s, "get-log-tile"), "Arn"],
      });
    });

    it("API Gateway may invoke get-log-tile for that route", () => {
      const permissions = Object.values(s.template.findResources("AWS::Lambda::Permission")).filter(
        (p) =>
          JSON.stringify(p.Properties.FunctionName) ===
          JSON.stringify({ "Fn::GetAtt": [functionLogicalId(s, "get-log-tile"), "Arn"] }),
      );
      expect(permissions).toHaveLength(1);
      expect(permissions[0]?.Properties.Principal).toBe("apigateway.amazonaws.com");
      expect(JSON.stringify(permissions[0]?.Properties.SourceArn)).toContain('"/*/*/v1/log/tile/{path+}"');
    });
  });
});
