import { Duration, Lazy, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { ControlAccess, ControlItem } from "../functions/shared/routes.js";
import {
  CONTROL_TABLE,
  CONTROL_TABLE_BASENAME,
  EVENT_ID_INDEX,
  EVENTS_TABLE,
  EVENTS_TABLE_BASENAME,
  type TableDefinition,
} from "../functions/shared/table.js";

/**
 * Item-level actions that could change or remove a stored event. The events table's resource policy
 * denies them to every principal, and no role in the stack is allowed them. BatchWriteItem is listed
 * because a batch may carry DeleteRequests; transactions need no entry of their own, since IAM
 * authorizes each Put/Update/Delete inside TransactWriteItems as PutItem/UpdateItem/DeleteItem.
 */
export const EVENT_MUTATION_ACTIONS = [
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
  "dynamodb:BatchWriteItem",
] as const;

const KEY_READ_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"];
const KEY_WRITE_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"];

/**
 * Partition-key prefix of each control item kind (`Keys.apiKeyPk`, `Keys.workspacePk`,
 * `Keys.failurePk`, `Keys.reachPk` in functions/shared/table.ts; test/infra/iam.test.ts checks they agree). Writes
 * are limited by prefix with the `dynamodb:LeadingKeys` condition, so a function that counts failed
 * logins cannot touch an API key, and one that rotates keys cannot change a workspace's retention.
 */
export const CONTROL_KEY_PREFIX: Readonly<Record<ControlItem, string>> = {
  apiKey: "key#",
  workspace: "ws#",
  failureCounter: "fail#",
  reachCounter: "reach#",
  exportJob: "export#",
  // The verifiable log's state and tile anchors (Keys.logPk).
  logState: "log#",
  // Each workspace's authenticated requests per rate window (Keys.ratePk).
  rateCounter: "rate#",
};

export interface AuditTablesProps {
  /** Appended to the base names: `audit-events-prod`, `audit-control-prod`. */
  readonly stage: string;
  /**
   * Applied to both tables and their KMS key.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection on both tables.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * The write-once events table and the mutable control table, with the key schema taken from
 * `functions/shared/table.ts` (the same module the runtime and the local bootstrap use).
 *
 * Data permissions are only handed out through the `grant*` methods below, each a short, explicit
 * list of actions. The generic `grantReadData`/`grantWriteData` helpers are never used: they include
 * Scan, BatchWriteItem, UpdateItem and DeleteItem.
 */
export class AuditTables extends Construct {
  readonly events: dynamodb.Table;
  /** Roles allowed to put into the events table (see {@link AuditTables.grantEventAppend}). */
  private readonly eventWriters: string[] = [];
  readonly control: dynamodb.Table;
  /** Customer-managed key of both tables, rotated yearly; CloudTrail shows every use of it. */
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AuditTablesProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deletionProtection = props.deletionProtection ?? true;

    this.key = new kms.Key(this, "Key", {
      description: `Encrypts the audit log tables (${props.stage})`,
      enableKeyRotation: true,
      // The longest window: a scheduled deletion of this key would make every event unreadable,
      // so an operator gets 30 days to notice and cancel it.
      pendingWindow: Duration.days(30),
      removalPolicy,
    });

    this.events = new dynamodb.Table(this, "Events", {
      tableName: `${EVENTS_TABLE_BASENAME}-${props.stage}`,
      ...tableKeys(EVENTS_TABLE),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      // For the tamper watch (lib/tamper-watch.ts): it flags any MODIFY, any REMOVE not made by
      // TTL, and an insert into a sealed range.
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      removalPolicy,
      // Layer 2 of the immutability design: even a principal whose IAM policy allows these actions
      // (an administrator with dynamodb:*) is refused, because an explicit Deny always wins.
      // Resource "*" means "this table and its indexes"; naming the table's own ARN here would make
      // the table depend on itself.
      resourcePolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: "DenyEventMutation",
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: [...EVENT_MUTATION_ACTIONS],
            resources: ["*"],
          }),
          // IAM cannot require attribute_not_exists on PutItem, and an unconditional PutItem
          // overwrites an event: only the service's own roles, whose code always sets the
          // condition, may put at all. Filled from grantEventAppend once the functions exist.
          new iam.PolicyStatement({
            sid: "DenyEventPutExceptTheService",
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            // PartiQL INSERT cannot overwrite, but it could add a forged event; the service never uses it.
            actions: ["dynamodb:PutItem", "dynamodb:PartiQLInsert"],
            resources: ["*"],
            conditions: {
              ArnNotEquals: { "aws:PrincipalArn": Lazy.list({ produce: () => this.eventWriters }) },
            },
          }),
        ],
      }),
    });
    addIndexes(this.events, EVENTS_TABLE);

    this.control = new dynamodb.Table(this, "Control", {
      tableName: `${CONTROL_TABLE_BASENAME}-${props.stage}`,
      ...tableKeys(CONTROL_TABLE),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      removalPolicy,
    });
    addIndexes(this.control, CONTROL_TABLE);
  }

  /**
   * Appending events: PutItem (always with `attribute_not_exists` in the runtime: the id guard and
   * the event, in one TransactWriteItems, which IAM authorises as PutItem) and GetItem (to compare
   * a replayed id with what was stored). Nothing that could change or remove an existing item.
   * Every authenticated function has this, because reads and denied requests are themselves
   * recorded as events; the table's resource policy denies PutItem to every other principal.
   */
  grantEventAppend(grantee: iam.IRole): void {
    this.eventWriters.push(grantee.roleArn);
    this.allow(grantee, ["dynamodb:PutItem", "dynamodb:GetItem"], [this.events.tableArn]);
    this.allowKey(grantee, [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS]);
  }

  /**
   * Which workspaces hold an event id: Query on the KEYS_ONLY byEventId index only (it holds guard
   * keys, no event content), for the flush that reports reaches into other workspaces.
   */
  grantEventOwnerLookup(grantee: iam.IGrantable): void {
    this.allow(grantee, ["dynamodb:Query"], [`${this.events.tableArn}/index/${EVENT_ID_INDEX}`]);
    this.allowKey(grantee, KEY_READ_ACTIONS);
  }

  /**
   * Reading events: Query on the table and on each named index (no `index/*` wildcard), and GetItem
   * on the table. No Scan: every read names one workspace's partition.
   */
  grantEventQuery(grantee: iam.IGrantable): void {
    this.allow(grantee, ["dynamodb:Query"], [this.events.tableArn, ...this.eventIndexArns()]);
    this.allow(grantee, ["dynamodb:GetItem"], [this.events.tableArn]);
    this.allowKey(grantee, KEY_READ_ACTIONS);
  }

  /** Control table access; see {@link ControlAccess}. */
  grantControl(grantee: iam.IGrantable, access: ControlAccess = {}): void {
    const table = this.control.tableArn;
    this.allow(grantee, ["dynamodb:GetItem"], [table]);
    const writes: [string, readonly ControlItem[] | undefined][] = [
      ["dynamodb:PutItem", access.create],
      ["dynamodb:UpdateItem", access.update],
      ["dynamodb:ConditionCheckItem", access.check],
    ];
    for (const [action, kinds] of writes) {
      if (!kinds || kinds.length === 0) continue;
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [action],
          resources: [table],
          conditions: {
            "ForAllValues:StringLike": {
              "dynamodb:LeadingKeys": [...new Set(kinds)]
                .sort()
                .map((kind) => `${CONTROL_KEY_PREFIX[kind]}*`),
            },
          },
        }),
      );
    }
    if (access.queryIndexes && access.queryIndexes.length > 0) {
      const known = new Set(CONTROL_TABLE.indexes.map((i) => i.name));
      for (const name of access.queryIndexes) {
        if (!known.has(name)) throw new Error(`control table has no index "${name}"`);
      }
      this.allow(
        grantee,
        ["dynamodb:Query"],
        access.queryIndexes.map((name) => `${table}/index/${name}`),
      );
    }
    if (access.scan) this.allow(grantee, ["dynamodb:Scan"], [table]);
    if (access.queryLog) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ["dynamodb:Query"],
          resources: [table],
          conditions: {
            "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${CONTROL_KEY_PREFIX.logState}*`] },
          },
        }),
      );
    }
    const writesAnything = (access.create?.length ?? 0) + (access.update?.length ?? 0) > 0;
    this.allowKey(grantee, writesAnything ? [...KEY_READ_ACTIONS, ...KEY_WRITE_ACTIONS] : KEY_READ_ACTIONS);
  }

  /** ARNs of the events table's GSIs, one per index named in `EVENTS_TABLE.indexes`. */
  eventIndexArns(): string[] {
    return EVENTS_TABLE.indexes.map((index) => `${this.events.tableArn}/index/${index.name}`);
  }

  private allow(grantee: iam.IGrantable, actions: string[], resources: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
  }

  /** Key use only through DynamoDB: the function cannot call KMS with this key directly. */
  private allowKey(grantee: iam.IGrantable, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: { "kms:ViaService": `dynamodb.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
  }
}

const S = dynamodb.AttributeType.STRING;

/** String keys and TTL, exactly as the shared definition names them. */
function tableKeys(
  def: TableDefinition,
): Pick<dynamodb.TableProps, "partitionKey" | "sortKey" | "timeToLiveAttribute"> {
  return {
    partitionKey: { name: def.partitionKey, type: S },
    sortKey: { name: def.sortKey, type: S },
    timeToLiveAttribute: def.timeToLiveAttribute,
  };
}

/** One GSI per shared index definition, with the projection that definition names. */
function addIndexes(table: dynamodb.Table, def: TableDefinition): void {
  for (const index of def.indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.name,
      partitionKey: { name: index.partitionKey, type: S },
      sortKey: { name: index.sortKey, type: S },
      projectionType:
        index.projection === "KEYS_ONLY" ? dynamodb.ProjectionType.KEYS_ONLY : dynamodb.ProjectionType.ALL,
    });
  }
}
