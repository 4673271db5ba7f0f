import { existsSync, readFileSync } from "node:fs";
import { hostname, networkInterfaces, userInfo } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { newDocumentClient } from "../functions/shared/adapters/clients.js";
import { DynamoControlStore } from "../functions/shared/adapters/dynamodb-control-store.js";
import { DynamoEventStore } from "../functions/shared/adapters/dynamodb-event-store.js";
import { createWorkspace } from "../functions/shared/core/workspaces.js";
import { CONTROL_TABLE_BASENAME, EVENTS_TABLE_BASENAME, OPERATOR_LOG } from "../functions/shared/table.js";
import { toolDeps } from "../functions/shared/tool-deps.js";
import { ROOT } from "./lib/moto.js";

const USAGE = `npm run admin -- <command> [options]

Commands:
  create-workspace <id> --plan per-node|enterprise   create a workspace and print its first admin key
  list-workspaces                                    list workspaces with plan and retention
  security-log [--limit N]                           the operator's security log: failed authentications no
                                                     workspace could be named for, and integrity violations

Target (default: the local runtime started by \`npm start\`, read from .local/credentials.json):
  --stage <dev|staging|prod>   a deployed stage: tables audit-*-<stage>, AWS credentials and region
                               from the environment (AWS_PROFILE, AWS_REGION, …)`;

/** The host's first non-internal IPv4 address (loopback if it has none): where the operator acted from. */
function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === "IPv4" && !a.internal);
    if (found) return found.address;
  }
  return "127.0.0.1";
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    plan: { type: "string" },
    stage: { type: "string" },
    limit: { type: "string", default: "50" },
    help: { type: "boolean", short: "h" },
  },
});

function target() {
  if (values.stage) {
    return {
      dynamoEndpoint: undefined,
      eventsTable: `${EVENTS_TABLE_BASENAME}-${values.stage}`,
      controlTable: `${CONTROL_TABLE_BASENAME}-${values.stage}`,
    };
  }
  const file = join(ROOT, process.env.CREDENTIALS_FILE ?? ".local/credentials.json");
  if (!existsSync(file))
    throw new Error("no .local/credentials.json: start the local runtime (`npm start`) or pass --stage");
  const local = (
    JSON.parse(readFileSync(file, "utf8")) as {
      local?: { dynamoEndpoint: string; eventsTable: string; controlTable: string };
    }
  ).local;
  if (!local) throw new Error(".local/credentials.json has no `local` section; restart `npm start`");
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
  return local;
}

async function main(): Promise<void> {
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  const t = target();
  const client = newDocumentClient(t.dynamoEndpoint);
  const control = new DynamoControlStore(client, t.controlTable);

  switch (command) {
    case "create-workspace": {
      const plan = values.plan;
      if (plan !== "per-node" && plan !== "enterprise")
        throw new Error("--plan per-node|enterprise is required");
      const deps = toolDeps(client, t);
      // The operator, on the host this runs on: who created the workspace and its first key, from where.
      const { workspace, tokens } = await createWorkspace(
        deps,
        {
          actor: { type: "user", id: `${userInfo().username}@${hostname()}`, name: "npm run admin" },
          sourceIp: hostAddress(),
        },
        { workspaceId: arg ?? "", plan },
        { admin: { scopes: ["admin"], name: "first admin key" } },
      );
      console.log(`workspace ${workspace.workspaceId} (${plan}, retention ${workspace.retentionDays} days)`);
      console.log(`admin key (shown once; create others with POST /v1/keys): ${tokens.admin}`);
      return;
    }
    case "list-workspaces": {
      const rows = await control.listWorkspaces();
      console.table(
        rows.map((w) => ({
          id: w.workspaceId,
          plan: w.plan,
          retentionDays: w.retentionDays,
          createdAt: w.createdAt,
        })),
      );
      return;
    }
    case "security-log": {
      const events = new DynamoEventStore({ client, tableName: t.eventsTable });
      const page = await events.query({
        workspaceId: OPERATOR_LOG,
        limit: Number(values.limit),
        nowEpochSeconds: Math.floor(Date.now() / 1000),
      });
      for (const e of page.events) {
        if (e.type === "integrity.violation") {
          // The sealer's and the tamper watch's findings (docs/integrity.md).
          const v = e.context as { kind: string; workspace: string; detail: string };
          console.log(`${e.recordedAt}  INTEGRITY ${v.kind}  workspace ${v.workspace}: ${v.detail}`);
          continue;
        }
        const c = e.context as { reason?: string; count?: number; method?: string; path?: string };
        console.log(
          `${e.recordedAt}  ${e.sourceIp ?? "-"}  ${c.count ?? 1}× ${c.reason ?? ""}  ${c.method ?? ""} ${c.path ?? ""}`,
        );
      }
      if (page.events.length === 0) console.log("no failed authentications in the operator log");
      return;
    }
    default:
      throw new Error(`unknown command ${command}\n\n${USAGE}`);
  }
}

main().catch((err: unknown) => {
  console.error(`admin: ${(err as Error).message}`);
  process.exit(1);
});
