import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { LogState, LogStore, Position } from "../ports.js";
import { Keys, LogAnchorAttr, LogStateAttr, PK, SK } from "../table.js";
import { translateStorageError } from "./storage-errors.js";

const isConditionFailure = (err: unknown) =>
  err instanceof Error && err.name === "ConditionalCheckFailedException";

/** The verifiable log's state and anchors in the control table. */
export class DynamoLogStore implements LogStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getState(workspaceId: string): Promise<LogState | undefined> {
    try {
      const out = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [PK]: Keys.logPk(workspaceId), [SK]: Keys.logStateSk },
          ConsistentRead: true,
        }),
      );
      const item = out.Item;
      if (!item) return undefined;
      return {
        workspaceId,
        size: Number(item[LogStateAttr.size]),
        compact: (item[LogStateAttr.compact] as string[]).map((h) => Buffer.from(h, "base64")),
        root: Buffer.from(String(item[LogStateAttr.root]), "base64"),
        lastKey: String(item[LogStateAttr.lastKey]) as Position | "",
        checkpoint: String(item[LogStateAttr.checkpoint]),
        checkpointAt: String(item[LogStateAttr.checkpointAt]),
        revision: Number(item[LogStateAttr.revision]),
      };
    } catch (err: unknown) {
      translateStorageError(err, "log state read");
    }
  }

  async putState(state: LogState): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [PK]: Keys.logPk(state.workspaceId),
            [SK]: Keys.logStateSk,
            [LogStateAttr.workspaceId]: state.workspaceId,
            [LogStateAttr.size]: state.size,
            [LogStateAttr.compact]: state.compact.map((h) => h.toString("base64")),
            [LogStateAttr.root]: state.root.toString("base64"),
            [LogStateAttr.lastKey]: state.lastKey,
            [LogStateAttr.checkpoint]: state.checkpoint,
            [LogStateAttr.checkpointAt]: state.checkpointAt,
            [LogStateAttr.revision]: state.revision,
          },
          ...(state.revision === 1
            ? { ConditionExpression: "attribute_not_exists(#pk)", ExpressionAttributeNames: { "#pk": PK } }
            : {
                ConditionExpression: "#rev = :prev",
                ExpressionAttributeNames: { "#rev": LogStateAttr.revision },
                ExpressionAttributeValues: { ":prev": state.revision - 1 },
              }),
        }),
      );
      return true;
    } catch (err: unknown) {
      if (isConditionFailure(err)) return false;
      translateStorageError(err, "log state write");
    }
  }

  async putAnchor(workspaceId: string, tile: number, firstKey: Position): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [PK]: Keys.logPk(workspaceId),
            [SK]: Keys.logAnchorSk(firstKey),
            [LogAnchorAttr.tile]: tile,
            [LogAnchorAttr.firstKey]: firstKey,
          },
          // Written once: a rerun finds its own anchor there; nothing moves one afterwards.
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      );
    } catch (err: unknown) {
      if (isConditionFailure(err)) return;
      translateStorageError(err, "log anchor write");
    }
  }

  async anchorAtOrBefore(workspaceId: string, key: Position) {
    try {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :lo AND :hi",
          ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
          ExpressionAttributeValues: {
            ":pk": Keys.logPk(workspaceId),
            ":lo": Keys.logAnchorPrefix,
            ":hi": Keys.logAnchorSk(key),
          },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      );
      const item = out.Items?.[0];
      return item
        ? {
            tile: Number(item[LogAnchorAttr.tile]),
            firstKey: String(item[LogAnchorAttr.firstKey]) as Position,
          }
        : undefined;
    } catch (err: unknown) {
      translateStorageError(err, "log anchor read");
    }
  }
}
