import { generateKeyPairSync, sign } from "node:crypto";
import { GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkpointKey,
  type LogDeps,
  runSealer,
  sealWorkspace,
  tileKey,
} from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { SEAL_SETTLE_MS } from "../../functions/shared/ports.js";
import { OPERATOR_LOG } from "../../functions/shared/table.js";
import {
  formatCheckpoint,
  keyIdOfSpki,
  NoteError,
  openNote,
  parseVerifierKey,
  signNote,
  splitNote,
} from "../../functions/shared/tlog/note.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import {
  call,
  engineEnv,
  startApi,
  type TestApi,
  type TestWorkspace,
  violationsAbout,
  workspace,
} from "./harness.js";

const T0 = "2026-11-30T14:00:00.000Z";

/**
 * The tree's objects replaced by a new version, as someone with write access to the bucket could
 * (Object Lock keeps the old version; it does not stop a new one on the same key).
 */
describe("a tile or checkpoint object replaced by a new version", () => {
  let api: TestApi;
  let log: LogDeps;
  let ws: TestWorkspace;
  const env = engineEnv();
  const { s3 } = localClients(env);
  const replace = (key: string, body: Buffer) =>
    s3.send(new PutObjectCommand({ Bucket: env.exportBucket, Key: key, Body: body }));
  const violations = () => violationsAbout(api.deps, ws.id);

  beforeAll(async () => {
    api = await startApi({ now: T0 });
    log = logDeps(api.deps, api.dynamo);
    ws = await workspace("tamper-obj");
    for (let b = 0; b < 3; b++) {
      const events = Array.from({ length: 100 }, (_, i) => ({
        id: `t-${b}-${String(i).padStart(3, "0")}`,
        type: "incident.opened",
        actor: { type: "system", id: "detector" },
        context: { incidentId: `inc-${b}-${i}` },
      }));
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: { events } })).status).toBe(
        200,
      );
    }
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await sealWorkspace(log, ws.id, api.clock.now());
  });
  afterAll(() => api.close());

  it("a replaced full tile: the proof route refuses to serve a proof that does not verify, and names the leaf", async () => {
    expect((await call(api, "GET", "/v1/events/t-0-005/proof", { key: ws.keys.reader })).status).toBe(200);
    const key = tileKey(ws.id, { level: 0, n: 0, width: 256 });
    const original = Buffer.from(
      (await (
        await s3.send(new GetObjectCommand({ Bucket: env.exportBucket, Key: key }))
      ).Body?.transformToByteArray()) as Uint8Array,
    );
    const forged = Buffer.from(original);
    // another leaf's hash: the target is still found, its proof no longer holds
    forged.writeUInt8((forged.readUInt8(200 * 32) + 1) % 256, 200 * 32);
    await replace(key, forged);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: env.exportBucket, Prefix: key }));
    expect(versions.Versions).toHaveLength(2); // the locked original is still there
    const res = await call(api, "GET", "/v1/events/t-0-005/proof", { key: ws.keys.reader });
    expect(res.status).toBe(500);
    expect(await violations()).toContainEqual(
      expect.objectContaining({
        kind: "tile_mismatch",
        // Leaves 0–2 are the workspace's keys' apikey.created events.
        detail: expect.stringMatching(/do not prove leaf 8 \(event t-0-005\)/),
      }),
    );
    await replace(key, original);
  });

  it("a replaced edge tile: the sealer stops sealing that workspace and reports it", async () => {
    const edge = tileKey(ws.id, { level: 0, n: 1, width: 47 });
    await replace(edge, Buffer.alloc(47 * 32, 7));
    await call(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { id: "after-1", type: "node.added", actor: { type: "system", id: "x" }, context: {} },
    });
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    await expect(sealWorkspace(log, ws.id, api.clock.now())).rejects.toThrow(/edge tiles of tree size 303/);
    expect(await violations()).toContainEqual(
      expect.objectContaining({ kind: "tile_mismatch", detail: expect.stringContaining("tree size 303") }),
    );
    expect((await log.log.getState(ws.id))?.size).toBe(303);

    // The scheduled run goes on with the other workspaces (listed here: just two), then fails loudly.
    const healthy = await workspace("tamper-ok");
    await call(api, "POST", "/v1/events", {
      key: healthy.keys.writer,
      body: { id: "ok-1", type: "node.added", actor: { type: "system", id: "x" }, context: {} },
    });
    api.clock.advance(SEAL_SETTLE_MS + 1_000);
    const control = {
      ...log.control,
      listWorkspaces: async () =>
        [ws, healthy].map((w) => ({
          workspaceId: w.id,
          plan: "per-node" as const,
          retentionDays: 90,
          createdAt: T0,
        })),
    };
    const run = await runSealer({ ...log, control }, api.clock.now());
    expect(run.failed).toEqual([ws.id]);
    // Out of time before it starts: every workspace is left to the next run, and counted for the alarm.
    const late = await runSealer({ ...log, control }, api.clock.now(), () => true);
    expect(late).toMatchObject({ outcomes: [], failed: [] });
    expect([...late.skipped].sort()).toEqual([ws.id, healthy.id, OPERATOR_LOG].sort());
    expect((await log.log.getState(healthy.id))?.size).toBe(4); // its keys' 3 apikey.created, and ok-1
  });

  it("a replaced checkpoint object, signed by another key, does not open with the pinned key", async () => {
    const state = await log.log.getState(ws.id);
    const verifier = parseVerifierKey(
      (await call<{ verifierKey: string }>(api, "GET", "/v1/log/key", { key: ws.keys.reader })).body
        .verifierKey,
    );
    const key = checkpointKey(ws.id, state?.size as number, state?.checkpointAt as string);
    const stored = (await (
      await s3.send(new GetObjectCommand({ Bucket: env.exportBucket, Key: key }))
    ).Body?.transformToString()) as string;
    expect(openNote(stored, [verifier]).text).toBe(splitNote(state?.checkpoint as string).text);
    // A forger with another key, under the same key name, claiming a shorter tree.
    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spki = other.publicKey.export({ format: "der", type: "spki" });
    const forged = await signNote(
      formatCheckpoint({ origin: `flowtriq.com/audit-log/test/${ws.id}`, size: 10, root: Buffer.alloc(32) }),
      [
        {
          name: verifier.name,
          keyId: keyIdOfSpki(spki),
          sign: async (t) => sign("sha256", t, { key: other.privateKey, dsaEncoding: "der" }),
        },
      ],
    );
    await replace(key, Buffer.from(forged));
    const now = (await (
      await s3.send(new GetObjectCommand({ Bucket: env.exportBucket, Key: key }))
    ).Body?.transformToString()) as string;
    expect(() => openNote(now, [verifier])).toThrow(NoteError);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: env.exportBucket, Prefix: key }));
    expect(versions.Versions).toHaveLength(2);
  });
});
