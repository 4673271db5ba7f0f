/**
 * A generic reader of every IAM policy in a synthesized template, to prove facts that must hold for
 * all roles, present and future, rather than for the roles a test happens to know about.
 *
 * CloudFormation intrinsics are flattened to strings first: a reference to the table becomes a
 * sample ARN of that table, pseudo parameters (region, account, partition) become `*`, and a
 * reference to any other resource becomes `<LogicalId>`, which matches no ARN pattern. A resource
 * then "covers the table" when, read as an IAM wildcard pattern, it matches the table's ARN or one of
 * its index or stream ARNs. `*` therefore covers the table, as it does in IAM.
 */

export type TemplateJson = {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

export interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

export interface PolicyStatementRef {
  /** Logical id of the resource that holds the policy, plus the inline policy name for roles. */
  readonly source: string;
  /** Logical ids of the roles the policy is attached to (for AWS::IAM::Role, the role itself). */
  readonly roles: readonly string[];
  readonly statement: Statement;
}

export interface TableRef {
  readonly logicalId: string;
  readonly tableName: string;
  readonly indexNames: readonly string[];
}

const SAMPLE_REGION = "eu-west-1";
const SAMPLE_ACCOUNT = "123456789012";

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function refIds(value: unknown): string[] {
  return toArray(value as unknown[]).flatMap((r) =>
    r && typeof r === "object" && "Ref" in r ? [String((r as { Ref: unknown }).Ref)] : [],
  );
}

/** Every statement of every identity policy in the template: standalone, managed and inline. */
export function allPolicyStatements(template: TemplateJson): PolicyStatementRef[] {
  const out: PolicyStatementRef[] = [];
  const push = (source: string, roles: string[], document: unknown) => {
    const statements = toArray((document as { Statement?: Statement | Statement[] } | undefined)?.Statement);
    for (const statement of statements) out.push({ source, roles, statement });
  };
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case "AWS::IAM::Policy":
      case "AWS::IAM::ManagedPolicy":
        push(id, refIds(props.Roles), props.PolicyDocument);
        break;
      case "AWS::IAM::Role":
      case "AWS::IAM::User":
      case "AWS::IAM::Group":
        for (const inline of toArray(props.Policies as { PolicyName?: string; PolicyDocument?: unknown }[])) {
          push(`${id}/${inline.PolicyName ?? "inline"}`, [id], inline.PolicyDocument);
        }
        break;
    }
  }
  return out;
}

function tableArn(table: TableRef): string {
  return `arn:aws:dynamodb:${SAMPLE_REGION}:${SAMPLE_ACCOUNT}:table/${table.tableName}`;
}

const PSEUDO = /^AWS::/;

/**
 * Flattens an intrinsic to a string, resolving references to `table` (if given) to sample values.
 * Pseudo parameters become `*`, any other reference `<LogicalId>`.
 */
export function flatten(value: unknown, table?: TableRef): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return String(value);
  const obj = value as Record<string, unknown>;
  if ("Ref" in obj) {
    const id = String(obj.Ref);
    if (id === table?.logicalId) return table.tableName;
    return PSEUDO.test(id) ? "*" : `<${id}>`;
  }
  if ("Fn::GetAtt" in obj) {
    const [id, attr] = toArray(obj["Fn::GetAtt"] as string | string[]);
    if (table && id === table.logicalId) {
      return attr === "StreamArn" ? `${tableArn(table)}/stream/*` : tableArn(table);
    }
    return `<${id}.${attr}>`;
  }
  if ("Fn::Join" in obj) {
    const [sep, parts] = obj["Fn::Join"] as [string, unknown[]];
    return parts.map((p) => flatten(p, table)).join(sep);
  }
  if ("Fn::Sub" in obj) {
    const sub = obj["Fn::Sub"];
    const text = typeof sub === "string" ? sub : String((sub as unknown[])[0]);
    return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      const [id, attr] = name.split(".");
      if (table && id === table.logicalId) return attr === undefined ? table.tableName : tableArn(table);
      return PSEUDO.test(name) ? "*" : `<${name}>`;
    });
  }
  // Any other intrinsic (Fn::If, Fn::ImportValue, ...) could be anything: assume the worst.
  return "*";
}

/** IAM wildcard match (`*` and `?`), case-insensitive like action names. */
export function wildcardMatches(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
    "i",
  );
  return re.test(value);
}

/** Whether an Allow statement's resources reach the table, its indexes or its stream. */
export function coversTable(statement: Statement, table: TableRef): boolean {
  // NotResource grants everything except the listed resources: treat it as covering the table.
  if (statement.NotResource !== undefined) return true;
  const arn = tableArn(table);
  const targets = [
    arn,
    ...table.indexNames.map((n) => `${arn}/index/${n}`),
    `${arn}/stream/2026-01-01T00:00:00.000`,
  ];
  return toArray(statement.Resource).some((resource) => {
    const pattern = flatten(resource, table);
    return targets.some((target) => wildcardMatches(pattern, target));
  });
}

export interface Violation {
  readonly source: string;
  readonly action: string;
  readonly statement: Statement;
}

/**
 * Allow statements that grant any of `forbidden` on the table. A `NotAction` Allow grants every
 * action it does not list, so it is reported unless it lists every forbidden action.
 */
export function forbiddenGrants(
  template: TemplateJson,
  table: TableRef,
  forbidden: readonly string[],
): Violation[] {
  const violations: Violation[] = [];
  for (const { source, statement } of allPolicyStatements(template)) {
    if (statement.Effect !== "Allow" || !coversTable(statement, table)) continue;
    if (statement.NotAction !== undefined) {
      const excluded = toArray(statement.NotAction);
      for (const action of forbidden) {
        if (!excluded.some((pattern) => wildcardMatches(pattern, action))) {
          violations.push({ source, action: `NotAction lets through ${action}`, statement });
        }
      }
      continue;
    }
    for (const granted of toArray(statement.Action)) {
      for (const action of forbidden) {
        if (wildcardMatches(granted, action)) violations.push({ source, action: granted, statement });
      }
    }
  }
  return violations;
}

/** The DynamoDB actions (or `*`) a role is allowed on the table, exactly as written. */
export function actionsOnTable(template: TemplateJson, table: TableRef, roleLogicalId: string): string[] {
  const actions = new Set<string>();
  for (const { roles, statement } of allPolicyStatements(template)) {
    if (!roles.includes(roleLogicalId)) continue;
    if (statement.Effect !== "Allow" || !coversTable(statement, table)) continue;
    for (const action of toArray(statement.Action)) {
      if (action === "*" || action.toLowerCase().startsWith("dynamodb:")) actions.add(action);
    }
  }
  return [...actions].sort();
}

export interface ArnGrant {
  readonly source: string;
  readonly roles: readonly string[];
  /** The statement's actions, as written, that match one of the actions asked about. */
  readonly actions: readonly string[];
  /** The statement's resources, flattened (pseudo parameters become `*`). */
  readonly resources: readonly string[];
}

/**
 * Allow statements that grant any of `actions` (literally, through a wildcard such as
 * `secretsmanager:*` or `*`, or through a NotAction that does not exclude it) on a resource pattern
 * that matches `arn`, a sample ARN (`arn:aws:<service>:eu-west-1:123456789012:...`).
 */
export function grantsOnArn(template: TemplateJson, arn: string, actions: readonly string[]): ArnGrant[] {
  const grants: ArnGrant[] = [];
  for (const { source, roles, statement } of allPolicyStatements(template)) {
    if (statement.Effect !== "Allow") continue;
    const resources = toArray(statement.Resource).map((r) => flatten(r));
    const covers =
      statement.NotResource !== undefined || resources.some((pattern) => wildcardMatches(pattern, arn));
    if (!covers) continue;
    const granted =
      statement.NotAction !== undefined
        ? actions
            .filter((a) => !toArray(statement.NotAction).some((pattern) => wildcardMatches(pattern, a)))
            .map((a) => `NotAction lets through ${a}`)
        : toArray(statement.Action).filter((pattern) => actions.some((a) => wildcardMatches(pattern, a)));
    if (granted.length > 0) grants.push({ source, roles, actions: [...granted].sort(), resources });
  }
  return grants;
}
