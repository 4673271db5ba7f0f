import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localClients, localEnv } from "../../scripts/lib/bootstrap.js";
import { findDynoxide } from "../../scripts/lib/dynoxide.js";
import { freePort, ROOT } from "../../scripts/lib/moto.js";
import { call, isSeeded } from "./harness.js";

interface Credentials {
  baseUrl: string;
  workspaces: { id: string; keys: { writer: string; reader: string; admin: string } }[];
  local: { endpoint: string; dynamoEndpoint: string; exportBucket: string; customerBucket: string };
}

/** Whether this machine's local runtime uses Dynoxide (DYNAMODB_ENGINE=moto or no binary: moto's). */
const findDynoxideEngine = () => process.env.DYNAMODB_ENGINE !== "moto" && "path" in findDynoxide();

/** Runs one of the project's scripts (as `npm run …` would) against this file's runtime. */
const runScript = (script: string, ...args: string[]) =>
  execFileSync(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: ROOT,
    env: { ...process.env, CREDENTIALS_FILE: ".local/credentials.e2e.json" },
  }).toString();

/** End to end: `npm start`'s own script, its engines, its bootstrap and sample data, over HTTP. */
describe("the local runtime (npm start)", () => {
  let child: ChildProcess;
  let output = "";
  let creds: Credentials;

  beforeAll(async () => {
    const port = await freePort();
    child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), CREDENTIALS_FILE: ".local/credentials.e2e.json" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (output.includes("Ctrl-C stops")) {
          clearInterval(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`npm start exited early:\n${output}`));
        }
      }, 100);
    });
    creds = JSON.parse(readFileSync(join(ROOT, ".local/credentials.e2e.json"), "utf8")) as Credentials;
    expect(creds.baseUrl).toBe(`http://127.0.0.1:${port}`);
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("writes credentials for demo and other, with writer, reader and admin keys", () => {
    expect(creds.workspaces.map((w) => w.id)).toEqual(["demo", "other"]);
    for (const ws of creds.workspaces) {
      expect(ws.keys.writer).toMatch(/^alk_[0-9a-f]{16}_/);
      expect(ws.keys.reader).toMatch(/^alk_[0-9a-f]{16}_/);
      expect(ws.keys.admin).toMatch(/^alk_[0-9a-f]{16}_/);
    }
  });

  it("serves the sample log in demo and nothing in other", async () => {
    const [demo, other] = creds.workspaces as [Credentials["workspaces"][0], Credentials["workspaces"][0]];
    const page = await call<{ events: { type: string; actor: { id: string } }[] }>(
      creds,
      "GET",
      "/v1/events",
      {
        key: demo.keys.reader,
      },
    );
    expect(page.status).toBe(200);
    // npm start set demo's export destination through the API: that change is in the log too.
    expect(page.body.events.filter((e) => e.type.startsWith("audit.")).map((e) => e.type)).toEqual([
      "audit.settings_changed",
    ]);
    // npm start created demo's three keys through the core: their apikey.created events come first.
    expect(page.body.events.filter(isSeeded).map((e) => e.type)).toEqual(Array(3).fill("apikey.created"));
    expect(
      page.body.events.filter((e) => !e.type.startsWith("audit.") && !isSeeded(e)).map((e) => e.type),
    ).toEqual([
      "node.added",
      "apikey.rotated",
      "maintenance.ended",
      "maintenance.started",
      "pcap.download",
      "incident.resolved",
      "pcap.started",
      "incident.opened",
    ]);
    // other holds nothing but its keys' creation.
    const empty = await call<{ events: { type: string }[] }>(creds, "GET", "/v1/events", {
      key: other.keys.reader,
    });
    expect(empty.body.events.filter((e) => !isSeeded(e))).toEqual([]);
    expect(empty.body.events.map((e) => e.type)).toEqual(Array(3).fill("apikey.created"));
  });

  it("records what a client posts, with its IP normalised", async () => {
    const [demo] = creds.workspaces as [Credentials["workspaces"][0]];
    const posted = await call<{ id: string }>(creds, "POST", "/v1/events", {
      key: demo.keys.writer,
      body: {
        type: "auth.login",
        actor: { type: "user", id: "carol" },
        sourceIp: "2001:DB8::1",
        context: {},
      },
    });
    expect(posted.status).toBe(201);
    const got = await call<{ sourceIp: string }>(creds, "GET", `/v1/events/${posted.body.id}`, {
      key: demo.keys.reader,
    });
    expect(got.body.sourceIp).toBe("2001:db8::1");
  });

  it("lets an operator create a workspace with the CLI, whose admin key then works", async () => {
    const cli = (...args: string[]) => runScript("scripts/admin.ts", ...args);
    const created = cli("create-workspace", "acme-e2e", "--plan", "enterprise");
    const token = /admin key[^:]*: (alk_\S+)/.exec(created)?.[1];
    expect(token).toMatch(/^alk_[0-9a-f]{16}_/);
    const settings = await call(creds, "GET", "/v1/settings", { key: token });
    expect(settings.body).toEqual({
      workspaceId: "acme-e2e",
      plan: "enterprise",
      retentionDays: 365,
      retentionDaysAllowed: { min: 30, max: 365 },
      exportDestination: null,
    });
    expect(cli("list-workspaces")).toMatch(/acme-e2e.*enterprise.*365/);
    expect(() => cli("create-workspace", "acme-e2e", "--plan", "enterprise")).toThrow(/already exists/);
  });

  it("runs the nightly export for a given day with npm run export:nightly, and copies it to demo's own bucket", async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const out = runScript("scripts/export-nightly.ts", "--date", yesterday);
    // demo is enterprise: its day is written (usually empty: the sample log is recorded today).
    expect(out).toMatch(
      new RegExp(
        `${yesterday}\\s+demo\\s+created\\s+\\d+ events\\s+exports/demo/\\S+\\s+→ own bucket: delivered`,
      ),
    );
    const again = runScript("scripts/export-nightly.ts", "--date", yesterday);
    expect(again).toMatch(/demo\s+exists/);
    const local = creds.local;
    const { s3 } = localClients(localEnv({ aws: local.endpoint, dynamodb: local.dynamoEndpoint }));
    const key = `exports/demo/${yesterday.replaceAll("-", "/")}/manifest.json`;
    const bytes = async (bucket: string, k: string) =>
      Buffer.from(
        await (
          (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }))).Body as {
            transformToByteArray(): Promise<Uint8Array>;
          }
        ).transformToByteArray(),
      );
    expect(await bytes(local.customerBucket, `siem/${key}`)).toEqual(await bytes(local.exportBucket, key));
  });

  it("exports through the SQS queue and the worker, as deployed", async () => {
    const [demo] = creds.workspaces as [Credentials["workspaces"][0]];
    const created = await call<{ id: string }>(creds, "POST", "/v1/exports", {
      key: demo.keys.reader,
      body: { format: "csv", type: "pcap.*" },
    });
    expect(created.status).toBe(202);
    // Another process works the queue: wait for it (bounded), there is no clock to move here.
    let view: { status: string; url?: string; eventCount?: number } = { status: "pending" };
    for (let i = 0; i < 100 && (view.status === "pending" || view.status === "running"); i++) {
      await new Promise((r) => setTimeout(r, 200));
      view = (
        await call<typeof view>(creds, "GET", `/v1/exports/${created.body.id}`, { key: demo.keys.reader })
      ).body;
    }
    expect(view.status).toBe("ready");
    expect(view.eventCount).toBe(2);
    const csv = await (await fetch(view.url as string)).text();
    expect(csv.split("\r\n").filter(Boolean)).toHaveLength(3);
  });

  it("runs DynamoDB on Dynoxide apart from moto, or says loudly that it fell back to moto's", () => {
    if (findDynoxideEngine()) {
      expect(output).toMatch(/dynoxide DynamoDB on http:\/\/127\.0\.0\.1:\d+, moto on/);
      expect(creds.local.dynamoEndpoint).not.toBe(creds.local.endpoint);
    } else {
      expect(output).toMatch(/WARNING: falling back to moto's DynamoDB/);
      expect(output).toMatch(/moto DynamoDB on http:\/\/127\.0\.0\.1:\d+, moto on/);
    }
  });

  it("stops with its engine children on SIGINT, leaving no orphan", async () => {
    const motoPort = /moto on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    const dynamoPort = /DynamoDB on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    expect(motoPort).toMatch(/^\d+$/);
    expect(dynamoPort).toMatch(/^\d+$/);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${motoPort}/moto-api/`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${dynamoPort}/`, { method: "POST" })).rejects.toThrow();
  });
});
