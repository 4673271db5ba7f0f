import { createHash } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { canonicalJson } from "../canonical.js";
import { DuplicateIdError } from "../errors.js";
import type { EventPage, EventQuery, EventRecord, EventStore, ExistingId } from "../ports.js";
import { inFieldOrder, type StoredEvent } from "../schemas/event.js";
import {
  EVENT_ID_INDEX,
  EventAttr,
  GuardAttr,
  INDEX_PARTITION_KEY,
  Index,
  type IndexName,
  Keys,
  PK,
  SK,
  WRITE_SHARDS,
} from "../table.js";
import { translateStorageError } from "./storage-errors.js";

type Item = Record<string, unknown>;

export interface DynamoEventStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /**
   * DynamoDB `Limit` per Query request. Default: the page size asked for, plus one. Tests set it
   * low to force short pages, as DynamoDB's 1 MB page limit does in production.
   */
  queryPageSize?: number;
}

/** The shard an event id writes to: stable, so a replay finds the same partition. */
export function shardOf(id: string): number {
  return (createHash("sha256").update(id).digest()[0] ?? 0) % WRITE_SHARDS;
}

function toEvent(item: Item): StoredEvent & { sk: string } {
  const doc = JSON.parse(String(item[EventAttr.doc])) as Record<string, unknown>;
  return { ...inFieldOrder({ ...doc, hash: item[EventAttr.hash] }), sk: String(item[SK]) };
}

/** The table item of one event (also used by the benchmark's and tests' bulk loaders). */
export function eventItem({ workspaceId, event, expiresAt }: EventRecord): Item {
  const { hash, ...doc } = event;
  return {
    [PK]: Keys.eventPk(workspaceId, shardOf(event.id)),
    [SK]: Keys.eventSk(event.recordedAt, event.id),
    [EventAttr.id]: event.id,
    [EventAttr.recordedAt]: event.recordedAt,
    [EventAttr.doc]: canonicalJson(doc),
    [EventAttr.hash]: hash,
    [EventAttr.outcome]: event.outcome,
    [EventAttr.sourceIp]: event.sourceIp,
    [EventAttr.actorKey]: Keys.actor(workspaceId, event.actor.id),
    [EventAttr.typeKey]: Keys.type(workspaceId, event.type),
    [EventAttr.nodeKey]: event.node ? Keys.node(workspaceId, event.node.id) : undefined,
    [EventAttr.expiresAt]: expiresAt,
  };
}

function withoutSortKey({ sk: _sk, ...event }: StoredEvent & { sk: string }): StoredEvent {
  return event;
}

/**
 * The only module that builds DynamoDB commands for the events table. Writes are conditional puts
 * (id guard, then event); reads are Query and GetItem. It never updates or
 * deletes: the table's resource policy and IAM deny both anyway.
 */
export class DynamoEventStore implements EventStore {
  constructor(private readonly opts: DynamoEventStoreOptions) {}

  /**
   * Two conditional puts, guard first. The guard claims the id; only then is the event item written.
   * If the process dies between the two, nothing was acknowledged, and the client's retry finds the
   * guard without its event and completes it ({@link DynamoEventStore.complete}). A transaction
   * would make the pair atomic, but costs twice the write capacity per item, and moto copies the
   * whole table on every TransactWriteItems, which makes it unusable for tests at volume.
   */
  async append(record: EventRecord): Promise<void> {
    const { workspaceId, event, contentHash, expiresAt } = record;
    const guard: Item = {
      [PK]: Keys.guardPk(workspaceId, event.id),
      [SK]: Keys.guardSk,
      [GuardAttr.eventId]: event.id,
      [GuardAttr.eventPk]: Keys.eventPk(workspaceId, shardOf(event.id)),
      [GuardAttr.eventSk]: Keys.eventSk(event.recordedAt, event.id),
      [GuardAttr.recordedAt]: event.recordedAt,
      [GuardAttr.contentHash]: contentHash,
      [GuardAttr.expiresAt]: expiresAt,
    };
    if (!(await this.putIfAbsent(guard, "append"))) throw new DuplicateIdError(event.id);
    await this.complete(record);
  }

  /** Writes the event item of a claimed id. Idempotent: an identical item already there is success. */
  async complete(record: EventRecord): Promise<void> {
    await this.putIfAbsent(eventItem(record), "append");
  }

  /** The only write: PutItem with attribute_not_exists. Returns false when the key is taken. */
  private async putIfAbsent(item: Item, what: string): Promise<boolean> {
    try {
      await this.opts.client.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      );
      return true;
    } catch (err: unknown) {
      if (err instanceof Error && err.name === "ConditionalCheckFailedException") return false;
      translateStorageError(err, what);
    }
  }

  async findById(workspaceId: string, id: string, nowEpochSeconds: number): Promise<ExistingId | undefined> {
    try {
      const guard = await this.opts.client.send(
        new GetCommand({
          TableName: this.opts.tableName,
          Key: { [PK]: Keys.guardPk(workspaceId, id), [SK]: Keys.guardSk },
          ConsistentRead: true,
        }),
      );
      if (!guard.Item || Number(guard.Item[GuardAttr.expiresAt]) <= nowEpochSeconds) return undefined;
      const found = await this.opts.client.send(
        new GetCommand({
          TableName: this.opts.tableName,
          Key: { [PK]: guard.Item[GuardAttr.eventPk], [SK]: guard.Item[GuardAttr.eventSk] },
          ConsistentRead: true,
        }),
      );
      const live =
        found.Item && Number(found.Item[EventAttr.expiresAt]) > nowEpochSeconds ? found.Item : undefined;
      return {
        contentHash: String(guard.Item[GuardAttr.contentHash]),
        recordedAt: String(guard.Item[GuardAttr.recordedAt]),
        event: live ? withoutSortKey(toEvent(live)) : undefined,
      };
    } catch (err: unknown) {
      translateStorageError(err, "findById");
    }
  }

  /** Workspaces that hold an event with this id (the byEventId guard index). */
  async findOwners(id: string): Promise<string[]> {
    try {
      const out = await this.opts.client.send(
        new QueryCommand({
          TableName: this.opts.tableName,
          IndexName: EVENT_ID_INDEX,
          KeyConditionExpression: "#id = :id",
          ExpressionAttributeNames: { "#id": GuardAttr.eventId },
          ExpressionAttributeValues: { ":id": id },
          Limit: 25,
        }),
      );
      return (out.Items ?? []).map((item) => String(item[PK]).split("#")[0] as string);
    } catch (err: unknown) {
      translateStorageError(err, "findOwners");
    }
  }

  /**
   * Newest first. Picks one index from the key filters (actor, then node, then type, else the
   * table's shards), fans out over the partitions that index needs, and merges them by sort key.
   * Each partition follows LastEvaluatedKey until it has enough matches or ends, so short pages
   * (1 MB limit, filtered-out items) never shorten the answer.
   */
  async query(q: EventQuery): Promise<EventPage> {
    const out: (StoredEvent & { sk: string })[] = [];
    try {
      for await (const event of this.merged(q)) {
        out.push(event);
        if (out.length > q.limit) break;
      }
    } catch (err: unknown) {
      translateStorageError(err, "query");
    }
    const more = out.length > q.limit;
    const page = out.slice(0, q.limit);
    return {
      events: page.map(withoutSortKey),
      nextKey: more ? page.at(-1)?.sk : undefined,
    };
  }

  /**
   * Every match, newest first, for jobs (exports): the partition readers live for the whole walk,
   * so each partition is read once, page after page, and memory holds one page per partition.
   */
  async *stream(q: Omit<EventQuery, "limit">): AsyncGenerator<StoredEvent> {
    try {
      for await (const event of this.merged({ ...q, limit: STREAM_PAGE })) yield withoutSortKey(event);
    } catch (err: unknown) {
      translateStorageError(err, "stream");
    }
  }

  /** K-way merge of the plan's partitions by sort key (newest first unless `ascending`), fetching pages on demand. */
  private async *merged(q: EventQuery): AsyncGenerator<StoredEvent & { sk: string }> {
    const plan = planQuery(q);
    const sources = plan.partitionKeys.map((pkValue) => new PartitionReader(this.opts, plan, pkValue, q));
    await Promise.all(sources.map((s) => s.fill()));
    for (;;) {
      let best: PartitionReader | undefined;
      for (const s of sources) {
        const head = s.peek();
        const bestSk = best?.peek()?.sk ?? "";
        if (head && (!best || (q.ascending ? head.sk < bestSk : head.sk > bestSk))) best = s;
      }
      if (!best) return;
      yield best.take();
      await best.fill();
    }
  }
}

/** DynamoDB page size of a stream (each request also stops at 1 MB). */
const STREAM_PAGE = 1000;

interface QueryPlan {
  index: IndexName | undefined;
  partitionAttr: string;
  partitionKeys: string[];
  filter: string[];
  names: Record<string, string>;
  values: Record<string, unknown>;
}

function planQuery(q: EventQuery): QueryPlan {
  const ws = q.workspaceId;
  const names: Record<string, string> = { "#exp": EventAttr.expiresAt };
  const values: Record<string, unknown> = { ":now": q.nowEpochSeconds };
  const filter = ["#exp > :now"];
  const plan = (index: IndexName | undefined, partitionKeys: string[]): QueryPlan => ({
    index,
    partitionAttr: index ? INDEX_PARTITION_KEY[index] : PK,
    partitionKeys,
    filter,
    names,
    values,
  });
  const restrict = (attr: string, placeholder: string, value: unknown) => {
    names[`#${placeholder}`] = attr;
    values[`:${placeholder}`] = value;
    filter.push(`#${placeholder} = :${placeholder}`);
  };
  if (q.outcome) restrict(EventAttr.outcome, "outcome", q.outcome);
  if (q.sourceIp) restrict(EventAttr.sourceIp, "ip", q.sourceIp);

  let chosen: QueryPlan;
  if (q.actorId !== undefined) {
    chosen = plan(Index.byActor, [Keys.actor(ws, q.actorId)]);
    if (q.nodeId !== undefined) restrict(EventAttr.nodeKey, "node", Keys.node(ws, q.nodeId));
  } else if (q.nodeId !== undefined) {
    chosen = plan(Index.byNode, [Keys.node(ws, q.nodeId)]);
  } else if (q.types) {
    return plan(
      Index.byType,
      q.types.map((t) => Keys.type(ws, t)),
    );
  } else {
    return plan(
      undefined,
      Array.from({ length: WRITE_SHARDS }, (_, shard) => Keys.eventPk(ws, shard)),
    );
  }
  if (q.types) {
    const placeholders = q.types.map((t, i) => {
      values[`:type${i}`] = Keys.type(ws, t);
      return `:type${i}`;
    });
    names["#type"] = EventAttr.typeKey;
    filter.push(`#type IN (${placeholders.join(", ")})`);
  }
  return chosen;
}

/** Reads one partition in the query's order, a DynamoDB page at a time, keeping a small buffer. */
class PartitionReader {
  private buffer: (StoredEvent & { sk: string })[] = [];
  private lastKey: Record<string, unknown> | undefined;
  private started = false;

  constructor(
    private readonly opts: DynamoEventStoreOptions,
    private readonly plan: QueryPlan,
    private readonly pkValue: string,
    private readonly q: EventQuery,
  ) {}

  peek(): (StoredEvent & { sk: string }) | undefined {
    return this.buffer[0];
  }

  take(): StoredEvent & { sk: string } {
    const event = this.buffer.shift();
    if (!event) throw new Error("take() on an empty partition reader");
    return event;
  }

  /** Fetches pages until an item is buffered or the partition ends. */
  async fill(): Promise<void> {
    while (this.buffer.length === 0 && (!this.started || this.lastKey)) {
      this.started = true;
      const input: QueryCommandInput = {
        TableName: this.opts.tableName,
        IndexName: this.plan.index,
        KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :lo AND :hi",
        FilterExpression: this.plan.filter.join(" AND "),
        ExpressionAttributeNames: { ...this.plan.names, "#pk": this.plan.partitionAttr, "#sk": SK },
        ExpressionAttributeValues: {
          ...this.plan.values,
          ":pk": this.pkValue,
          ":lo": this.q.fromKey ?? "0",
          ":hi": this.q.beforeKey ?? "~",
        },
        ScanIndexForward: this.q.ascending === true,
        Limit: this.opts.queryPageSize ?? this.q.limit + 1,
        ExclusiveStartKey: this.lastKey,
        // Only the table itself can read its own writes; GSIs are eventually consistent.
        ConsistentRead: this.plan.index === undefined,
      };
      const page = await this.opts.client.send(new QueryCommand(input));
      this.lastKey = page.LastEvaluatedKey;
      // BETWEEN is inclusive; the upper bound is exclusive (cursor position or `until`).
      this.buffer = (page.Items ?? []).filter((item) => item[SK] !== this.q.beforeKey).map(toEvent);
    }
  }
}
