import { describe, expect, it } from "vitest";
import {
  CONTROL_TABLE,
  CONTROL_TABLE_BASENAME,
  EVENTS_TABLE,
  EVENTS_TABLE_BASENAME,
  EXPIRES_AT,
  INDEX_PARTITION_KEY,
  Index,
  PK,
  SK,
} from "../../functions/shared/table.js";
import { logicalIdOf, synthCached } from "./support/synth.js";

/** The item actions that would let anyone alter or remove a stored event. */
const MUTATIONS = [
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
];

describe.each(["dev", "staging", "prod"] as const)("events table (%s)", (stage) => {
  const s = synthCached(stage);
  const table = s.template.findResources("AWS::DynamoDB::Table")[logicalIdOf(s.stack.tables.events)];
  const props = table?.Properties;

  it("is named after the shared base name and the stage", () => {
    expect(props.TableName).toBe(`${EVENTS_TABLE_BASENAME}-${stage}`);
  });

  it("its resource policy denies every mutation to every principal", () => {
    const statements = props.ResourcePolicy?.PolicyDocument?.Statement as Record<string, unknown>[];
    const deny = statements.find((st) => st.Effect === "Deny");
    expect(deny).toBeDefined();
    expect(deny?.Principal).toEqual({ AWS: "*" });
    expect(deny?.Resource).toBe("*");
    expect(deny?.Condition).toBeUndefined();
    expect(deny?.Action).toEqual(expect.arrayContaining([...MUTATIONS, "dynamodb:BatchWriteItem"]));
    expect(statements.filter((st) => st.Effect === "Allow")).toEqual([]);
  });

  it("its resource policy denies PutItem to every principal but the roles the stack grants it to", () => {
    // Prepare: every role whose IAM policy allows PutItem on the events table.
    const tableArn = { "Fn::GetAtt": [logicalIdOf(s.stack.tables.events), "Arn"] };
    const putters = new Set<string>();
    for (const policy of Object.values(s.template.findResources("AWS::IAM::Policy"))) {
      const statements = policy.Properties.PolicyDocument.Statement as Record<string, unknown>[];
      const puts = statements.some(
        (st) =>
          st.Effect === "Allow" &&
          ([st.Action].flat() as string[]).includes("dynamodb:PutItem") &&
          JSON.stringify([st.Resource].flat()) === JSON.stringify([tableArn]),
      );
      if (puts) for (const role of policy.Properties.Roles as { Ref: string }[]) putters.add(role.Ref);
    }

    // Act
    const statements = props.ResourcePolicy?.PolicyDocument?.Statement as Record<string, unknown>[];
    const denyPut = statements.find((st) => st.Sid === "DenyEventPutExceptTheService") as {
      Effect: string;
      Principal: unknown;
      Action: unknown;
      Condition: { ArnNotEquals: { "aws:PrincipalArn": { "Fn::GetAtt": [string, string] }[] } };
    };

    // Assess
    expect(denyPut.Effect).toBe("Deny");
    expect(denyPut.Principal).toEqual({ AWS: "*" });
    expect([denyPut.Action].flat().sort()).toEqual(["dynamodb:PartiQLInsert", "dynamodb:PutItem"]);
    const allowed = denyPut.Condition.ArnNotEquals["aws:PrincipalArn"].map((arn) => arn["Fn::GetAtt"][0]);
    expect(putters.size).toBeGreaterThan(10);
    expect(new Set(allowed)).toEqual(putters);
  });

  it("has point-in-time recovery, on-demand billing, a KMS key with rotation, and a full-image stream", () => {
    expect(props).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      BillingMode: "PAY_PER_REQUEST",
      SSESpecification: {
        SSEEnabled: true,
        SSEType: "KMS",
        KMSMasterKeyId: { "Fn::GetAtt": [logicalIdOf(s.stack.tables.key), "Arn"] },
      },
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
    });
    const key = s.template.findResources("AWS::KMS::Key")[logicalIdOf(s.stack.tables.key)];
    expect(key?.Properties?.EnableKeyRotation).toBe(true);
  });

  it("expires items by TTL on the runtime's attribute", () => {
    expect(props.TimeToLiveSpecification).toEqual({ AttributeName: EXPIRES_AT, Enabled: true });
    expect(EVENTS_TABLE.timeToLiveAttribute).toBe(EXPIRES_AT);
  });

  it("has the key schema and exactly the GSIs of the shared definition, with their projections", () => {
    expect(props.KeySchema).toEqual([
      { AttributeName: PK, KeyType: "HASH" },
      { AttributeName: SK, KeyType: "RANGE" },
    ]);
    const gsis = props.GlobalSecondaryIndexes as Record<string, unknown>[];
    expect(gsis.map((g) => g.IndexName).sort()).toEqual(EVENTS_TABLE.indexes.map((i) => i.name).sort());
    for (const index of EVENTS_TABLE.indexes) {
      expect(gsis.find((g) => g.IndexName === index.name)).toEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: index.projection },
      });
    }
    // The three query indexes callers use: workspace-prefixed keys, sorted by sk, projecting ALL.
    for (const name of Object.values(Index)) {
      expect(gsis.find((g) => g.IndexName === name)).toEqual({
        IndexName: name,
        KeySchema: [
          { AttributeName: INDEX_PARTITION_KEY[name], KeyType: "HASH" },
          { AttributeName: SK, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      });
    }
    for (const def of props.AttributeDefinitions as { AttributeType: string }[]) {
      expect(def.AttributeType).toBe("S");
    }
  });
});

describe.each(["staging", "prod"] as const)("deletion protection (%s)", (stage) => {
  it("protects both tables", () => {
    const s = synthCached(stage);
    for (const table of [s.stack.tables.events, s.stack.tables.control]) {
      const props = s.template.findResources("AWS::DynamoDB::Table")[logicalIdOf(table)]?.Properties;
      expect(props?.DeletionProtectionEnabled).toBe(true);
    }
  });
});

describe("control table (prod)", () => {
  const s = synthCached("prod");

  it("is named after the stage and has PITR, KMS encryption, on-demand billing and TTL", () => {
    s.template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: `${CONTROL_TABLE_BASENAME}-prod`,
      KeySchema: [
        { AttributeName: PK, KeyType: "HASH" },
        { AttributeName: SK, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
      TimeToLiveSpecification: { AttributeName: EXPIRES_AT, Enabled: true },
    });
  });

  it("has the GSIs of the shared control-table definition", () => {
    const props =
      s.template.findResources("AWS::DynamoDB::Table")[logicalIdOf(s.stack.tables.control)]?.Properties;
    const gsis = props.GlobalSecondaryIndexes as Record<string, unknown>[];
    expect(gsis).toEqual(
      CONTROL_TABLE.indexes.map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: index.projection },
      })),
    );
    expect(props.ResourcePolicy).toBeUndefined();
  });
});
