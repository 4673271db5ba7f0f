import { gunzipSync } from "node:zlib";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler } from "../../functions/nightly-export/handler.js";
import { S3ArchiveStore } from "../../functions/shared/adapters/s3-archive-store.js";
import type { DayExport } from "../../functions/shared/core/nightly-export.js";
import { merkleRoot } from "../../functions/shared/merkle.js";
import type { ArchiveStore } from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { bulkLoad } from "../../scripts/lib/bulk-load.js";
import {
  call,
  engineEnv,
  heavyRecord,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  workspace,
} from "./harness.js";

// moto enforces Object Lock against the real clock, so the exported days are recent real days.
const DAY_MS = 86_400_000;
const utcDay = (offsetDays: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offsetDays * DAY_MS);
};
const ymd = (d: Date) => d.toISOString().slice(0, 10);
const prefixOf = (ws: string, d: Date) => `exports/${ws}/${ymd(d).replaceAll("-", "/")}/`;
const FILES = ["events.ndjson.gz", "manifest.json"] as const;

async function read(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

async function readOrUndefined(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    return await read(s3, bucket, key);
  } catch (err: unknown) {
    if ((err as Error).name === "NoSuchKey") return undefined;
    throw err;
  }
}

describe("nightly export to the workspace's own bucket", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const env = engineEnv();
  const { s3, secrets } = localClients(env);
  // Far enough back that other files' nightly runs (days -3 to -1) never catch up on these days.
  const [A, B, C] = [utcDay(-14), utcDay(-13), utcDay(-12)];
  const destination = {
    endpoint: env.endpoint,
    region: "us-east-1",
    bucket: env.customerBucket,
    prefix: "acme-siem/",
    accessKeyId: "test",
    secretAccessKey: "s3cr3t-never-shown",
    forcePathStyle: true,
  };
  const sleeps: number[] = [];
  const run = (day: Date) =>
    makeHandler(api.deps, {
      archive: new S3ArchiveStore(s3, env.exportBucket),
      sleep: async (ms) => void sleeps.push(ms),
    })({ time: new Date(day.getTime() + DAY_MS + 900_000).toISOString() });
  const mine = (results: DayExport[]) => results.find((r) => r.workspaceId === ws.id);

  beforeAll(async () => {
    api = await startApi({ now: new Date(A.getTime() + 9 * 3_600_000).toISOString() });
    ws = await workspace("dest", { plan: "enterprise", now: new Date(A.getTime() - DAY_MS) });
    for (const [i, day] of [A, B, C].entries()) {
      api.clock.set(new Date(day.getTime() + 10 * 3_600_000).toISOString());
      const body = { id: `d-${i}`, type: "node.added", actor: { type: "user", id: "alice" } };
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body })).status).toBe(201);
    }
    api.clock.set(new Date(C.getTime() + DAY_MS + 3_600_000).toISOString());
  });
  afterAll(() => api.close());

  it("takes the destination with PUT /v1/settings: the secret goes to Secrets Manager, the change to the log", async () => {
    const res = await call<{ exportDestination: Record<string, unknown> }>(api, "PUT", "/v1/settings", {
      key: ws.keys.admin,
      body: { exportDestination: destination },
    });
    expect(res.status).toBe(200);
    const { secretAccessKey: _secret, ...shown } = destination;
    expect(res.body.exportDestination).toEqual({ ...shown, updatedAt: api.clock.now().toISOString() });
    const got = await call(api, "GET", "/v1/settings", { key: ws.keys.admin });
    expect(JSON.stringify(got.body)).not.toContain(destination.secretAccessKey);
    expect(got.body.exportDestination).toEqual(res.body.exportDestination);

    const stored = await secrets.send(
      new GetSecretValueCommand({ SecretId: `${env.destinationSecretPrefix}${ws.id}` }),
    );
    expect(stored.SecretString).toBe(destination.secretAccessKey);

    const changes = await listAll(api, ws.keys.reader, "type=audit.settings_changed");
    expect(changes.map((e) => e.context)).toEqual([
      { field: "exportDestination", from: null, to: res.body.exportDestination },
    ]);
    expect(JSON.stringify(changes)).not.toContain(destination.secretAccessKey);
  });

  it("refuses a destination on a per-node workspace, and a malformed one, with 400 and no change", async () => {
    const perNode = await workspace("dest-pn");
    const refused = await call<{ errors: { path: string }[] }>(api, "PUT", "/v1/settings", {
      key: perNode.keys.admin,
      body: { exportDestination: destination },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((e) => e.path)).toEqual(["/exportDestination"]);
    for (const bad of [
      { ...destination, bucket: "Not A Bucket" },
      { ...destination, endpoint: "ftp://example.com" },
      { ...destination, secretAccessKey: "" },
      { ...destination, extra: true },
    ]) {
      const res = await call(api, "PUT", "/v1/settings", {
        key: ws.keys.admin,
        body: { exportDestination: bad },
      });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await listAll(api, ws.keys.reader, "type=audit.settings_changed")).length).toBe(1);
  });

  it("delivers byte-identical files to the destination, under its prefix", async () => {
    const { results } = await run(A);
    expect(mine(results)).toMatchObject({
      status: "created",
      destination: { status: "delivered", attempts: 1 },
    });
    for (const file of FILES) {
      const key = `${prefixOf(ws.id, A)}${file}`;
      const builtIn = await read(s3, env.exportBucket, key);
      expect(await read(s3, env.customerBucket, `acme-siem/${key}`)).toEqual(builtIn);
    }
    // A rerun finds the day at the destination and copies nothing.
    expect(mine((await run(A)).results)).toMatchObject({
      status: "exists",
      destination: { status: "already" },
    });
  });

  it("with the destination's endpoint down, writes the built-in copy, retries, and reports the failure", async () => {
    const down = { ...destination, endpoint: "http://127.0.0.1:9" }; // nothing listens on the discard port
    expect(
      (await call(api, "PUT", "/v1/settings", { key: ws.keys.admin, body: { exportDestination: down } }))
        .status,
    ).toBe(200);
    sleeps.length = 0;

    const { results } = await run(B);
    const result = mine(results);
    expect(result).toMatchObject({
      status: "created",
      eventCount: 1,
      destination: { status: "failed", attempts: 3, error: expect.stringMatching(/ECONNREFUSED|connect/i) },
    });
    expect(sleeps).toEqual([2_000, 10_000]);
    for (const file of FILES) {
      expect(await readOrUndefined(s3, env.exportBucket, `${prefixOf(ws.id, B)}${file}`)).toBeInstanceOf(
        Buffer,
      );
      expect(
        await readOrUndefined(s3, env.customerBucket, `acme-siem/${prefixOf(ws.id, B)}${file}`),
      ).toBeUndefined();
    }
    // Other test files' nightly runs may also meet this workspace's dead endpoint, for their days.
    const failures = (await listAll(api, ws.keys.reader, "type=audit.export_delivery_failed")).filter(
      (e) => (e.context as { day: string }).day === ymd(B),
    );
    expect(failures.map((e) => e.context)).toEqual([
      {
        day: ymd(B),
        destination: { bucket: env.customerBucket, prefix: "acme-siem/", endpoint: down.endpoint },
        attempts: 3,
        error: expect.stringMatching(/ECONNREFUSED|connect/i),
      },
    ]);
  });

  it("catches up on the missed day once the destination works again", async () => {
    expect(
      (
        await call(api, "PUT", "/v1/settings", {
          key: ws.keys.admin,
          body: { exportDestination: destination },
        })
      ).status,
    ).toBe(200);
    const { results } = await run(C);
    expect(mine(results)?.destination).toEqual({ status: "delivered", attempts: 2, caughtUp: [ymd(B)] });
    for (const day of [B, C]) {
      for (const file of FILES) {
        const key = `${prefixOf(ws.id, day)}${file}`;
        expect(await read(s3, env.customerBucket, `acme-siem/${key}`)).toEqual(
          await read(s3, env.exportBucket, key),
        );
      }
    }
  });

  it("removes the destination with null, logged once; removing it again changes nothing", async () => {
    for (let i = 0; i < 2; i++) {
      const res = await call(api, "PUT", "/v1/settings", {
        key: ws.keys.admin,
        body: { exportDestination: null },
      });
      expect(res.status).toBe(200);
      expect(res.body.exportDestination).toBeNull();
    }
    const changes = await listAll(api, ws.keys.reader, "type=audit.settings_changed");
    expect(changes.map((e) => (e.context as { to: unknown }).to)[0]).toBeNull();
    expect(changes.filter((e) => (e.context as { to: unknown }).to === null)).toHaveLength(1);
    // The day the clock is on holds the settings changes: export it once it has ended, as the
    // schedule would (its last events must be sealed, and they are only after the day is over).
    api.clock.advance(DAY_MS);
    const { results } = await run(utcDay(-11));
    expect(mine(results)?.destination).toBeUndefined();
  });
});

/**
 * A run killed half-way, then rerun. Each event carries ~15 KB of incompressible context, so the
 * day's file is two 5 MiB parts and the run can die between them. The kills are faults the engine
 * cannot produce on cue: the archive port throws where the process would have died.
 */
describe("a nightly run killed half-way and run again", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const env = engineEnv();
  const { s3, document } = localClients(env);
  const archive = new S3ArchiveStore(s3, env.exportBucket);
  const K = utcDay(-17);
  const N = 900;
  const dayEvents: StoredEvent[] = [];
  const prefix = () => prefixOf(ws.id, K);
  const run = (store: ArchiveStore) =>
    makeHandler(api.deps, { archive: store, partBytes: 5 * 1024 * 1024, sleep: async () => {} })({
      time: new Date(K.getTime() + DAY_MS + 900_000).toISOString(),
    });
  /** The archive, except that `method` throws for this workspace's keys once `when` says so. */
  const killedAt = <M extends "uploadPart" | "putOnce">(method: M, when: (key: string) => boolean) =>
    Object.assign(Object.create(archive) as ArchiveStore, {
      [method]: async (key: string, ...rest: unknown[]) => {
        if (key.startsWith(prefix()) && when(key)) throw new Error("killed");
        return (archive[method] as (...a: unknown[]) => Promise<unknown>).call(archive, key, ...rest);
      },
    });

  beforeAll(async () => {
    api = await startApi({ now: new Date(K.getTime() + DAY_MS + 900_000).toISOString() });
    ws = await workspace("kill", { plan: "enterprise", now: new Date(K.getTime() - 2 * DAY_MS) });
    const at = (ms: number) => new Date(K.getTime() + ms).toISOString();
    // One event just before the day, N in it, one just after: the file must hold exactly the N.
    const records = [-1, ...Array.from({ length: N }, (_, i) => i * 90_000), DAY_MS].map((ms, i) =>
      heavyRecord(ws.id, `k-${String(i).padStart(4, "0")}`, at(ms), i),
    );
    dayEvents.push(...records.slice(1, -1).map((r) => r.event));
    await bulkLoad(document, env.eventsTable, records);
  });
  afterAll(() => api.close());

  const versions = async () =>
    (
      (await s3.send(new ListObjectVersionsCommand({ Bucket: env.exportBucket, Prefix: prefix() })))
        .Versions ?? []
    )
      .map((v) => v.Key)
      .sort();

  it("dies after the first part: nothing visible, an unfinished upload for the lifecycle rule to abort", async () => {
    let parts = 0;
    await expect(run(killedAt("uploadPart", () => ++parts === 2))).rejects.toThrow(ws.id);
    expect(await versions()).toEqual([]);
    const uploads = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: env.exportBucket, Prefix: prefix() }),
    );
    expect(uploads.Uploads?.map((u) => u.Key)).toEqual([`${prefix()}events.ndjson.gz`]);
  });

  it("dies between the data object and the manifest: the data stands, the manifest is missing", async () => {
    await expect(run(killedAt("putOnce", (key) => key.endsWith("manifest.json")))).rejects.toThrow(ws.id);
    expect(await versions()).toEqual([`${prefix()}events.ndjson.gz`]);
  });

  it("the rerun yields exactly the events of the day, once each, in one version of each object", async () => {
    const { results } = await run(archive);
    expect(results.find((r) => r.workspaceId === ws.id)).toMatchObject({ status: "created", eventCount: N });
    expect(await versions()).toEqual([`${prefix()}events.ndjson.gz`, `${prefix()}manifest.json`]);
    // The day's file was a multipart upload; it is locked like the single-put manifest.
    for (const name of ["events.ndjson.gz", "manifest.json"]) {
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: env.exportBucket, Key: `${prefix()}${name}` }),
      );
      expect(head.ObjectLockMode).toBe("COMPLIANCE");
      expect(head.ObjectLockRetainUntilDate?.toISOString()).toBe(
        new Date(K.getTime() + 365 * DAY_MS).toISOString(),
      );
    }
    const lines = gunzipSync(await read(s3, env.exportBucket, `${prefix()}events.ndjson.gz`))
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as StoredEvent);
    expect(lines.map((e) => e.id)).toEqual(dayEvents.map((e) => e.id));
    expect(lines).toEqual(dayEvents);
    const manifest = JSON.parse(
      (await read(s3, env.exportBucket, `${prefix()}manifest.json`)).toString(),
    ) as {
      eventCount: number;
      eventHashes: { merkleRoot: string };
    };
    expect(manifest.eventCount).toBe(N);
    expect(manifest.eventHashes.merkleRoot).toBe(merkleRoot(dayEvents.map((e) => e.hash)));
  });
});
