import { describe, expect, it } from "vitest";
import { SCHEDULED_HANDLERS } from "../../functions/shared/routes.js";
import { functionLogicalId, logicalIdOf, synthCached } from "./support/synth.js";

/** EventBridge evaluates these in UTC. */
const EXPECTED_SCHEDULES: Record<(typeof SCHEDULED_HANDLERS)[number], string> = {
  "nightly-export": "cron(15 0 * * ? *)",
  "flush-access-failures": "rate(1 minute)",
  "seal-log": "rate(1 minute)",
};

describe("scheduled jobs (prod)", () => {
  const s = synthCached("prod");
  const rules = s.template.findResources("AWS::Events::Rule");

  it("the expected schedules name every scheduled handler, and no other", () => {
    // SCHEDULED_HANDLERS is a string[], so the compiler cannot tell that a handler is missing here.
    expect(Object.keys(EXPECTED_SCHEDULES).sort()).toEqual([...SCHEDULED_HANDLERS].sort());
  });

  it("one rule per scheduled handler, and no other", () => {
    expect(Object.keys(rules)).toHaveLength(SCHEDULED_HANDLERS.length);
    expect([...s.stack.jobs.keys()].sort()).toEqual([...SCHEDULED_HANDLERS].sort());
  });

  describe.each(SCHEDULED_HANDLERS)("%s", (handler) => {
    const job = s.stack.jobs.get(handler);
    if (job === undefined) throw new Error(`no job for ${handler}`);
    const rule = rules[logicalIdOf(job.rule)]?.Properties;
    const queueId = logicalIdOf(job.deadLetterQueue);

    it(`runs on ${EXPECTED_SCHEDULES[handler]} and invokes only its own function`, () => {
      expect(rule.ScheduleExpression).toBe(EXPECTED_SCHEDULES[handler]);
      expect(rule.State).toBe("ENABLED");
      expect(rule.Targets).toHaveLength(1);
      expect(rule.Targets[0].Arn).toEqual({ "Fn::GetAtt": [functionLogicalId(s, handler), "Arn"] });
    });

    it("retries twice, then hands the event to its own dead-letter queue", () => {
      const target = rule.Targets[0];
      expect(target.DeadLetterConfig).toEqual({ Arn: { "Fn::GetAtt": [queueId, "Arn"] } });
      expect(target.RetryPolicy.MaximumRetryAttempts).toBe(2);
      expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBeGreaterThan(0);
    });

    it("the dead-letter queue is encrypted, refuses plain HTTP, and lets only this rule send", () => {
      const queue = s.template.findResources("AWS::SQS::Queue")[queueId]?.Properties;
      expect(queue.SqsManagedSseEnabled).toBe(true);
      const policy = Object.values(s.template.findResources("AWS::SQS::QueuePolicy")).find((p) =>
        JSON.stringify(p.Properties.Queues).includes(queueId),
      );
      const statements = policy?.Properties.PolicyDocument.Statement as Record<string, unknown>[];
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
      const send = statements.find((st) => st.Effect === "Allow");
      expect(send?.Principal).toEqual({ Service: "events.amazonaws.com" });
      expect(JSON.stringify(send?.Condition)).toContain(logicalIdOf(job.rule));
    });

    it("EventBridge may invoke the function", () => {
      s.template.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunction",
        Principal: "events.amazonaws.com",
        FunctionName: { "Fn::GetAtt": [functionLogicalId(s, handler), "Arn"] },
        SourceArn: { "Fn::GetAtt": [logicalIdOf(job.rule), "Arn"] },
      });
    });
  });
});
