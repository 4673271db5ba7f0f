import { describe, expect, it } from "vitest";
import { allPolicyStatements, type TemplateJson } from "./support/iam.js";
import { logicalIdOf, roleLogicalId, synthCached } from "./support/synth.js";

/** COMPLIANCE retention per stage, as the issue fixes it. */
describe.each([
  ["dev", 1],
  ["staging", 30],
  ["prod", 365],
] as const)("export bucket (%s)", (stage, days) => {
  const s = synthCached(stage);
  const bucketId = logicalIdOf(s.stack.archive.bucket);
  const logsId = logicalIdOf(s.stack.archive.accessLogs);
  const buckets = s.template.findResources("AWS::S3::Bucket");
  const bucket = buckets[bucketId]?.Properties;
  const policies = Object.values(s.template.findResources("AWS::S3::BucketPolicy"));

  /** Statements of the bucket policy attached to the bucket with logical id `id`. */
  const policyOf = (id: string): Record<string, unknown>[] =>
    policies.find((p) => p.Properties.Bucket?.Ref === id)?.Properties.PolicyDocument.Statement ?? [];

  it(`locks every object in COMPLIANCE mode for ${days} day(s)`, () => {
    expect(bucket.ObjectLockEnabled).toBe(true);
    expect(bucket.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: days } },
    });
  });

  it("is versioned, encrypted and blocks all public access", () => {
    expect(bucket.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: "AES256",
    });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it.each([
    ["export", () => bucketId],
    ["access log", () => logsId],
  ])("the %s bucket policy denies requests that are not over TLS", (_name, id) => {
    const deny = policyOf(id()).find(
      (st) =>
        st.Effect === "Deny" &&
        JSON.stringify(st.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
    );
    expect(deny?.Principal).toEqual({ AWS: "*" });
    expect(deny?.Action).toBe("s3:*");
  });

  it("aborts incomplete multipart uploads", () => {
    const rules = bucket.LifecycleConfiguration.Rules as Record<string, unknown>[];
    expect(rules).toContainEqual(
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    );
  });

  it("expires export files only where a stage asks for it, and never the verifiable log's tiles and checkpoints", () => {
    const rules = bucket.LifecycleConfiguration.Rules as Record<string, unknown>[];
    const expiring = rules.filter((r) => "ExpirationInDays" in r);
    if (stage === "dev") {
      expect(expiring.map((r) => r.Prefix).sort()).toEqual(["exports/", "on-demand/"]);
    } else {
      expect(expiring).toEqual([]);
    }
    for (const rule of rules) expect(rule.Prefix === undefined && "ExpirationInDays" in rule).toBe(false);
  });

  it("writes server access logs to a separate, encrypted, private bucket", () => {
    expect(bucket.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logsId });
    expect(logsId).not.toBe(bucketId);
    const logs = buckets[logsId]?.Properties;
    expect(
      logs.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe("AES256");
    expect(Object.values(logs.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    // S3 log delivery is allowed by bucket policy (ACLs stay disabled), and only from the export bucket.
    const delivery = policyOf(logsId).find((st) => st.Effect === "Allow");
    expect(delivery?.Principal).toEqual({ Service: "logging.s3.amazonaws.com" });
    expect(JSON.stringify(delivery?.Condition)).toContain(bucketId);
  });

  it("only the export and verifiable-log functions' roles may touch the bucket: writers never delete or bypass a lock, readers only read", () => {
    const all = allPolicyStatements(s.template.toJSON() as TemplateJson).filter(
      (p) => p.statement.Effect === "Allow" && JSON.stringify(p.statement.Resource).includes(`"${bucketId}"`),
    );
    // The sealer writes tiles and checkpoints, write-once under Object Lock, beside the exports.
    const writers = ["nightly-export", "export-worker", "seal-log"];
    // The log's routes read tiles (proofs are built from them); none of them writes.
    const readers = [
      "list-nightly-exports",
      "get-export",
      "get-event-proof",
      "get-log-checkpoint",
      "get-log-tile",
      "get-log-consistency",
    ];
    expect(new Set(all.flatMap((g) => g.roles))).toEqual(
      new Set([...writers, ...readers].map((h) => roleLogicalId(s, h))),
    );
    const actionsOf = (handler: string) =>
      all
        .filter((g) => g.roles.includes(roleLogicalId(s, handler)))
        .flatMap((g) => [g.statement.Action ?? []].flat())
        .sort();
    for (const reader of readers) expect(actionsOf(reader)).toEqual(["s3:GetObject", "s3:ListBucket"]);
    for (const writer of writers) {
      expect(actionsOf(writer)).toEqual(
        [
          "s3:AbortMultipartUpload",
          "s3:GetObject",
          "s3:GetObjectRetention",
          "s3:ListBucket",
          "s3:PutObject",
          "s3:PutObjectRetention",
        ].sort(),
      );
    }
  });
});
