import { App, Stack, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { synthCached, unacknowledgedNagErrors } from "./support/synth.js";

/**
 * cdk-nag 3 is a policy-validation plugin: its findings are not construct annotations any more, so
 * `Annotations.fromStack(...).findError(...)` would always be empty. The pack is run directly on the
 * stack's construct tree instead, exactly as the plugin does during `cdk synth`.
 */
describe.each(["dev", "staging", "prod"] as const)("cdk-nag AwsSolutions (%s)", (stage) => {
  const s = synthCached(stage);

  it("reports no error that is not acknowledged on its own resource", () => {
    expect(unacknowledgedNagErrors(s)).toEqual([]);
  });

  it("every acknowledgement names one rule finding, sits below the stack, and gives a reason", () => {
    const acks: { path: string; id: string; reason: string }[] = [];
    const walk = (c: IConstruct) => {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          acks.push({ path: c.node.path, id, reason });
        }
      }
      for (const child of c.node.children) walk(child);
    };
    walk(s.stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path.startsWith(`${s.stack.stackName}/`)).toBe(true);
      expect(ack.id).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(ack.reason.length).toBeGreaterThan(40);
    }
  });
});

describe("the nag check itself", () => {
  it("finds errors in a stack that breaks the rules", () => {
    const app = new App();
    const stack = new Stack(app, "Careless");
    new s3.Bucket(stack, "Open", { enforceSSL: false });
    const errors = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.filter((v) => v.severity === "error")
      .map((v) => v.ruleName);
    expect(errors).toEqual(expect.arrayContaining(["AwsSolutions-S1", "AwsSolutions-S10"]));
  });
});
