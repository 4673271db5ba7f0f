import { randomUUID } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { canonicalJson } from "../canonical.js";
import type {
  ApiKeyRecord,
  ControlStore,
  ExportDestination,
  ExportJob,
  FailureWindow,
  Position,
  ReachWindow,
  WorkspaceRecord,
} from "../ports.js";
import type { Scope } from "../routes.js";
import {
  ApiKeyAttr,
  ControlIndex,
  EXPIRES_AT,
  FailureAttr,
  Keys,
  LogStateAttr,
  PENDING_FAILURES,
  PENDING_REACHES,
  PK,
  REACH_RESOURCES_MAX,
  ReachAttr,
  SK,
  WorkspaceAttr,
} from "../table.js";
import { translateStorageError } from "./storage-errors.js";

type Item = Record<string, unknown>;
const optional = (v: unknown) => (v === undefined ? undefined : String(v));
/** Counter items outlive their window by a day, then TTL removes them. */
const FAILURE_ITEM_TTL_SECONDS = 86_400;
/** Viewer session records outlive their session by a day. */
const SESSION_RECORD_TTL_SECONDS = 86_400;

/** What an ADD on `#reasons.#reason` fails with while the `reasons` map does not exist yet. */
export const MISSING_MAP = /document path|operand in the update expression has an incorrect data type/i;

/**
 * API keys, workspaces and failure counters in the control table: the mutable state, kept apart
 * from the write-once events table so that table never needs an update grant.
 */
export class DynamoControlStore implements ControlStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.get(Keys.apiKeyPk(keyId), Keys.apiKeySk);
    return item ? toApiKey(item) : undefined;
  }

  async putApiKey(key: ApiKeyRecord): Promise<boolean> {
    return this.putNew({
      [PK]: Keys.apiKeyPk(key.keyId),
      [SK]: Keys.apiKeySk,
      ...key,
      [ApiKeyAttr.workspaceKey]: key.workspaceId,
      // A viewer session's record goes a day after it stopped working (DynamoDB TTL); until then
      // its token is refused as expired, not as unknown.
      ...(key.validUntil
        ? { [EXPIRES_AT]: Math.floor(Date.parse(key.validUntil) / 1000) + SESSION_RECORD_TTL_SECONDS }
        : {}),
    });
  }

  async listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: ControlIndex.keysByWorkspace,
      KeyConditionExpression: "#ws = :ws",
      ExpressionAttributeNames: { "#ws": ApiKeyAttr.workspaceKey },
      ExpressionAttributeValues: { ":ws": workspaceId },
    });
    return items.map(toApiKey);
  }

  async rotateApiKey(
    keyId: string,
    change: { secretHash: string; previousSecretHash: string; previousValidUntil: string; rotatedAt: string },
  ): Promise<boolean> {
    return this.update(
      {
        TableName: this.tableName,
        Key: { [PK]: Keys.apiKeyPk(keyId), [SK]: Keys.apiKeySk },
        UpdateExpression: "SET #h = :h, #ph = :ph, #pv = :pv, #r = :r",
        // Only a live key rotates, and only from the secret the caller proved it holds.
        ConditionExpression: "attribute_exists(#pk) AND attribute_not_exists(#rev) AND #h = :ph",
        ExpressionAttributeNames: {
          "#pk": PK,
          "#h": ApiKeyAttr.secretHash,
          "#ph": ApiKeyAttr.previousSecretHash,
          "#pv": ApiKeyAttr.previousValidUntil,
          "#r": ApiKeyAttr.rotatedAt,
          "#rev": ApiKeyAttr.revokedAt,
        },
        ExpressionAttributeValues: {
          ":h": change.secretHash,
          ":ph": change.previousSecretHash,
          ":pv": change.previousValidUntil,
          ":r": change.rotatedAt,
        },
      },
      true,
      // Our rotation, resent after its answer was lost: the new secret is already the stored one.
      (stored) => stored[ApiKeyAttr.secretHash] === change.secretHash,
    );
  }

  async revokeApiKey(keyId: string, revokedAt: string): Promise<boolean> {
    const revocation = randomUUID();
    return this.update(
      {
        TableName: this.tableName,
        Key: { [PK]: Keys.apiKeyPk(keyId), [SK]: Keys.apiKeySk },
        UpdateExpression: "SET #rev = :at, #rid = :rid",
        ConditionExpression: "attribute_exists(#pk) AND attribute_not_exists(#rev)",
        ExpressionAttributeNames: {
          "#pk": PK,
          "#rev": ApiKeyAttr.revokedAt,
          "#rid": ApiKeyAttr.revocationId,
        },
        ExpressionAttributeValues: { ":at": revokedAt, ":rid": revocation },
      },
      true,
      // Our revocation, resent after its answer was lost (not another one of the same millisecond).
      (stored) => stored[ApiKeyAttr.revocationId] === revocation,
    );
  }

  async getWorkspace(workspaceId: string): Promise<WorkspaceRecord | undefined> {
    const item = await this.get(Keys.workspacePk(workspaceId), Keys.workspaceSk);
    return item ? toWorkspace(item) : undefined;
  }

  /** Every workspace. A Scan of the small control table (never of the events table). */
  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    const out: WorkspaceRecord[] = [];
    let start: Item | undefined;
    try {
      do {
        const page = await this.client.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: "#sk = :ws",
            ExpressionAttributeNames: { "#sk": SK },
            ExpressionAttributeValues: { ":ws": Keys.workspaceSk },
            ExclusiveStartKey: start,
          }),
        );
        out.push(...(page.Items ?? []).map(toWorkspace));
        start = page.LastEvaluatedKey;
      } while (start);
    } catch (err: unknown) {
      translateStorageError(err, "control scan");
    }
    return out.sort((a, b) => a.workspaceId.localeCompare(b.workspaceId));
  }

  async putWorkspace(workspace: WorkspaceRecord): Promise<boolean> {
    return this.putNew({
      [PK]: Keys.workspacePk(workspace.workspaceId),
      [SK]: Keys.workspaceSk,
      ...workspace,
    });
  }

  async setRetention(workspaceId: string, retentionDays: number): Promise<void> {
    await this.update({
      TableName: this.tableName,
      Key: { [PK]: Keys.workspacePk(workspaceId), [SK]: Keys.workspaceSk },
      UpdateExpression: "SET #d = :d",
      ConditionExpression: "attribute_exists(#pk)",
      ExpressionAttributeNames: { "#pk": PK, "#d": WorkspaceAttr.retentionDays },
      ExpressionAttributeValues: { ":d": retentionDays },
    });
  }

  async setExportDestination(workspaceId: string, destination: ExportDestination | undefined): Promise<void> {
    await this.update({
      TableName: this.tableName,
      Key: { [PK]: Keys.workspacePk(workspaceId), [SK]: Keys.workspaceSk },
      UpdateExpression: destination ? "SET #d = :d" : "REMOVE #d",
      ConditionExpression: "attribute_exists(#pk)",
      ExpressionAttributeNames: { "#pk": PK, "#d": WorkspaceAttr.exportDestination },
      ...(destination ? { ExpressionAttributeValues: { ":d": destination } } : {}),
    });
  }

  async countFailure(w: Omit<FailureWindow, "count" | "reasons"> & { reason: string }): Promise<number> {
    // The (target, source) window is the attribution the flush writes; the source's own window,
    // across every target, is what decides 429. Both in one round trip.
    const [, fromSource] = await Promise.all([this.count(w, false), this.countSource(w)]);
    return fromSource;
  }

  async sourceFailures(ip: string, windowStart: string): Promise<number> {
    const item = await this.get(Keys.sourceFailurePk(ip), Keys.failureSk(windowStart));
    return Number(item?.[FailureAttr.count] ?? 0);
  }

  async countRequest(
    workspaceId: string,
    window: { start: string; end: string },
    requests = 1,
  ): Promise<number> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: Keys.ratePk(workspaceId), [SK]: window.start },
          UpdateExpression: "ADD #count :one SET #exp = if_not_exists(#exp, :exp)",
          ExpressionAttributeNames: { "#count": FailureAttr.count, "#exp": EXPIRES_AT },
          ExpressionAttributeValues: {
            ":one": requests,
            ":exp": Math.floor(Date.parse(window.end) / 1000) + FAILURE_ITEM_TTL_SECONDS,
          },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(out.Attributes?.[FailureAttr.count] ?? 1);
    } catch (err: unknown) {
      translateStorageError(err, "count request");
    }
  }

  /** The source's failures in the window, whatever key or workspace they named (never flushed). */
  private async countSource(w: Pick<FailureWindow, "ip" | "windowStart" | "windowEnd">): Promise<number> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: Keys.sourceFailurePk(w.ip), [SK]: Keys.failureSk(w.windowStart) },
          UpdateExpression: "ADD #count :one SET #exp = :exp",
          ExpressionAttributeNames: { "#count": FailureAttr.count, "#exp": EXPIRES_AT },
          ExpressionAttributeValues: {
            ":one": 1,
            ":exp": Math.floor(Date.parse(w.windowEnd) / 1000) + FAILURE_ITEM_TTL_SECONDS,
          },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(out.Attributes?.[FailureAttr.count] ?? 1);
    } catch (err: unknown) {
      translateStorageError(err, "count source failure");
    }
  }

  private async count(
    w: Omit<FailureWindow, "count" | "reasons"> & { reason: string },
    mapCreated: boolean,
  ): Promise<number> {
    const window = windowUpdate(w, PENDING_FAILURES);
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: Keys.failurePk(w.target, w.ip), [SK]: Keys.failureSk(w.windowStart) },
          UpdateExpression: `ADD #count :one, #reasons.#reason :one ${window.set}, #target = :target`,
          ExpressionAttributeNames: {
            ...window.names,
            "#reasons": FailureAttr.reasons,
            "#reason": w.reason,
            "#target": FailureAttr.target,
          },
          ExpressionAttributeValues: { ...window.values, ":target": w.target },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(out.Attributes?.[FailureAttr.count] ?? 1);
    } catch (err: unknown) {
      // The first failure of a window has no reasons map yet: create it, then count again (once).
      // DynamoDB calls this an invalid document path; Dynoxide an operand of the wrong type
      // (docs/storage.md, "Engine differences").
      if (
        !mapCreated &&
        err instanceof Error &&
        err.name === "ValidationException" &&
        MISSING_MAP.test(err.message)
      ) {
        await this.update(
          {
            TableName: this.tableName,
            Key: { [PK]: Keys.failurePk(w.target, w.ip), [SK]: Keys.failureSk(w.windowStart) },
            UpdateExpression: "SET #reasons = if_not_exists(#reasons, :empty)",
            ExpressionAttributeNames: { "#reasons": FailureAttr.reasons },
            ExpressionAttributeValues: { ":empty": {} },
          },
          false,
        );
        return this.count(w, true);
      }
      translateStorageError(err, "count failure");
    }
  }

  async pendingFailures(endedBy: string): Promise<FailureWindow[]> {
    const items = await this.pendingWindows(PENDING_FAILURES, endedBy);
    return items.map((item) => ({
      ...windowOf(item),
      target: String(item[FailureAttr.target]),
      reasons: (item[FailureAttr.reasons] as Record<string, number>) ?? {},
    }));
  }

  async markFailuresFlushed(w: Pick<FailureWindow, "target" | "ip" | "windowStart">): Promise<void> {
    await this.clearPending({ [PK]: Keys.failurePk(w.target, w.ip), [SK]: Keys.failureSk(w.windowStart) });
  }

  async countReach(
    r: Omit<ReachWindow, "count" | "resources"> & { resource: { type: string; id: string } },
  ): Promise<void> {
    const key = { [PK]: Keys.reachPk(r.workspaceId, r.keyId, r.ip), [SK]: r.windowStart };
    const window = windowUpdate(r, PENDING_REACHES);
    const names = { ...window.names, "#wsid": ReachAttr.workspaceId, "#key": ReachAttr.keyId };
    const values = { ...window.values, ":wsid": r.workspaceId, ":key": r.keyId };
    const set = `${window.set}, #wsid = :wsid, #key = :key`;
    // The resource joins the window's set while the set is under its cap; past it, only the count grows.
    const added = await this.update({
      TableName: this.tableName,
      Key: key,
      UpdateExpression: `ADD #count :one, #res :res ${set}`,
      ConditionExpression: "attribute_not_exists(#res) OR size(#res) < :cap OR contains(#res, :r)",
      ExpressionAttributeNames: { ...names, "#res": ReachAttr.resources },
      ExpressionAttributeValues: {
        ...values,
        ":res": new Set([`${r.resource.type}:${r.resource.id}`]),
        ":r": `${r.resource.type}:${r.resource.id}`,
        ":cap": REACH_RESOURCES_MAX,
      },
    });
    if (!added) {
      await this.update(
        {
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `ADD #count :one ${set}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
        false,
      );
    }
  }

  async pendingReaches(endedBy: string): Promise<ReachWindow[]> {
    const items = await this.pendingWindows(PENDING_REACHES, endedBy);
    return items.map((item) => ({
      ...windowOf(item),
      workspaceId: String(item[ReachAttr.workspaceId]),
      keyId: String(item[ReachAttr.keyId]),
      resources: [...((item[ReachAttr.resources] as Set<string> | undefined) ?? [])].sort().map((r) => {
        const colon = r.indexOf(":");
        return { type: r.slice(0, colon), id: r.slice(colon + 1) };
      }),
    }));
  }

  async markReachesFlushed(
    w: Pick<ReachWindow, "workspaceId" | "keyId" | "ip" | "windowStart">,
  ): Promise<void> {
    await this.clearPending({ [PK]: Keys.reachPk(w.workspaceId, w.keyId, w.ip), [SK]: w.windowStart });
  }

  async putExportJob(job: ExportJob): Promise<boolean> {
    return this.putNew({ [PK]: Keys.exportPk(job.exportId), [SK]: Keys.exportSk, job });
  }

  async getExportJob(exportId: string): Promise<ExportJob | undefined> {
    const item = await this.get(Keys.exportPk(exportId), Keys.exportSk);
    return item ? (item.job as ExportJob) : undefined;
  }

  async updateExportJob(job: ExportJob): Promise<boolean> {
    return this.update(
      {
        TableName: this.tableName,
        Key: { [PK]: Keys.exportPk(job.exportId), [SK]: Keys.exportSk },
        UpdateExpression: "SET #job = :job",
        // Jobs written before revisions existed have none: they count as revision 0.
        ConditionExpression:
          job.revision === 1
            ? "attribute_exists(#job) AND (attribute_not_exists(#job.#rev) OR #job.#rev = :previous)"
            : "#job.#rev = :previous",
        ExpressionAttributeNames: { "#job": "job", "#rev": "revision" },
        ExpressionAttributeValues: { ":job": job, ":previous": job.revision - 1 },
      },
      true,
      // Our own update, resent after its answer was lost: the stored job is exactly the one we wrote
      // (another worker's differs: each run claims the job with a runId of its own).
      (stored) => canonicalJson(stored.job) === canonicalJson(JSON.parse(JSON.stringify(job))),
    );
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: sk }, ConsistentRead: true }),
      );
      return out.Item;
    } catch (err: unknown) {
      translateStorageError(err, "control read");
    }
  }

  private async putNew(item: Item): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      );
      return true;
    } catch (err: unknown) {
      if (err instanceof Error && err.name === "ConditionalCheckFailedException") return false;
      translateStorageError(err, "control write");
    }
  }

  /** Returns false when the condition failed (absent, revoked, already done). */
  /**
   * A conditional update; false when its condition fails. With `appliedIf`, a failed condition is
   * checked against the item as stored: the SDK resends a request whose answer was lost, and when
   * the first one was applied the resend fails the condition against our own write. `appliedIf`
   * tells that apart from a write of somebody else's, so a lost answer is not taken for a lost race.
   */
  private async update(
    input: UpdateCommandInput,
    conditional = true,
    appliedIf?: (stored: Item) => boolean,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand(appliedIf ? { ...input, ReturnValuesOnConditionCheckFailure: "ALL_OLD" } : input),
      );
      return true;
    } catch (err: unknown) {
      if (conditional && err instanceof Error && err.name === "ConditionalCheckFailedException") {
        // The document client does not unmarshall errors: the item is in DynamoDB's wire form.
        const stored = (err as { Item?: Record<string, AttributeValue> }).Item;
        return appliedIf !== undefined && stored !== undefined && appliedIf(unmarshall(stored));
      }
      translateStorageError(err, "control update");
    }
  }

  /** Items of one kind of window (`pending` = `kind`) that ended at or before `endedBy`. */
  private pendingWindows(kind: string, endedBy: string): Promise<Item[]> {
    return this.queryAll({
      TableName: this.tableName,
      IndexName: ControlIndex.pendingFailures,
      KeyConditionExpression: "#p = :p AND #we <= :end",
      ExpressionAttributeNames: { "#p": FailureAttr.pending, "#we": FailureAttr.windowEnd },
      ExpressionAttributeValues: { ":p": kind, ":end": endedBy },
    });
  }

  /** Takes a window out of the pendingFailures index: its event is written. */
  private async clearPending(key: Item): Promise<void> {
    await this.update(
      {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: "REMOVE #pending",
        ExpressionAttributeNames: { "#pending": FailureAttr.pending },
      },
      false,
    );
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    try {
      do {
        const page = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
        out.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
    } catch (err: unknown) {
      translateStorageError(err, "control query");
    }
    return out;
  }

  /** The sealer's `lastKey`, read strongly consistent: a seal that just landed counts. */
  async getSealedKey(workspaceId: string): Promise<Position | undefined> {
    const item = await this.get(Keys.logPk(workspaceId), Keys.logStateSk);
    return optional(item?.[LogStateAttr.lastKey]) as Position | undefined;
  }
}

/**
 * The SET clause, names and values every counted window shares (source, window, the request that
 * started it, pending in the pendingFailures index as `pending`, TTL), plus `:one` for the count.
 */
function windowUpdate(
  w: Pick<FailureWindow, "ip" | "windowStart" | "windowEnd" | "method" | "path" | "userAgent">,
  pending: string,
) {
  return {
    set: "SET #ip = :ip, #ws = :ws, #we = :we, #method = :method, #path = :path, #ua = :ua, #pending = if_not_exists(#pending, :pending), #exp = :exp",
    names: {
      "#count": FailureAttr.count,
      "#ip": FailureAttr.ip,
      "#ws": FailureAttr.windowStart,
      "#we": FailureAttr.windowEnd,
      "#method": FailureAttr.method,
      "#path": FailureAttr.path,
      "#ua": FailureAttr.userAgent,
      "#pending": FailureAttr.pending,
      "#exp": EXPIRES_AT,
    },
    values: {
      ":one": 1,
      ":ip": w.ip,
      ":ws": w.windowStart,
      ":we": w.windowEnd,
      ":method": w.method,
      ":path": w.path,
      ":ua": w.userAgent ?? "",
      ":pending": pending,
      ":exp": Math.floor(Date.parse(w.windowEnd) / 1000) + FAILURE_ITEM_TTL_SECONDS,
    },
  };
}

/** What failure and reach windows share: source, window, count, and the request that started it. */
function windowOf(item: Item) {
  return {
    ip: String(item[FailureAttr.ip]),
    windowStart: String(item[FailureAttr.windowStart]),
    windowEnd: String(item[FailureAttr.windowEnd]),
    count: Number(item[FailureAttr.count]),
    method: String(item[FailureAttr.method]),
    path: String(item[FailureAttr.path]),
    userAgent: optional(item[FailureAttr.userAgent]) || undefined,
  };
}

function toApiKey(item: Item): ApiKeyRecord {
  return {
    keyId: String(item[ApiKeyAttr.keyId]),
    workspaceId: String(item[ApiKeyAttr.workspaceId]),
    secretHash: String(item[ApiKeyAttr.secretHash]),
    scopes: (item[ApiKeyAttr.scopes] as Scope[] | undefined) ?? [],
    name: String(item[ApiKeyAttr.name] ?? ""),
    createdAt: String(item[ApiKeyAttr.createdAt]),
    revokedAt: optional(item[ApiKeyAttr.revokedAt]),
    rotatedAt: optional(item[ApiKeyAttr.rotatedAt]),
    previousSecretHash: optional(item[ApiKeyAttr.previousSecretHash]),
    previousValidUntil: optional(item[ApiKeyAttr.previousValidUntil]),
    validUntil: optional(item[ApiKeyAttr.validUntil]),
    mintedBy: optional(item[ApiKeyAttr.mintedBy]),
    viewer: item[ApiKeyAttr.viewer] as ApiKeyRecord["viewer"],
  };
}

function toWorkspace(item: Item): WorkspaceRecord {
  return {
    workspaceId: String(item[WorkspaceAttr.workspaceId]),
    plan: item[WorkspaceAttr.plan] === "enterprise" ? "enterprise" : "per-node",
    retentionDays: Number(item[WorkspaceAttr.retentionDays]),
    createdAt: String(item[WorkspaceAttr.createdAt]),
    ...(item[WorkspaceAttr.exportDestination]
      ? { exportDestination: item[WorkspaceAttr.exportDestination] as ExportDestination }
      : {}),
  };
}
