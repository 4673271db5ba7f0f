import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { ApiKeyRecord, ControlStore, WorkspaceRecord } from "../ports.js";
import { ApiKeyAttr, Keys, PK, SK, WorkspaceAttr } from "../table.js";
import { translateStorageError } from "./storage-errors.js";

/** API keys and workspaces in the control table (mutable state, apart from the write-once log). */
export class DynamoControlStore implements ControlStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getApiKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const item = await this.get(Keys.apiKeyPk(keyId), Keys.apiKeySk);
    if (!item) return undefined;
    return {
      keyId: String(item[ApiKeyAttr.keyId]),
      workspaceId: String(item[ApiKeyAttr.workspaceId]),
      secretHash: String(item[ApiKeyAttr.secretHash]),
      scopes: (item[ApiKeyAttr.scopes] as ApiKeyRecord["scopes"]) ?? [],
      name: String(item[ApiKeyAttr.name] ?? ""),
      createdAt: String(item[ApiKeyAttr.createdAt]),
    };
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    await this.put({ [PK]: Keys.apiKeyPk(key.keyId), [SK]: Keys.apiKeySk, ...key });
  }

  async getWorkspace(workspaceId: string): Promise<WorkspaceRecord | undefined> {
    const item = await this.get(Keys.workspacePk(workspaceId), Keys.workspaceSk);
    return item ? toWorkspace(item) : undefined;
  }

  /** Every workspace. A Scan of the small control table (never of the events table). */
  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    const out: WorkspaceRecord[] = [];
    let start: Record<string, unknown> | undefined;
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

  async putWorkspace(workspace: WorkspaceRecord): Promise<void> {
    await this.put({ [PK]: Keys.workspacePk(workspace.workspaceId), [SK]: Keys.workspaceSk, ...workspace });
  }

  private async get(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { [PK]: pk, [SK]: sk }, ConsistentRead: true }),
      );
      return out.Item;
    } catch (err: unknown) {
      translateStorageError(err, "control read");
    }
  }

  private async put(item: Record<string, unknown>): Promise<void> {
    try {
      await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
    } catch (err: unknown) {
      translateStorageError(err, "control write");
    }
  }
}

function toWorkspace(item: Record<string, unknown>): WorkspaceRecord {
  return {
    workspaceId: String(item[WorkspaceAttr.workspaceId]),
    plan: item[WorkspaceAttr.plan] === "enterprise" ? "enterprise" : "per-node",
    retentionDays: Number(item[WorkspaceAttr.retentionDays]),
    createdAt: String(item[WorkspaceAttr.createdAt]),
  };
}
