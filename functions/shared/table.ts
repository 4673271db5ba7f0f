/**
 * The one place that names tables, indexes and attributes. Runtime code, the local bootstrap
 * (scripts/) and the CDK stack (lib/) all import from here, so the three cannot drift.
 *
 * Events table (write-once; the only write is PutItem with attribute_not_exists):
 *
 * | item        | pk                               | sk                      |
 * |-------------|----------------------------------|-------------------------|
 * | event       | `<workspace>#<shard>`            | `<recordedAt>#<id>`     |
 * | id guard    | `<workspace>#id#<id>`            | `id`                    |
 *
 * - Event items are append-only in key order: the sort key starts with the server clock
 *   (`recordedAt`, ISO 8601 UTC with ms), so a Query with ScanIndexForward=false is newest first.
 * - A workspace's events are spread over {@link WRITE_SHARDS} partitions (shard = hash of the id), so
 *   one workspace is not capped by the ~1,000 WCU/s limit of a single partition key. Reads fan out
 *   over the shards and merge by sort key.
 * - The id guard makes the client's idempotency key unique per workspace and serves
 *   `GET /v1/events/{id}` with one strongly consistent GetItem.
 *
 * GSIs (projection ALL; each partition key starts with the workspace, so one query never touches
 * two tenants; each sorts by the same `sk` as the table, newest first):
 * - byActor `<workspace>#<actor.id>`: "everything alice did". Hot limit: one actor writing more than
 *   ~1,000 events/s in one workspace (GSI back-pressure then throttles the table write).
 * - byType `<workspace>#<type>`: "every pcap.download". Category queries (`pcap.*`) fan out over the
 *   catalogue's types of that category. Hot limit: ~1,000 events/s of one type per workspace.
 * - byNode `<workspace>#<node.id>`: "everything on nyc-edge-01". Events without a node are absent.
 *
 * One more GSI serves the service, never a caller's query:
 * - byEventId `<id>` (projection KEYS_ONLY, on id guards only): which workspaces hold an event id,
 *   so a key that reaches for another workspace's event can be reported to that workspace. It is
 *   the one index without the workspace in its key; it answers only workspace ids, and only to the
 *   access check.
 */

/** Partition key of both tables. */
export const PK = "pk";
/**
 * Sort key of both tables, and of the actor, type and node GSIs (byEventId sorts by {@link PK}; the
 * control table's indexes have their own sort keys).
 */
export const SK = "sk";

/** Epoch seconds after which DynamoDB's TTL sweep may delete the item; reads filter on it too. */
export const EXPIRES_AT = "expiresAt";

/** Event item attributes. `doc` is the stored event as its RFC 8785 canonical JSON, byte for byte. */
export const EventAttr = {
  doc: "doc",
  hash: "hash",
  id: "id",
  recordedAt: "recordedAt",
  outcome: "outcome",
  sourceIp: "sourceIp",
  actorKey: "gsiActor",
  typeKey: "gsiType",
  nodeKey: "gsiNode",
  expiresAt: EXPIRES_AT,
} as const;

/** Id guard attributes: where the event lives, and the hash of the content the id was first used for. */
export const GuardAttr = {
  eventId: "gsiEventId",
  eventPk: "eventPk",
  eventSk: "eventSk",
  recordedAt: "recordedAt",
  contentHash: "contentHash",
  expiresAt: EXPIRES_AT,
  /**
   * `true` on guards written in one transaction with their event, so a taken id is known to have
   * its event without a read. Guards of the earlier two-put writer lack it.
   */
  atomic: "atomic",
} as const;

export const Index = {
  byActor: "byActor",
  byType: "byType",
  byNode: "byNode",
} as const;
export type IndexName = (typeof Index)[keyof typeof Index];

/** The guard index that finds the workspaces holding an event id. */
export const EVENT_ID_INDEX = "byEventId";

/** GSI name → its partition key attribute. Sort key is always {@link SK}. */
export const INDEX_PARTITION_KEY: Record<IndexName, string> = {
  [Index.byActor]: EventAttr.actorKey,
  [Index.byType]: EventAttr.typeKey,
  [Index.byNode]: EventAttr.nodeKey,
};

/**
 * Write shards per workspace. Part of the key design: changing it strands existing items on shards
 * that reads no longer visit, so it needs a migration, not an edit.
 */
export const WRITE_SHARDS = 4;

/**
 * The operator's security log: failed authentications whose key names no workspace are recorded
 * under this reserved id. Workspace ids are `[a-z0-9-]`, so no tenant can ever be called this.
 */
export const OPERATOR_LOG = "_operator";
/** Retention of the operator log, in days. */
export const OPERATOR_LOG_RETENTION_DAYS = 365;

/** Base names; the deployed name appends the stage (`audit-events-prod`). */
export const EVENTS_TABLE_BASENAME = "audit-events";
/** Mutable state (workspaces, API keys, settings) lives apart from the write-once events table. */
export const CONTROL_TABLE_BASENAME = "audit-control";

/**
 * Secrets Manager names of customers' export-destination credentials:
 * `<prefix><workspaceId>`. The stack grants the settings handler write and the nightly export read
 * on this prefix only, and passes it as `DESTINATION_SECRET_PREFIX`.
 */
export const destinationSecretPrefix = (stage: string) => `audit-log/${stage}/destinations/`;

/** The KMS alias of the key that signs a stage's checkpoints (the stack and the local bootstrap). */
export const checkpointKeyAlias = (stage: string) => `alias/audit-log-${stage}-checkpoints`;
/**
 * A stage's log name: the checkpoint key's name in signed notes, and the prefix of each workspace's
 * origin. A schema-less URL, as c2sp.org/signed-note recommends; it need not resolve.
 */
export const logNameOf = (stage: string) => `flowtriq.com/audit-log/${stage}`;

export const Keys = {
  eventPk: (workspaceId: string, shard: number) => `${workspaceId}#${shard}`,
  eventSk: (recordedAt: string, id: string) => `${recordedAt}#${id}`,
  guardPk: (workspaceId: string, id: string) => `${workspaceId}#id#${id}`,
  guardSk: "id",
  actor: (workspaceId: string, actorId: string) => `${workspaceId}#${actorId}`,
  type: (workspaceId: string, type: string) => `${workspaceId}#${type}`,
  node: (workspaceId: string, nodeId: string) => `${workspaceId}#${nodeId}`,
  apiKeyPk: (keyId: string) => `key#${keyId}`,
  apiKeySk: "key",
  workspacePk: (workspaceId: string) => `ws#${workspaceId}`,
  workspaceSk: "ws",
  failurePk: (target: string, ip: string) => `fail#${target}#${ip}`,
  /**
   * A source's own failure window, across every target (`fail#_source#<ip>`): workspace ids are
   * `[a-z0-9-]` and the operator log is `_operator`, so `_source` names neither. It decides 429.
   */
  sourceFailurePk: (ip: string) => `fail#_source#${ip}`,
  /** One workspace's authenticated requests in one rate window (sk = window start). */
  ratePk: (workspaceId: string) => `rate#${workspaceId}`,
  reachPk: (workspaceId: string, keyId: string, ip: string) => `reach#${workspaceId}#${keyId}#${ip}`,
  exportPk: (exportId: string) => `export#${exportId}`,
  exportSk: "export",
  failureSk: (windowStart: string) => windowStart,
  /** The verifiable log of one workspace: its sealer state and its tile anchors (control table). */
  logPk: (workspaceId: string) => `log#${workspaceId}`,
  logStateSk: "state",
  /** One anchor per level-0 tile: the event sort key of the tile's first leaf. */
  logAnchorSk: (firstKey: string) => `anchor#${firstKey}`,
  logAnchorPrefix: "anchor#",
} as const;

/**
 * Control table item `log#<workspace>` / `state`: the sealer's small state for one workspace's
 * Merkle tree (docs/integrity.md). Replaced only by a conditional write on `revision`, so two
 * racing sealers cannot both move a tree on.
 */
export const LogStateAttr = {
  workspaceId: "workspaceId",
  /** Leaves in the tree (events sealed). */
  size: "size",
  /** The compact range: base64 roots of the perfect subtrees that make up the tree, largest first. */
  compact: "compact",
  /** Base64 RFC 6962 root of the tree. */
  root: "root",
  /** Sort key (`recordedAt#id`) of the last sealed event; everything at or before it is sealed. */
  lastKey: "lastKey",
  /** The latest signed checkpoint (a C2SP signed note). */
  checkpoint: "checkpoint",
  checkpointAt: "checkpointAt",
  revision: "revision",
} as const;

/** Control table item `log#<workspace>` / `anchor#<firstKey>`: which level-0 tile starts at that event. */
export const LogAnchorAttr = {
  /** Number of the level-0 tile (its first leaf is tile × 256). */
  tile: "tile",
  firstKey: "firstKey",
} as const;

/** Control table attributes for API keys. The secret itself is never stored, only its SHA-256. */
export const ApiKeyAttr = {
  keyId: "keyId",
  workspaceId: "workspaceId",
  secretHash: "secretHash",
  scopes: "scopes",
  name: "name",
  createdAt: "createdAt",
  /** Set on revocation; a revoked key is refused. */
  revokedAt: "revokedAt",
  /** The revocation's own random id: a resent revocation is told apart from another one. */
  revocationId: "revocationId",
  rotatedAt: "rotatedAt",
  /** After a rotation, the old secret's hash, valid until `previousValidUntil` (the grace period). */
  previousSecretHash: "previousSecretHash",
  previousValidUntil: "previousValidUntil",
  /** Viewer sessions: the instant they stop working (ISO), the minting key, and the viewer. */
  validUntil: "validUntil",
  mintedBy: "mintedBy",
  viewer: "viewer",
  /** Partition key of the keysByWorkspace index (= workspaceId, on key items only). */
  workspaceKey: "keyWorkspace",
} as const;

/**
 * Control table items that count failed authentications per (target workspace, source IP, window).
 * `pending` (partition key of the pendingFailures index) is set until the window's aggregate
 * access.denied event is written, then removed, so the index holds only what is left to flush.
 */
export const FailureAttr = {
  target: "target",
  ip: "ip",
  windowStart: "windowStart",
  windowEnd: "windowEnd",
  count: "count",
  reasons: "reasons",
  method: "method",
  path: "path",
  userAgent: "userAgent",
  pending: "pending",
} as const;

/**
 * Control table items that count one key's reaches, from one source IP in one window, for
 * resources its workspace does not hold (`reach#<workspace>#<keyId>#<ip>`, sk = window start).
 * `resources` is a string set of `<type>:<id>` (at most {@link REACH_RESOURCES_MAX}); the flush
 * finds their owners. They share the pendingFailures index, under `pending` = "reach".
 */
export const ReachAttr = {
  workspaceId: "workspaceId",
  keyId: "keyId",
  resources: "resources",
} as const;
/** Values of `pending` in the pendingFailures index: failed authentications, and reaches. */
export const PENDING_FAILURES = "1";
export const PENDING_REACHES = "reach";
/** Distinct resources one reach window keeps; attempts past it are only counted. */
export const REACH_RESOURCES_MAX = 50;

export const ControlIndex = {
  keysByWorkspace: "keysByWorkspace",
  pendingFailures: "pendingFailures",
} as const;
export const WorkspaceAttr = {
  workspaceId: "workspaceId",
  plan: "plan",
  retentionDays: "retentionDays",
  createdAt: "createdAt",
  exportDestination: "exportDestination",
} as const;

/** Key schema shared by the local bootstrap and the CDK stack. */
export interface TableDefinition {
  partitionKey: string;
  sortKey: string;
  indexes: { name: string; partitionKey: string; sortKey: string; projection: "ALL" | "KEYS_ONLY" }[];
  timeToLiveAttribute: string;
}

export const EVENTS_TABLE: TableDefinition = {
  partitionKey: PK,
  sortKey: SK,
  indexes: [
    ...(Object.keys(INDEX_PARTITION_KEY) as IndexName[]).map((name) => ({
      name,
      partitionKey: INDEX_PARTITION_KEY[name],
      sortKey: SK,
      projection: "ALL" as const,
    })),
    { name: EVENT_ID_INDEX, partitionKey: GuardAttr.eventId, sortKey: PK, projection: "KEYS_ONLY" },
  ],
  timeToLiveAttribute: EXPIRES_AT,
};

export const CONTROL_TABLE: TableDefinition = {
  partitionKey: PK,
  sortKey: SK,
  indexes: [
    {
      name: ControlIndex.keysByWorkspace,
      partitionKey: ApiKeyAttr.workspaceKey,
      sortKey: ApiKeyAttr.keyId,
      projection: "ALL",
    },
    {
      name: ControlIndex.pendingFailures,
      partitionKey: FailureAttr.pending,
      sortKey: FailureAttr.windowEnd,
      projection: "ALL",
    },
  ],
  timeToLiveAttribute: EXPIRES_AT,
};
