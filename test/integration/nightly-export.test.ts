import { gunzipSync } from "node:zlib";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHandler } from "../../functions/nightly-export/handler.js";
import { S3ArchiveStore } from "../../functions/shared/adapters/s3-archive-store.js";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";
import { sealWorkspace } from "../../functions/shared/core/log.js";
import { exportDay } from "../../functions/shared/core/nightly-export.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { merkleRoot } from "../../functions/shared/merkle.js";
import { leafHash, ProofError, rootFromMultiProof } from "../../functions/shared/tlog/merkle.js";
import { parseCheckpoint, splitNote } from "../../functions/shared/tlog/note.js";

import { localClients } from "../../scripts/lib/bootstrap.js";
import {
  call,
  callFrom,
  engineEnv,
  listAll,
  rewriteStoredEvent,
  startApi,
  type TestApi,
  type TestWorkspace,
  violationsAbout,
  workspace,
} from "./harness.js";

interface Manifest {
  workspace: string;
  day: string;
  eventCount: number;
  firstRecordedAt: string | null;
  lastRecordedAt: string | null;
  data: { key: string; sha256: string; bytes: number };
  eventHashes: { merkleRoot: string };
  previousManifestSha256: string | null;
  log: { range: { start: number; end: number }; checkpoint: string; proof: string[] } | null;
  retainUntil: string;
}

// moto enforces Object Lock against the real clock, so the exported days are recent real days.
const DAY_MS = 86_400_000;
const utcDay = (offsetDays: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + offsetDays * DAY_MS);
};
const D = utcDay(-3); // the exported day
const iso = (base: Date, ms = 0) => new Date(base.getTime() + ms).toISOString();
const ymd = (base: Date) => iso(base).slice(0, 10);
const path = (base: Date) => ymd(base).replaceAll("-", "/");

describe("nightly export to the Object Lock bucket", () => {
  let api: TestApi;
  let enterprise: TestWorkspace;
  let perNode: TestWorkspace;
  const s3 = localClients(engineEnv()).s3;
  const bucket = engineEnv().exportBucket;
  // No backoff waits: another test file's workspace may have a destination that is down.
  const run = (time: string) =>
    makeHandler(api.deps, { archive: new S3ArchiveStore(s3, bucket), sleep: async () => {} })({ time });
  const read = async (key: string) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(
      await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  };

  beforeAll(async () => {
    api = await startApi({ now: iso(D, 9 * 3_600_000) });
    enterprise = await workspace("ent", {
      plan: "enterprise",
      retentionDays: 200,
      now: new Date(D.getTime() - 5 * DAY_MS),
    });
    perNode = await workspace("pn");
    for (const [i, ws] of [enterprise, perNode, enterprise, enterprise].entries()) {
      api.clock.advance(3_600_000);
      const body = {
        id: `n-${i}`,
        type: "node.added",
        actor: { type: "user", id: "alice" },
        context: { note: 'a "quoted", comma\nline' },
      };
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body })).status).toBe(201);
    }
    // One event just after midnight belongs to the next day.
    api.clock.set(iso(D, DAY_MS));
    await call(api, "POST", "/v1/events", {
      key: enterprise.keys.writer,
      body: { id: "next-day", type: "node.added", actor: { type: "user", id: "alice" } },
    });
    api.clock.set(iso(D, DAY_MS + 900_000));
  });
  afterAll(() => api.close());

  const prefix = () => `exports/${enterprise.id}/${path(D)}/`;

  it("writes the previous UTC day of each enterprise workspace, with a manifest that verifies", async () => {
    const { day, results } = await run(iso(D, DAY_MS + 900_000));
    expect(day).toBe(ymd(D));
    const mine = results.find((r) => r.workspaceId === enterprise.id);
    expect(mine).toEqual({
      workspaceId: enterprise.id,
      day,
      status: "created",
      eventCount: 3,
      manifestKey: `${prefix()}manifest.json`,
      dataKey: `${prefix()}events.ndjson.gz`,
      dataSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(results.some((r) => r.workspaceId === perNode.id)).toBe(false);

    const manifest = JSON.parse((await read(`${prefix()}manifest.json`)).toString()) as Manifest;
    const data = await read(`${prefix()}events.ndjson.gz`);
    expect(mine?.dataSha256).toBe(sha256Hex(data));
    const lines = gunzipSync(data)
      .toString()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((e) => e.id)).toEqual(["n-0", "n-2", "n-3"]);
    for (const event of lines) {
      const { hash, ...rest } = event;
      expect(hash).toBe(sha256Hex(canonicalJson(rest)));
      expect((event.context as { note: string }).note).toBe('a "quoted", comma\nline');
    }
    expect(manifest).toMatchObject({
      workspace: enterprise.id,
      day: ymd(D),
      eventCount: 3,
      firstRecordedAt: iso(D, 10 * 3_600_000),
      lastRecordedAt: iso(D, 13 * 3_600_000),
      data: { key: `${prefix()}events.ndjson.gz`, sha256: sha256Hex(data), bytes: data.length },
      eventHashes: { merkleRoot: merkleRoot(lines.map((e) => String(e.hash))) },
      previousManifestSha256: null,
    });
    // The day is exactly leaves [start, end) of the signed tree: the range proof gives its root.
    const log = manifest.log as NonNullable<Manifest["log"]>;
    expect(log.range.end - log.range.start).toBe(3);
    const checkpoint = parseCheckpoint(splitNote(log.checkpoint).text);
    expect(checkpoint.origin).toBe(`flowtriq.com/audit-log/test/${enterprise.id}`);
    const leaves = lines.map((event, i) => {
      const { hash: _hash, ...rest } = event;
      return { index: log.range.start + i, hash: leafHash(Buffer.from(canonicalJson(rest))) };
    });
    const proof = log.proof.map((h) => Buffer.from(h, "base64"));
    expect(rootFromMultiProof(checkpoint.size, leaves, proof).equals(checkpoint.root)).toBe(true);
    // one event short: the proof does not fit
    expect(() => rootFromMultiProof(checkpoint.size, leaves.slice(1), proof)).toThrow(ProofError);
  });

  it("locks both objects in COMPLIANCE mode until the day plus the workspace's retention", async () => {
    for (const name of ["events.ndjson.gz", "manifest.json"]) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix()}${name}` }));
      expect(head.ObjectLockMode).toBe("COMPLIANCE");
      expect(head.ObjectLockRetainUntilDate?.toISOString()).toBe(iso(D, 200 * DAY_MS));
    }
  });

  it("refuses to delete a locked object version", async () => {
    const versions = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${prefix()}manifest.json` }),
    );
    const versionId = versions.Versions?.[0]?.VersionId;
    expect(versionId).toMatch(/.+/);
    await expect(
      s3.send(
        new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix()}manifest.json`, VersionId: versionId }),
      ),
    ).rejects.toMatchObject({ name: "AccessDenied" });
  });

  it("is a no-op when run again for the same day: no second version", async () => {
    const again = await run(iso(D, DAY_MS + 3 * 3_600_000));
    expect(again.results.find((r) => r.workspaceId === enterprise.id)?.status).toBe("exists");
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix() }));
    expect(versions.Versions?.map((v) => v.Key).sort()).toEqual([
      `${prefix()}events.ndjson.gz`,
      `${prefix()}manifest.json`,
    ]);
  });

  it("writes a manifest with count 0 for an empty day, chained to the previous day's", async () => {
    api.clock.set(iso(D, 3 * DAY_MS + 900_000));
    await run(iso(D, 2 * DAY_MS + 900_000)); // D+1: the one after-midnight event
    const { results } = await run(iso(D, 3 * DAY_MS + 900_000)); // D+2: nothing
    expect(results.find((r) => r.workspaceId === enterprise.id)?.eventCount).toBe(0);
    const dayAfter = await read(`exports/${enterprise.id}/${path(utcDay(-2))}/manifest.json`);
    const twoDaysAfter = JSON.parse(
      (await read(`exports/${enterprise.id}/${path(utcDay(-1))}/manifest.json`)).toString(),
    ) as Manifest;
    expect(JSON.parse(dayAfter.toString()).previousManifestSha256).toBe(
      sha256Hex(await read(`${prefix()}manifest.json`)),
    );
    expect(twoDaysAfter).toMatchObject({
      eventCount: 0,
      firstRecordedAt: null,
      lastRecordedAt: null,
      previousManifestSha256: sha256Hex(dayAfter),
    });
  });

  it("lists the workspace's nightly exports with chained manifests, and names the missing days", async () => {
    const from = ymd(utcDay(-4));
    const to = ymd(utcDay(-1));
    const res = await callFrom<{
      exports: { day: string; manifestSha256: string; manifest: Manifest }[];
      missingDays: string[];
    }>("127.0.0.9", api, "GET", `/v1/exports/nightly?from=${from}&to=${to}`, { key: enterprise.keys.reader });

    expect(res.status).toBe(200);
    expect(res.body.exports.map((e) => e.day)).toEqual([ymd(D), ymd(utcDay(-2)), ymd(utcDay(-1))]);
    expect(res.body.missingDays).toEqual([from]);
    const [first, second, third] = res.body.exports;
    expect(first?.manifestSha256).toBe(sha256Hex(await read(`${prefix()}manifest.json`)));
    expect(second?.manifest.previousManifestSha256).toBe(first?.manifestSha256);
    expect(third?.manifest.previousManifestSha256).toBe(second?.manifestSha256);

    const queried = (await listAll(api, enterprise.keys.reader, "type=audit.queried&sourceIp=127.0.0.9")) as {
      context: unknown;
    }[];
    expect(queried.map((e) => e.context)).toEqual([{ route: "list-nightly-exports", filters: { from, to } }]);
  });

  it("shows a per-node workspace no exports and no gaps, and refuses a bad range", async () => {
    const none = await call<{ exports: unknown[]; missingDays: unknown[] }>(
      api,
      "GET",
      "/v1/exports/nightly",
      { key: perNode.keys.reader },
    );
    expect(none.body).toEqual({ exports: [], missingDays: [] });
    const bad = await call(api, "GET", `/v1/exports/nightly?from=${ymd(utcDay(-1))}&to=${ymd(utcDay(-3))}`, {
      key: enterprise.keys.reader,
    });
    expect(bad.status).toBe(400);
    expect(
      (await call(api, "GET", "/v1/exports/nightly?from=yesterday", { key: enterprise.keys.reader })).status,
    ).toBe(400);
  });
});

describe("a nightly day whose events changed after sealing", () => {
  let api: TestApi;
  const s3 = localClients(engineEnv()).s3;
  const bucket = engineEnv().exportBucket;
  const day = utcDay(-6);

  beforeAll(async () => {
    api = await startApi({ now: iso(day, 9 * 3_600_000) });
  });
  afterAll(() => api.close());

  it("is refused, no manifest is written, and the operator log names the day's leaves", async () => {
    const ws = await workspace("ent-tamper", { plan: "enterprise", now: new Date(day.getTime() - DAY_MS) });
    for (let i = 0; i < 3; i++) {
      api.clock.advance(60_000);
      const body = { id: `dt-${i}`, type: "node.added", actor: { type: "user", id: "alice" } };
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body })).status).toBe(201);
    }
    api.clock.set(iso(day, DAY_MS + 900_000));
    const log = logDeps(api.deps, api.dynamo);
    await sealWorkspace(log, ws.id, api.clock.now());
    // An operator with table access rewrites one sealed event (its hash recomputed, so only the tree can tell).
    await rewriteStoredEvent(
      api.dynamo,
      ws.id,
      "dt-1",
      (doc) => {
        doc.actor.id = "mallory";
      },
      { rehash: true },
    );

    const deps = {
      ...api.deps,
      ...log,
      archive: new S3ArchiveStore(s3, bucket),
      openDestination: () => {
        throw new Error("no destination");
      },
    };
    const record = {
      workspaceId: ws.id,
      plan: "enterprise" as const,
      retentionDays: 365,
      createdAt: iso(day, -DAY_MS),
    };
    await expect(exportDay(deps, record, ymd(day), api.clock.now())).rejects.toThrow(
      /do not give the signed root/,
    );
    await expect(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: `exports/${ws.id}/${path(day)}/manifest.json` })),
    ).rejects.toThrow();
    const violations = await violationsAbout(api.deps, ws.id);
    expect(violations).toContainEqual(
      expect.objectContaining({
        kind: "item_modified",
        workspace: ws.id,
        // The day before holds its keys' three apikey.created events: leaves 0–2.
        detail: expect.stringMatching(/leaves \[3, 6\)/),
      }),
    );
  });
});
