import { describe, expect, it } from "vitest";
import {
  CONTROL_TABLE,
  CONTROL_TABLE_BASENAME,
  EVENTS_TABLE,
  EVENTS_TABLE_BASENAME,
  Keys,
} from "../../functions/shared/table.js";
import type { StageName } from "../../lib/stages.js";
import {
  actionsOnTable,
  allPolicyStatements,
  forbiddenGrants,
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
/** Reads the key, counts failed logins: what every authenticated route does in the control table. */
const AUTHENTICATED = { actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], update: [FAIL] };

/**
 * The reviewed expectation per handler. A handler missing here fails the coverage test below, so a
 * new function cannot arrive without someone writing down what it may do.
 */
const EVENTS_ACCESS: Record<string, string[]> = {
  health: [],
  openapi: [],
  // Authenticated routes append their own `audit.queried`, `access.denied` and key/settings events.
  "post-events": ["dynamodb:GetItem", "dynamodb:PutItem"],
  "list-events": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  "get-event": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
  "create-key": ["dynamodb:GetItem", "dynamodb:PutItem"],
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
  "nightly-export": ["dynamodb:GetItem", "dynamodb:Query"],
  "flush-access-failures": ["dynamodb:GetItem", "dynamodb:PutItem"],
};

const CONTROL_ACCESS: Record<string, { actions: string[]; put?: string[]; update?: string[] }> = {
  health: { actions: [] },
  openapi: { actions: [] },
  "post-events": AUTHENTICATED,
  "list-events": AUTHENTICATED,
  "get-event": AUTHENTICATED,
  "get-settings": AUTHENTICATED,
  "list-nightly-exports": AUTHENTICATED,
  "get-export": AUTHENTICATED,
  "create-export": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    put: ["export#*"],
    update: [FAIL],
  },
  "export-worker": { actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], update: ["export#*"] },
  "create-key": {
    actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
    put: ["key#*"],
    update: [FAIL],
  },
  "list-keys": { actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"], update: [FAIL] },
  "rotate-key": { actions: AUTHENTICATED.actions, update: [FAIL, "key#*"] },
  "revoke-key": { actions: AUTHENTICATED.actions, update: [FAIL, "key#*"] },
  "put-settings": { actions: AUTHENTICATED.actions, update: [FAIL, "ws#*"] },
  // The export job walks every workspace: a Scan of the small control table, never of the events table.
  "nightly-export": { actions: ["dynamodb:GetItem", "dynamodb:Scan"] },
  "flush-access-failures": {
    actions: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    update: [FAIL],
  },
};

describe("the expectation tables", () => {
  it("cover every function the stack builds", () => {
    const built = [...synthCached("dev").stack.functions.keys()].sort();
    expect(Object.keys(EVENTS_ACCESS).sort()).toEqual(built);
    expect(Object.keys(CONTROL_ACCESS).sort()).toEqual(built);
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

  it("Resource '*' is used only by the X-Ray actions that support nothing narrower", () => {
    const starActions = allPolicyStatements(templateJson(s))
      .filter((p) => p.statement.Effect === "Allow" && p.statement.Resource === "*")
      .flatMap((p) => [p.statement.Action ?? []].flat());
    expect(new Set(starActions)).toEqual(new Set(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]));
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

  it.each(Object.entries(CONTROL_ACCESS))("%s may only %j", (handler, expected) => {
    expect(actionsOnTable(templateJson(s), control, roleLogicalId(s, handler))).toEqual(expected.actions);
  });

  it.each(Object.entries(CONTROL_ACCESS))("%s writes only the items it owns", (handler, expected) => {
    expect(writablePrefixes(handler, "dynamodb:PutItem")).toEqual(expected.put ?? []);
    expect(writablePrefixes(handler, "dynamodb:UpdateItem")).toEqual(expected.update ?? []);
  });

  it("the prefixes match the runtime's key builders, or writes would fail on AWS", () => {
    expect(Keys.apiKeyPk("0123456789abcdef")).toMatch(/^key#/);
    expect(Keys.workspacePk("acme")).toMatch(/^ws#/);
    expect(Keys.failurePk("acme", "203.0.113.42")).toMatch(/^fail#/);
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
