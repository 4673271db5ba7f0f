import { describe, expect, it } from "vitest";
import { synthCached } from "./support/synth.js";

/** Resource types that hold audit data, or the means to read it. */
const DATA_TYPES = [
  "AWS::DynamoDB::Table",
  "AWS::S3::Bucket",
  "AWS::KMS::Key",
  "AWS::Logs::LogGroup",
  "AWS::SecretsManager::Secret",
];

describe("removal policies", () => {
  it.each(DATA_TYPES)("prod retains every %s when the stack is deleted or the resource replaced", (type) => {
    const { template } = synthCached("prod");
    const resources = Object.entries(template.findResources(type));
    expect(resources.length).toBeGreaterThan(0);
    for (const [, resource] of resources) {
      expect(resource.DeletionPolicy).toBe("Retain");
      expect(resource.UpdateReplacePolicy).toBe("Retain");
    }
  });

  it("prod has termination protection", () => {
    expect(synthCached("prod").stack.terminationProtection).toBe(true);
  });

  it("dev tables are deleted with the stack, so a throwaway environment can go away", () => {
    const { template } = synthCached("dev");
    for (const table of Object.values(template.findResources("AWS::DynamoDB::Table"))) {
      expect(table.DeletionPolicy).toBe("Delete");
      expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    }
  });
});
