import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leafDataOf, sealWorkspace } from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import { SEAL_SETTLE_MS } from "../../functions/shared/ports.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import type { BundleHeader, BundleTrailer } from "../../functions/shared/tlog/bundle.js";
import { leafHash, rootFromMultiProof, verifyConsistency } from "../../functions/shared/tlog/merkle.js";
import { openNote, parseCheckpoint, parseVerifierKey } from "../../functions/shared/tlog/note.js";
import { verifyBundle } from "../../functions/shared/tlog/verify.js";
import {
  call,
  rewriteStoredEvent,
  startApi,
  type TestApi,
  type TestWorkspace,
  violationsAbout,
  workspace,
} from "./harness.js";

const T0 = "2026-11-30T08:00:00.000Z";

/** Reads the bundle as an auditor would, with the tree library only (the verifier has its own tests). */
function parseBundle(bytes: Buffer) {
  const lines = gunzipSync(bytes)
    .toString()
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  return {
    header: lines[0] as BundleHeader,
    entries: lines.slice(1, -1) as { index: number; event: StoredEvent }[],
    trailer: lines.at(-1) as BundleTrailer,
  };
}

describe("evidence bundles (POST /v1/exports, format evidence)", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let key: string;
  // Only this file's workspace: runSealer would also walk every other test file's workspaces.
  const seal = () => sealWorkspace(logDeps(api.deps, api.dynamo), ws.id, api.clock.now());

  async function exportBundle(body: Record<string, unknown>) {
    const created = await call<{ id: string; status: string; gzip: boolean }>(api, "POST", "/v1/exports", {
      key: ws.keys.reader,
      body: { format: "evidence", ...body },
    });
    expect(created.status).toBe(202);
    expect(created.body.gzip).toBe(true);
    await api.runQueuedExports();
    const got = await call<{ status: string; url: string; eventCount: number; error?: string }>(
      api,
      "GET",
      `/v1/exports/${created.body.id}`,
      { key: ws.keys.reader },
    );
    expect(got.body.error).toBeUndefined();
    expect(got.body.status).toBe("ready");
    return { ...got.body, bytes: Buffer.from(await (await fetch(got.body.url)).arrayBuffer()) };
  }

  beforeAll(async () => {
    api = await startApi({ now: T0 });
    ws = await workspace("evid");
    for (let m = 0; m < 5; m++) {
      const events = Array.from({ length: 60 }, (_, i) => ({
        id: `ev-${m}-${String(i).padStart(3, "0")}`,
        type: "maintenance.created",
        actor: { type: "user", id: "ops@acme.example" },
        context: { windowId: `w${m}-${i}` },
      }));
      expect((await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: { events } })).status).toBe(
        200,
      );
      api.clock.advance(60_000);
    }
    api.clock.advance(SEAL_SETTLE_MS);
    await seal();
    key = (await call<{ verifierKey: string }>(api, "GET", "/v1/log/key", { key: ws.keys.reader })).body
      .verifierKey;
  });
  afterAll(() => api.close());

  it("holds exactly the sealed events of the span at their indexes, and its range proof gives the signed root", async () => {
    const bundle = await exportBundle({
      since: "2026-11-30T08:01:00.000Z",
      until: "2026-11-30T08:03:00.000Z",
    });
    const { header, entries, trailer } = parseBundle(bundle.bytes);
    expect(header).toMatchObject({
      format: "audit-log-evidence/v1",
      workspace: ws.id,
      // Leaves 0–2 are the workspace's keys' apikey.created events, at its creation.
      range: { start: 63, end: 183 },
      count: 120,
    });
    expect(entries.map((e) => e.index)).toEqual(Array.from({ length: 120 }, (_, i) => 63 + i));
    expect(entries[0]?.event.id).toBe("ev-1-000");
    expect(entries.at(-1)?.event.id).toBe("ev-2-059");
    expect(bundle.eventCount).toBe(120);
    const cp = parseCheckpoint(openNote(header.checkpoint, [parseVerifierKey(key)]).text);
    const leaves = entries.map((e) => ({ index: e.index, hash: leafHash(leafDataOf(e.event)) }));
    const proof = trailer.proof.map((h) => Buffer.from(h, "base64"));
    expect(rootFromMultiProof(cp.size, leaves, proof).equals(cp.root)).toBe(true);
    // and the offline verifier accepts the service's own file, with the pinned key
    const report = await verifyBundle(bundle.bytes, { verifierKeys: [key] });
    expect(report.messages).toEqual([]);
    expect(report).toMatchObject({ ok: true, exitCode: 0, eventsVerified: 120 });
  });

  it("carries a consistency proof from a size the caller trusts, and leaves out what no checkpoint covers yet", async () => {
    const older = parseCheckpoint(
      openNote(
        (await call<{ checkpoint: string }>(api, "GET", "/v1/events/ev-0-000/proof", { key: ws.keys.reader }))
          .body.checkpoint,
        [parseVerifierKey(key)],
      ).text,
    );
    // new events after the latest checkpoint: not in the bundle
    await call(api, "POST", "/v1/events", {
      key: ws.keys.writer,
      body: { id: "unsealed-1", type: "node.added", actor: { type: "system", id: "x" }, context: {} },
    });
    const bundle = await exportBundle({ trustedSize: older.size });
    const { header, entries, trailer } = parseBundle(bundle.bytes);
    expect(entries.some((e) => e.event.id === "unsealed-1")).toBe(false);
    const cp = parseCheckpoint(openNote(header.checkpoint, [parseVerifierKey(key)]).text);
    expect(header.range?.start).toBe(0);
    expect(trailer.consistency).toMatchObject({ from: older.size, to: cp.size });
    verifyConsistency(
      older.size,
      cp.size,
      (trailer.consistency?.proof ?? []).map((h) => Buffer.from(h, "base64")),
      older.root,
      cp.root,
    );
  });

  it("refuses filters other than since and until, and a trusted size on other formats, with 400", async () => {
    for (const body of [
      { format: "evidence", type: "node.added" },
      { format: "evidence", actor: "ops@acme.example" },
      { format: "json", trustedSize: 3 },
      { format: "evidence", trustedSize: 0 },
    ]) {
      const res = await call(api, "POST", "/v1/exports", { key: ws.keys.reader, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    }
  });

  it("an event rewritten after sealing (its hash recomputed) fails the export, reported in the operator log", async () => {
    await rewriteStoredEvent(
      api.dynamo,
      ws.id,
      "ev-1-030",
      (doc) => {
        doc.actor.id = "mallory@acme.example";
      },
      { rehash: true },
    );
    const created = await call<{ id: string }>(api, "POST", "/v1/exports", {
      key: ws.keys.reader,
      body: { format: "evidence", since: "2026-11-30T08:01:00.000Z", until: "2026-11-30T08:03:00.000Z" },
    });
    await api.runQueuedExports();
    const got = await call<{ status: string; error?: string }>(api, "GET", `/v1/exports/${created.body.id}`, {
      key: ws.keys.reader,
    });
    expect(got.body.status).toBe("failed");
    expect(got.body.error).toMatch(/leaves \[63, 183\) are not the tree's/);
    const violations = await violationsAbout(api.deps, ws.id);
    expect(violations).toContainEqual(
      expect.objectContaining({
        kind: "item_modified",
        workspace: ws.id,
        detail: expect.stringContaining(created.body.id),
      }),
    );
  });
});
