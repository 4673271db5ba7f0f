import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { canonicalJson } from "../canonical.js";
import { UnavailableError } from "../errors.js";
import {
  APPEND_DEADLINE_MS,
  type AppendGuard,
  type AppendResult,
  type EventPage,
  type EventQuery,
  type EventRecord,
  type EventStore,
  type ExistingId,
  type Position,
} from "../ports.js";
import { inFieldOrder, type StoredEvent } from "../schemas/event.js";
import {
  EVENT_ID_INDEX,
  EventAttr,
  FailureAttr,
  GuardAttr,
  INDEX_PARTITION_KEY,
  Index,
  type IndexName,
  Keys,
  PK,
  SK,
  WRITE_SHARDS,
} from "../table.js";
import { type KeyRange, keyRange, positionOf } from "./positions.js";
import { STORAGE_UNAVAILABLE, translateStorageError } from "./storage-errors.js";

type Item = Record<string, unknown>;

export interface DynamoEventStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** The control table, where an {@link AppendGuard}'s failure counter lives. */
  controlTableName?: string;
  /**
   * DynamoDB `Limit` per Query request. Default: the page size asked for, plus one. Tests set it
   * low to force short pages, as DynamoDB's 1 MB page limit does in production.
   */
  queryPageSize?: number;
  /**
   * Waits before attempt `n + 1` of a transaction that lost a race. Default: full jitter, up to
   * 25 ms × 2^(n-1). Tests pass one that does not wait.
   */
  backoff?: (attempt: number) => Promise<unknown>;
  /** The clock the records' recordedAt came from, which the append deadline is measured on. */
  now?: () => Date;
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

/** Full jitter: up to 25 ms, doubling per attempt. */
const jitteredBackoff = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** (attempt - 1)));

function withoutSortKey({ sk: _sk, ...event }: StoredEvent & { sk: string }): StoredEvent {
  return event;
}

/**
 * Id guard + event item per transaction, and the append guard's condition check: 99 of the 100
 * items DynamoDB's TransactWriteItems takes.
 */
export const EVENTS_PER_TRANSACTION = 49;
/** Attempts of one transaction that lost to a concurrent one on the same keys (or was throttled). */
export const CONFLICT_ATTEMPTS = 5;
/** Cancellation reasons that say "try again", not "no". */
const RETRYABLE_CANCELLATIONS = new Set([
  "TransactionConflict",
  "ThrottlingError",
  "ProvisionedThroughputExceeded",
  "RequestLimitExceeded",
]);

/** The id guard of one event: it makes the id unique in the workspace and points at the event. */
function guardItem({ workspaceId, event, contentHash, expiresAt }: EventRecord): Item {
  return {
    [PK]: Keys.guardPk(workspaceId, event.id),
    [SK]: Keys.guardSk,
    [GuardAttr.eventId]: event.id,
    [GuardAttr.eventPk]: Keys.eventPk(workspaceId, shardOf(event.id)),
    [GuardAttr.eventSk]: Keys.eventSk(event.recordedAt, event.id),
    [GuardAttr.recordedAt]: event.recordedAt,
    [GuardAttr.contentHash]: contentHash,
    [GuardAttr.expiresAt]: expiresAt,
    [GuardAttr.atomic]: true,
  };
}

/** One item's verdict in a cancelled transaction. `Item` is in DynamoDB's wire form: the document client does not unmarshall errors. */
interface CancellationReason {
  Code?: string;
  Item?: Record<string, AttributeValue>;
}

/**
 * The only module that builds DynamoDB commands for the events table. The only write is a
 * TransactWriteItems of conditional puts (id guard and event, both `attribute_not_exists`); reads
 * are Query and GetItem. It never updates or deletes: the table's resource policy and IAM deny both.
 */
export class DynamoEventStore implements EventStore {
  constructor(private readonly opts: DynamoEventStoreOptions) {}

  /**
   * Each record's id guard and event item go in one transaction with both conditions, so either
   * both exist or neither does: no id is ever claimed without its event. Up to
   * {@link EVENTS_PER_TRANSACTION} records share a transaction (one round trip). A cancelled
   * transaction names, per item, why: a guard that exists comes back whole
   * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so a taken id is told apart from a replay
   * without another read, and the other records are written again without it. A transaction that
   * lost a race to a concurrent one is retried with jittered backoff. The SDK's retries of a
   * request reuse its ClientRequestToken, so a retry of a transaction that was applied but whose
   * answer was lost succeeds without writing twice.
   */
  async append(records: EventRecord[], guard?: AppendGuard): Promise<AppendResult[]> {
    const check = guard ? this.guardCheck(guard) : undefined;
    const results: AppendResult[] = new Array(records.length);
    const chunks: number[][] = [];
    for (let i = 0; i < records.length; i += EVENTS_PER_TRANSACTION) {
      chunks.push(
        Array.from({ length: Math.min(EVENTS_PER_TRANSACTION, records.length - i) }, (_, k) => i + k),
      );
    }
    // Every chunk runs to its end before anything is answered, so what one stored is always known.
    const settled = await Promise.allSettled(
      chunks.map((chunk) => this.appendChunk(records, chunk, results, check)),
    );
    settled.forEach((outcome, c) => {
      if (outcome.status === "fulfilled") return;
      const error =
        outcome.reason instanceof UnavailableError
          ? outcome.reason
          : new UnavailableError(STORAGE_UNAVAILABLE, { cause: outcome.reason, operation: "append" });
      for (const i of chunks[c] as number[]) results[i] ??= { status: "unavailable", error };
    });
    const bug = settled.find((o) => o.status === "rejected" && !(o.reason instanceof UnavailableError));
    // Not storage trouble: a defect. Its chunk's outcome is unknown, so nothing may be answered 2xx.
    if (bug?.status === "rejected") throw bug.reason;
    return results;
  }

  /**
   * The guard as a condition check on the source's failure counter in the control table: it holds
   * while the counter is absent or at most the threshold.
   */
  private guardCheck(guard: AppendGuard) {
    if (!this.opts.controlTableName) throw new Error("an append guard needs the control table's name");
    return {
      TableName: this.opts.controlTableName,
      Key: { [PK]: Keys.sourceFailurePk(guard.sourceIp), [SK]: Keys.failureSk(guard.windowStart) },
      ConditionExpression: "attribute_not_exists(#count) OR #count <= :max",
      ExpressionAttributeNames: { "#count": FailureAttr.count },
      ExpressionAttributeValues: { ":max": guard.maxFailures },
    };
  }

  private async appendChunk(
    records: EventRecord[],
    chunk: number[],
    results: AppendResult[],
    check: ReturnType<DynamoEventStore["guardCheck"]> | undefined,
  ): Promise<void> {
    let pending = chunk;
    let races = 0;
    const now = this.opts.now ?? (() => new Date());
    // No attempt is sent later than APPEND_DEADLINE_MS after the records were stamped, and one still
    // unanswered then is aborted: the sealer counts on it (with SEAL_SETTLE_MS's margin for a request
    // already in flight) to seal a time range only once nothing more lands in it.
    const deadline =
      Math.min(...chunk.map((i) => Date.parse((records[i] as EventRecord).event.recordedAt))) +
      APPEND_DEADLINE_MS;
    while (pending.length > 0) {
      let reasons: CancellationReason[] | undefined;
      const left = deadline - now().getTime();
      if (left <= 0)
        throw new UnavailableError(STORAGE_UNAVAILABLE, { operation: "append: past its deadline" });
      try {
        await this.opts.client.send(
          new TransactWriteCommand({
            TransactItems: [
              ...pending.flatMap((i) => {
                const record = records[i] as EventRecord;
                return [
                  { Put: this.putIfAbsent(guardItem(record), true) },
                  { Put: this.putIfAbsent(eventItem(record), false) },
                ];
              }),
              ...(check ? [{ ConditionCheck: check }] : []),
            ],
          }),
          { abortSignal: AbortSignal.timeout(left) },
        );
        for (const i of pending) results[i] = { status: "created" };
        return;
      } catch (err: unknown) {
        const name = err instanceof Error ? err.name : "";
        if (name === "TransactionCanceledException") {
          reasons = (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons;
          if (reasons?.length !== pending.length * 2 + (check ? 1 : 0)) throw err;
          const checked = check ? reasons[pending.length * 2] : undefined;
          // The source is throttled: nothing of this chunk was written, and nothing is retried.
          if (checked?.Code === "ConditionalCheckFailed") {
            for (const i of pending) results[i] = { status: "refused" };
            return;
          }
          if (checked?.Code && RETRYABLE_CANCELLATIONS.has(checked.Code)) reasons = undefined;
          else if (checked?.Code && checked.Code !== "None") {
            throw new Error(`append guard check cancelled: ${checked.Code}`);
          }
        } else if (name !== "TransactionInProgressException") {
          translateStorageError(err, "append");
        }
      }
      const retry: number[] = [];
      let raced = reasons === undefined; // TransactionInProgressException: the same request is still running
      pending.forEach((i, k) => {
        const guard = reasons?.[2 * k] ?? {};
        const item = reasons?.[2 * k + 1] ?? {};
        if (guard.Code === "ConditionalCheckFailed" && guard.Item) {
          const taken = unmarshall(guard.Item);
          results[i] = {
            status: "taken",
            contentHash: String(taken[GuardAttr.contentHash]),
            recordedAt: String(taken[GuardAttr.recordedAt]),
            expiresAt: Number(taken[GuardAttr.expiresAt]),
            withEvent: taken[GuardAttr.atomic] === true,
          };
          return;
        }
        for (const code of [guard.Code, item.Code]) {
          if (code && RETRYABLE_CANCELLATIONS.has(code)) raced = true;
          else if (code && code !== "None") {
            throw new Error(`append of ${(records[i] as EventRecord).event.id} cancelled: ${code}`);
          }
        }
        retry.push(i);
      });
      if (raced && ++races >= CONFLICT_ATTEMPTS) {
        throw new UnavailableError(STORAGE_UNAVAILABLE, { operation: "append: transaction conflicts" });
      }
      if (raced) await (this.opts.backoff ?? jitteredBackoff)(races);
      pending = retry;
    }
  }

  private putIfAbsent(item: Item, returnOld: boolean) {
    return {
      TableName: this.opts.tableName,
      Item: item,
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeNames: { "#pk": PK },
      ...(returnOld ? { ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const } : {}),
    };
  }

  positionOf(event: Pick<StoredEvent, "recordedAt" | "id">): Position {
    return positionOf(event);
  }

  /** The event recorded under this id at `recordedAt` (one strongly consistent GetItem). */
  async getAt(
    workspaceId: string,
    id: string,
    recordedAt: string,
    nowEpochSeconds: number,
  ): Promise<StoredEvent | undefined> {
    try {
      const found = await this.opts.client.send(
        new GetCommand({
          TableName: this.opts.tableName,
          Key: { [PK]: Keys.eventPk(workspaceId, shardOf(id)), [SK]: Keys.eventSk(recordedAt, id) },
          ConsistentRead: true,
        }),
      );
      const live = found.Item && Number(found.Item[EventAttr.expiresAt]) > nowEpochSeconds;
      return live ? withoutSortKey(toEvent(found.Item as Item)) : undefined;
    } catch (err: unknown) {
      translateStorageError(err, "getAt");
    }
  }

  async findById(workspaceId: string, id: string, nowEpochSeconds: number): Promise<ExistingId | undefined> {
    let guard: Item | undefined;
    try {
      guard = (
        await this.opts.client.send(
          new GetCommand({
            TableName: this.opts.tableName,
            Key: { [PK]: Keys.guardPk(workspaceId, id), [SK]: Keys.guardSk },
            ConsistentRead: true,
          }),
        )
      ).Item;
    } catch (err: unknown) {
      translateStorageError(err, "findById");
    }
    if (!guard || Number(guard[GuardAttr.expiresAt]) <= nowEpochSeconds) return undefined;
    const recordedAt = String(guard[GuardAttr.recordedAt]);
    return {
      contentHash: String(guard[GuardAttr.contentHash]),
      recordedAt,
      event: await this.getAt(workspaceId, id, recordedAt, nowEpochSeconds),
    };
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
      next: more ? (page.at(-1)?.sk as Position | undefined) : undefined,
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
  private readonly range: KeyRange;

  constructor(
    private readonly opts: DynamoEventStoreOptions,
    private readonly plan: QueryPlan,
    private readonly pkValue: string,
    private readonly q: EventQuery,
  ) {
    this.range = keyRange(q);
    // Bounds that cross leave nothing to read (DynamoDB refuses a BETWEEN whose bounds cross).
    if (this.range.lo > this.range.hi) this.started = true;
  }

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
          ":lo": this.range.lo,
          ":hi": this.range.hi,
        },
        ScanIndexForward: this.q.ascending === true,
        Limit: this.opts.queryPageSize ?? this.q.limit + 1,
        ExclusiveStartKey: this.lastKey,
        // Only the table itself can read its own writes; GSIs are eventually consistent.
        ConsistentRead: this.plan.index === undefined,
      };
      const page = await this.opts.client.send(new QueryCommand(input));
      this.lastKey = page.LastEvaluatedKey;
      // BETWEEN is inclusive; `after` and `before` are not.
      this.buffer = (page.Items ?? [])
        .filter((item) => !this.range.exclude.has(String(item[SK])))
        .map(toEvent);
    }
  }
}
