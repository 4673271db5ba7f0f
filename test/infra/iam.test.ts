import { describe, expect, it } from "vitest";
import {
  CONTROL_TABLE,
  CONTROL_TABLE_BASENAME,
  destinationSecretPrefix,
  EVENTS_TABLE,
  EVENTS_TABLE_BASENAME,
  Keys,
} from "../../functions/shared/table.js";
import { STAGE_NAMES, type StageName } from "../../lib/stages.js";
import {
  actionsOnTable,
  allPolicyStatements,
  coversTable,
  flatten,
  forbiddenGrants,
  grantsOnArn,
  type Statement,
  type TableRef,
  type TemplateJson,
} from "./support/iam.js";
import { logicalIdOf, roleLogicalId, type Synthesized, synthCached } from "./support/synth.js";

/**
 * Written out here rather than imported from lib/, so that shortening the stack's own list cannot
 * quietly shorten what this test checks.
 */
const FORBIDDEN_ON_EVENTS = [
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
  "dynamodb:BatchWriteItem",
  "dynamodb:Scan",
] as const;

const FAIL = "fail#*";
const REACH = "reach#*";
const RATE = "rate#*";
/**
 * Reads the key, counts failed logins, reaches into other workspaces and the workspace's requests
 * (its rate): what every authenticated route does in the control table.
 */
const AUTHENTICATED = { actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], update: [FAIL, RATE, REACH] };

/**
 * The reviewed expectation per handler. A handler missing here fails the coverage test below, so a
 * new function cannot arrive without someone writing down what it may do.
 */
const EVENTS_ACCESS: Record<string, string[]> = {
  health: [],
  dashboard: [],
  openapi: [],
  // Authenticated routes append their own `audit.queried`, `access.denied` and key/settings events.
  "post-events": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "list-events": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  // By its guard; which other workspace holds an id is the flush's question, off the request path.
  "get-event": ["dynamodb:GetItem", "dynamodb:PutItem"],
  // The verifiable log's reads find the event by its guard (the proof) and append audit.queried;
  // the tree itself is in the control table and the export bucket.
  "get-event-proof": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-log-checkpoint": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-log-key": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-log-tile": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-log-consistency": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "create-key": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "create-viewer-session": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "list-keys": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "rotate-key": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "revoke-key": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-settings": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "put-settings": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "list-nightly-exports": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "create-export": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "get-export": ["dynamodb:GetItem", "dynamodb:PutItem"],
  // Streams the query into the file, then appends audit.exported.
  "export-worker": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  // Reads each day, and appends audit.export_delivery_failed when a customer's bucket is down.
  "nightly-export": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  // Appends access.denied; queries byEventId for who holds a reached event id.
  "flush-access-failures": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  // Reads each workspace's new events in order, and appends integrity.violation to the operator log.
  "seal-log": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
};

const LOG = "log#*";
/**
 * An authenticated read of the verifiable log: the key and counters as every authenticated route,
 * plus Query on the log's own items (its state and tile anchors), and nothing else by Query.
 */
const LOG_READER = {
  actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
  update: [FAIL, RATE, REACH],
  query: [LOG],
};

/**
 * `put` and `update`: the key prefixes each may write (from LeadingKeys); `query`: what each may
 * Query, as `index/<name>` or the LeadingKeys prefixes on the table itself.
 */
const CONTROL_ACCESS: Record<
  string,
  { actions: string[]; put?: string[]; update?: string[]; check?: string[]; query?: string[] }
> = {
  health: { actions: [] },
  openapi: { actions: [] },
  dashboard: { actions: [] },
  // Its append's transaction holds a ConditionCheck on the source's failure counter (a throttled
  // source is refused in the write itself), and on nothing else in the control table.
  "post-events": {
    actions: ["dynamodb:ConditionCheckItem", ...AUTHENTICATED.actions],
    update: AUTHENTICATED.update,
    check: [FAIL],
  },
  "list-events": AUTHENTICATED,
  "get-event": AUTHENTICATED,
  "get-event-proof": LOG_READER,
  "get-log-checkpoint": LOG_READER,
  // Reads only the key's public half: no log state, no tiles.
  "get-log-key": AUTHENTICATED,
  "get-log-tile": LOG_READER,
  "get-log-consistency": LOG_READER,
  "get-settings": AUTHENTICATED,
  "list-nightly-exports": AUTHENTICATED,
  "get-export": AUTHENTICATED,
  "create-export": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    put: ["export#*"],
    update: [FAIL, RATE, REACH],
  },
  // Evidence bundles read the log's state and anchors; it never writes them.
  "export-worker": {
    actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    update: ["export#*"],
    query: [LOG],
  },
  "create-key": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    put: ["key#*"],
    update: [FAIL, RATE, REACH],
  },
  // A session is a key record (with a TTL), under the same prefix.
  "create-viewer-session": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    put: ["key#*"],
    update: [FAIL, RATE, REACH],
  },
  "list-keys": {
    actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    update: [FAIL, RATE, REACH],
    query: ["index/keysByWorkspace"],
  },
  "rotate-key": { actions: AUTHENTICATED.actions, update: [FAIL, "key#*", RATE, REACH] },
  "revoke-key": { actions: AUTHENTICATED.actions, update: [FAIL, "key#*", RATE, REACH] },
  "put-settings": { actions: AUTHENTICATED.actions, update: [FAIL, RATE, REACH, "ws#*"] },
  // The export job walks every workspace: a Scan of the small control table, never of the events
  // table. It seals a day first if the tree is behind, so it replaces the log's state and anchors.
  "nightly-export": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"],
    put: [LOG],
    query: [LOG],
  },
  "flush-access-failures": {
    actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    update: [FAIL, REACH],
    query: ["index/pendingFailures"],
  },
  // Walks every workspace (Scan); puts the log's state (optimistic, on its revision) and anchors.
  "seal-log": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"],
    put: [LOG],
    query: [LOG],
  },
};

/**
 * Every Secrets Manager action that acts on a secret, written out so that a wildcard grant
 * (`secretsmanager:*`, `secretsmanager:Get*`, `*`) is caught by matching against each of them.
 */
const SECRET_ACTIONS = [
  "secretsmanager:BatchGetSecretValue",
  "secretsmanager:CancelRotateSecret",
  "secretsmanager:CreateSecret",
  "secretsmanager:DeleteResourcePolicy",
  "secretsmanager:DeleteSecret",
  "secretsmanager:DescribeSecret",
  "secretsmanager:GetResourcePolicy",
  "secretsmanager:GetSecretValue",
  "secretsmanager:ListSecretVersionIds",
  "secretsmanager:PutResourcePolicy",
  "secretsmanager:PutSecretValue",
  "secretsmanager:RemoveRegionsFromReplication",
  "secretsmanager:ReplicateSecretToRegions",
  "secretsmanager:RestoreSecret",
  "secretsmanager:RotateSecret",
  "secretsmanager:StopReplicationToReplica",
  "secretsmanager:TagResource",
  "secretsmanager:UntagResource",
  "secretsmanager:UpdateSecret",
  "secretsmanager:UpdateSecretVersionStage",
  "secretsmanager:ValidateResourcePolicy",
] as const;

/**
 * Customers' export-destination credentials (`audit-log/<stage>/destinations/<workspaceId>`): the
 * settings handler stores them and never reads one back; the nightly export only reads them.
 */
const DESTINATION_ACCESS: Record<string, string[]> = {
  health: [],
  dashboard: [],
  openapi: [],
  "post-events": [],
  "list-events": [],
  "get-event": [],
  "get-event-proof": [],
  "get-log-checkpoint": [],
  "get-log-key": [],
  "get-log-tile": [],
  "get-log-consistency": [],
  "create-key": [],
  "create-viewer-session": [],
  "list-keys": [],
  "rotate-key": [],
  "revoke-key": [],
  // Answers whether a destination is set from the workspace item; it never touches the secret.
  "get-settings": [],
  "put-settings": ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"],
  "list-nightly-exports": [],
  "create-export": [],
  "get-export": [],
  "export-worker": [],
  "nightly-export": ["secretsmanager:GetSecretValue"],
  "flush-access-failures": [],
  "seal-log": [],
};

/**
 * Every KMS action that acts on a key, written out so that a wildcard grant (`kms:*`, `kms:Get*`,
 * `*`) on the checkpoint key is caught by matching against each of them.
 */
const KMS_KEY_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:CreateGrant",
  "kms:Decrypt",
  "kms:DeleteAlias",
  "kms:DeleteImportedKeyMaterial",
  "kms:DeriveSharedSecret",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyPair",
  "kms:GenerateDataKeyPairWithoutPlaintext",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GenerateMac",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:GetParametersForImport",
  "kms:GetPublicKey",
  "kms:ImportKeyMaterial",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
  "kms:ReplicateKey",
  "kms:RetireGrant",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:Sign",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
  "kms:UpdatePrimaryRegion",
  "kms:Verify",
  "kms:VerifyMac",
] as const;

const SIGNER = ["kms:GetPublicKey", "kms:Sign"];
const VERIFIER = ["kms:GetPublicKey"];
/**
 * The checkpoint key (ECC_NIST_P256, SIGN_VERIFY): the sealer, and the nightly export that seals a
 * day first when the tree is behind, sign with it; GET /v1/log/key only reads its public half. The
 * log's other readers and the export worker (evidence bundles) never touch it: the checkpoint they
 * serve was signed by the sealer. Nobody may decrypt, encrypt, or manage it.
 */
const CHECKPOINT_KEY_ACCESS: Record<string, string[]> = {
  health: [],
  dashboard: [],
  openapi: [],
  "post-events": [],
  "list-events": [],
  "get-event": [],
  "get-event-proof": [],
  "get-log-checkpoint": [],
  "get-log-key": VERIFIER,
  "get-log-tile": [],
  "get-log-consistency": [],
  "create-key": [],
  "create-viewer-session": [],
  "list-keys": [],
  "rotate-key": [],
  "revoke-key": [],
  "get-settings": [],
  "put-settings": [],
  "list-nightly-exports": [],
  "create-export": [],
  "get-export": [],
  "export-worker": [],
  "nightly-export": SIGNER,
  "flush-access-failures": [],
  "seal-log": SIGNER,
};

/** A sample ARN of a KMS key in the walker's sample account, which wildcard resources match. */
const SAMPLE_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** A secret as Secrets Manager names it: the name, then `-` and six random characters. */
const destinationSecretArn = (stage: StageName, workspaceId: string) =>
  `arn:aws:secretsmanager:eu-west-1:123456789012:secret:audit-log/${stage}/destinations/${workspaceId}-AbC123`;

describe("the expectation tables", () => {
  it("cover every function the stack builds", () => {
    const built = [...synthCached("dev").stack.functions.keys()].sort();
    expect(Object.keys(EVENTS_ACCESS).sort()).toEqual(built);
    expect(Object.keys(CONTROL_ACCESS).sort()).toEqual(built);
    expect(Object.keys(DESTINATION_ACCESS).sort()).toEqual(built);
    expect(Object.keys(CHECKPOINT_KEY_ACCESS).sort()).toEqual(built);
  });
});

function eventsTable(s: Synthesized, stage: StageName): TableRef {
  return {
    logicalId: logicalIdOf(s.stack.tables.events),
    tableName: `${EVENTS_TABLE_BASENAME}-${stage}`,
    indexNames: EVENTS_TABLE.indexes.map((i) => i.name),
  };
}

function templateJson(s: Synthesized): TemplateJson {
  return s.template.toJSON() as TemplateJson;
}

describe.each(["dev", "staging", "prod"] as const)("IAM on the events table (%s)", (stage) => {
  const s = synthCached(stage);
  const table = eventsTable(s, stage);

  it("no Allow statement anywhere grants a mutating action, BatchWriteItem, Scan or a wildcard on it", () => {
    // Prepare
    const template = templateJson(s);

    // Act
    const violations = forbiddenGrants(template, table, FORBIDDEN_ON_EVENTS);

    // Assess
    expect(allPolicyStatements(template).length).toBeGreaterThan(0);
    expect(violations).toEqual([]);
  });

  it.each(Object.entries(EVENTS_ACCESS))("%s may only %j", (handler, expected) => {
    expect(actionsOnTable(templateJson(s), table, roleLogicalId(s, handler))).toEqual(expected);
  });

  it("readers query each GSI by its own ARN, not through an index/* wildcard", () => {
    const query = allPolicyStatements(templateJson(s)).find(
      (p) => p.roles.includes(roleLogicalId(s, "list-events")) && p.statement.Action === "dynamodb:Query",
    );
    const resources = JSON.stringify(query?.statement.Resource);
    for (const index of EVENTS_TABLE.indexes) expect(resources).toContain(`/index/${index.name}"`);
    expect(resources).not.toContain("/index/*");
  });

  it("no Allow statement uses Resource '*' (tracing, the one user of it, is off)", () => {
    const statements = allPolicyStatements(templateJson(s)).filter((p) => p.statement.Effect === "Allow");
    expect(statements.length).toBeGreaterThan(0);
    const starActions = statements
      .filter((p) => p.statement.Resource === "*")
      .flatMap((p) => [p.statement.Action ?? []].flat());
    expect(starActions).toEqual([]);
  });

  it("no role carries a managed policy", () => {
    const roles = s.template.findResources("AWS::IAM::Role");
    expect(Object.keys(roles).length).toBeGreaterThan(0);
    for (const role of Object.values(roles)) {
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe("IAM on the control table (prod)", () => {
  const s = synthCached("prod");
  const control: TableRef = {
    logicalId: logicalIdOf(s.stack.tables.control),
    tableName: `${CONTROL_TABLE_BASENAME}-prod`,
    indexNames: CONTROL_TABLE.indexes.map((i) => i.name),
  };
  const statements = allPolicyStatements(templateJson(s));

  /** The key prefixes a role may write with `action` on the control table (from LeadingKeys). */
  function writablePrefixes(handler: string, action: string): string[] {
    const role = roleLogicalId(s, handler);
    return statements
      .filter(
        (p) =>
          p.roles.includes(role) &&
          [p.statement.Action ?? []].flat().includes(action) &&
          JSON.stringify(p.statement.Resource).includes(`"${control.logicalId}"`),
      )
      .flatMap((p) => {
        const condition = p.statement.Condition as Record<string, Record<string, string[]>> | undefined;
        return condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"] ?? ["<unrestricted>"];
      })
      .sort();
  }

  /**
   * What a role may Query in the control table: `index/<name>` for an index, and for the table
   * itself the LeadingKeys prefixes its condition allows (`<unrestricted>` without one).
   */
  function queryScopes(handler: string): string[] {
    const role = roleLogicalId(s, handler);
    const tableArn = flatten({ "Fn::GetAtt": [control.logicalId, "Arn"] }, control);
    return statements
      .filter(
        (p) =>
          p.roles.includes(role) &&
          p.statement.Effect === "Allow" &&
          [p.statement.Action ?? []].flat().includes("dynamodb:Query"),
      )
      .flatMap((p) => {
        const condition = p.statement.Condition as Record<string, Record<string, string[]>> | undefined;
        const leading = condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"] ?? [
          "<unrestricted>",
        ];
        return [p.statement.Resource ?? []].flat().flatMap((resource) => {
          const arn = flatten(resource, control);
          if (arn === tableArn) return leading;
          if (arn.startsWith(`${tableArn}/index/`)) return [arn.slice(tableArn.length + 1)];
          // Anything else that still reaches the control table (a wildcard) is unexpected.
          return coversTable({ Resource: resource }, control) ? [`<${arn}>`] : [];
        });
      })
      .sort();
  }

  it.each(Object.entries(CONTROL_ACCESS))("%s may only %j", (handler, expected) => {
    expect(actionsOnTable(templateJson(s), control, roleLogicalId(s, handler))).toEqual(expected.actions);
  });

  it.each(Object.entries(CONTROL_ACCESS))("%s writes only the items it owns", (handler, expected) => {
    expect(writablePrefixes(handler, "dynamodb:PutItem")).toEqual(expected.put ?? []);
    expect(writablePrefixes(handler, "dynamodb:UpdateItem")).toEqual(expected.update ?? []);
    expect(writablePrefixes(handler, "dynamodb:ConditionCheckItem")).toEqual(expected.check ?? []);
  });

  it.each(Object.entries(CONTROL_ACCESS))("%s queries only what it must", (handler, expected) => {
    expect(queryScopes(handler)).toEqual(expected.query ?? []);
  });

  it("the prefixes match the runtime's key builders, or writes would fail on AWS", () => {
    expect(Keys.apiKeyPk("0123456789abcdef")).toMatch(/^key#/);
    expect(Keys.workspacePk("acme")).toMatch(/^ws#/);
    expect(Keys.failurePk("acme", "203.0.113.42")).toMatch(/^fail#/);
    expect(Keys.reachPk("acme", "0123456789abcdef", "203.0.113.42")).toMatch(/^reach#/);
    expect(Keys.logPk("acme")).toMatch(/^log#/);
    expect(Keys.sourceFailurePk("203.0.113.42")).toMatch(/^fail#/);
    expect(Keys.ratePk("acme")).toMatch(/^rate#/);
  });
});

describe.each(STAGE_NAMES)("IAM on customer destination secrets (%s)", (stage) => {
  const s = synthCached(stage);
  const grants = grantsOnArn(templateJson(s), destinationSecretArn(stage, "acme"), SECRET_ACTIONS);
  const writer = roleLogicalId(s, "put-settings");
  const reader = roleLogicalId(s, "nightly-export");

  it.each(Object.entries(DESTINATION_ACCESS))("%s may only %j", (handler, expected) => {
    const role = roleLogicalId(s, handler);
    const actions = grants.filter((g) => g.roles.includes(role)).flatMap((g) => g.actions);
    expect([...new Set(actions)].sort()).toEqual(expected);
  });

  it("no other policy in the stack, on any role, reaches them", () => {
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) expect([[writer], [reader]]).toContainEqual(grant.roles);
  });

  it("every grant names this stage's destinations prefix and nothing else, by partition, region and account", () => {
    for (const grant of grants) {
      expect(grant.resources).toEqual([`arn:*:secretsmanager:*:*:secret:audit-log/${stage}/destinations/*`]);
    }
  });

  it("the prefix is the one the runtime uses, so a workspace's secret name falls under it", () => {
    expect(destinationSecretPrefix(stage)).toBe(`audit-log/${stage}/destinations/`);
    expect(s.stack.destinationSecrets.prefix).toBe(destinationSecretPrefix(stage));
  });

  it.each(STAGE_NAMES.filter((other) => other !== stage))(
    "no role of this stage reaches the %s stage's destination secrets",
    (other) => {
      expect(grantsOnArn(templateJson(s), destinationSecretArn(other, "acme"), SECRET_ACTIONS)).toEqual([]);
    },
  );
});

describe.each(STAGE_NAMES)("IAM on the checkpoint signing key (%s)", (stage) => {
  const s = synthCached(stage);
  const keyId = logicalIdOf(s.stack.checkpointKey);
  const template = templateJson(s);
  // Statements naming the key itself, and any whose wildcard resource would reach it.
  const grants = [
    ...grantsOnArn(template, `<${keyId}.Arn>`, KMS_KEY_ACTIONS),
    ...grantsOnArn(template, SAMPLE_KEY_ARN, KMS_KEY_ACTIONS),
  ].filter((g, i, all) => all.findIndex((o) => JSON.stringify(o) === JSON.stringify(g)) === i);

  it.each(Object.entries(CHECKPOINT_KEY_ACCESS))("%s may only %j", (handler, expected) => {
    const role = roleLogicalId(s, handler);
    const actions = grants.filter((g) => g.roles.includes(role)).flatMap((g) => g.actions);
    expect([...new Set(actions)].sort()).toEqual(expected);
  });

  it("no other role in the stack (the tamper watch, custom resources) reaches it", () => {
    const allowed = Object.entries(CHECKPOINT_KEY_ACCESS)
      .filter(([, actions]) => actions.length > 0)
      .map(([handler]) => roleLogicalId(s, handler));
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) {
      expect(grant.roles).toHaveLength(1);
      expect(allowed).toContain(grant.roles[0]);
    }
  });

  it("only the sealer and the nightly export may sign; nobody may decrypt, encrypt or manage it", () => {
    const signers = grants.filter((g) => g.actions.includes("kms:Sign")).flatMap((g) => g.roles);
    expect(signers.sort()).toEqual([roleLogicalId(s, "nightly-export"), roleLogicalId(s, "seal-log")].sort());
    expect(grants.flatMap((g) => g.actions).filter((a) => !SIGNER.includes(a))).toEqual([]);
  });

  it("every grant names this key's own ARN, not a wildcard", () => {
    for (const grant of grants) expect(grant.resources).toEqual([`<${keyId}.Arn>`]);
  });
});

describe("the IAM walker itself", () => {
  const s = synthCached("dev");
  const table = eventsTable(s, "dev");
  const controlId = logicalIdOf(s.stack.tables.control);

  /** The real template plus one extra policy holding `statement`. */
  function withStatement(statement: Statement, inline = false): TemplateJson {
    const template = structuredClone(templateJson(s));
    const resources = template.Resources ?? {};
    resources.InjectedRole = {
      Type: "AWS::IAM::Role",
      Properties: inline
        ? { Policies: [{ PolicyName: "p", PolicyDocument: { Statement: [statement] } }] }
        : {},
    };
    if (!inline) {
      resources.InjectedPolicy = {
        Type: "AWS::IAM::Policy",
        Properties: { Roles: [{ Ref: "InjectedRole" }], PolicyDocument: { Statement: statement } },
      };
    }
    return template;
  }
  const arn = { "Fn::GetAtt": [table.logicalId, "Arn"] };

  it.each<[string, Statement, boolean]>([
    ["dynamodb:* on the table", { Effect: "Allow", Action: "dynamodb:*", Resource: arn }, false],
    [
      "DeleteItem on Resource '*'",
      { Effect: "Allow", Action: ["dynamodb:DeleteItem"], Resource: "*" },
      false,
    ],
    [
      "Scan on index/*",
      { Effect: "Allow", Action: "dynamodb:Scan", Resource: { "Fn::Join": ["", [arn, "/index/*"]] } },
      false,
    ],
    [
      "BatchWriteItem by name in an inline role policy",
      {
        Effect: "Allow",
        Action: "dynamodb:BatchWriteItem",
        Resource: {
          "Fn::Sub": `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${table.tableName}`,
        },
      },
      true,
    ],
    ["Update* through a pattern", { Effect: "Allow", Action: "dynamodb:update*", Resource: arn }, false],
    ["NotAction on the table", { Effect: "Allow", NotAction: "dynamodb:Scan", Resource: arn }, false],
  ])("reports %s", (_name, statement, inline) => {
    expect(forbiddenGrants(withStatement(statement, inline), table, FORBIDDEN_ON_EVENTS)).not.toEqual([]);
  });

  it.each<[string, Statement]>([
    [
      "secretsmanager:* on every secret",
      { Effect: "Allow", Action: "secretsmanager:*", Resource: "arn:aws:secretsmanager:*:*:secret:*" },
    ],
    ["Get* on Resource '*'", { Effect: "Allow", Action: "secretsmanager:Get*", Resource: "*" }],
    [
      "GetSecretValue on the whole audit-log/ tree",
      {
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: {
          "Fn::Join": [
            "",
            [
              "arn:",
              { Ref: "AWS::Partition" },
              ":secretsmanager:",
              { Ref: "AWS::Region" },
              ":",
              { Ref: "AWS::AccountId" },
              ":secret:audit-log/*",
            ],
          ],
        },
      },
    ],
    ["NotAction on every secret", { Effect: "Allow", NotAction: "s3:*", Resource: "*" }],
  ])("reports %s as a grant on the destination secrets", (_name, statement) => {
    const grants = grantsOnArn(withStatement(statement), destinationSecretArn("dev", "acme"), SECRET_ACTIONS);
    expect(grants.map((g) => g.roles)).toContainEqual(["InjectedRole"]);
  });

  it.each<[string, Statement]>([
    [
      "GetSecretValue on the cursor secret",
      { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: { Ref: "CursorSecretABAE1358" } },
    ],
    [
      "GetSecretValue on another stage's prefix",
      {
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: "arn:aws:secretsmanager:*:*:secret:audit-log/prod/destinations/*",
      },
    ],
    ["s3:GetObject on every resource", { Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
  ])("does not report %s as a grant on the destination secrets", (_name, statement) => {
    const grants = grantsOnArn(withStatement(statement), destinationSecretArn("dev", "acme"), SECRET_ACTIONS);
    expect(grants.map((g) => g.roles)).not.toContainEqual(["InjectedRole"]);
  });

  it.each<[string, Statement]>([
    [
      "DeleteItem on the mutable control table",
      {
        Effect: "Allow",
        Action: "dynamodb:DeleteItem",
        Resource: { "Fn::GetAtt": [controlId, "Arn"] },
      },
    ],
    ["a Deny of everything on the table", { Effect: "Deny", Action: "dynamodb:*", Resource: arn }],
  ])("does not report %s", (_name, statement) => {
    expect(forbiddenGrants(withStatement(statement), table, FORBIDDEN_ON_EVENTS)).toEqual([]);
  });
});
