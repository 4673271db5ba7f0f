import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../functions/shared/canonical.js";

import { sampleLog } from "../../scripts/lib/sample.js";
import { call, isSeeded, startApi, type TestApi, type TestWorkspace, workspace } from "./harness.js";

describe("the product page's sample log", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const samples = sampleLog();

  beforeAll(async () => {
    api = await startApi();
    // Created a minute before the first sample: its keys' apikey.created events come first.
    const first = Math.min(...samples.map((sample) => Date.parse(sample.occurredAt)));
    ws = await workspace("sample", { now: new Date(first - 60_000) });
    // Prepare: each event is posted when the sample says it happened (frozen clock).
    for (const sample of samples) {
      api.clock.set(sample.occurredAt);
      const res = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: sample });
      expect(res.status).toBe(201);
    }
    api.clock.set("2026-03-09T18:00:00.000Z");
  });
  afterAll(() => api.close());

  it("round-trips all 8 events field for field, newest first", async () => {
    // Act
    const res = await call<{ events: Record<string, unknown>[]; nextCursor: string | null }>(
      api,
      "GET",
      "/v1/events",
      {
        key: ws.keys.reader,
      },
    );

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    const sampled = res.body.events.filter((e) => !isSeeded(e));
    expect(sampled.map((e) => e.id)).toEqual([...samples].reverse().map((s) => s.id));
    expect(res.body.events.slice(samples.length).map((e) => e.type)).toEqual(Array(3).fill("apikey.created"));
    for (const stored of sampled) {
      const sample = samples.find((s) => s.id === stored.id);
      const { hash, recordedAt, category, outcome, ...rest } = stored;
      expect(rest).toEqual(sample);
      expect(outcome).toBe("success");
      expect(recordedAt).toBe(sample?.occurredAt);
      expect(category).toBe(sample?.type.split(".")[0]);
      const { hash: _h, ...withoutHash } = stored;
      expect(hash).toBe(sha256Hex(canonicalJson(withoutHash)));
    }
  });

  it("serves each event by id", async () => {
    for (const sample of samples) {
      const res = await call<Record<string, unknown>>(api, "GET", `/v1/events/${sample.id}`, {
        key: ws.keys.reader,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ...sample, recordedAt: sample.occurredAt });
    }
  });

  it("answers the sample's own questions: system events on nyc-edge-01, alice's downloads", async () => {
    const system = await call<{ events: { id: string }[] }>(
      api,
      "GET",
      "/v1/events?node=nyc-edge-01&actor=system",
      {
        key: ws.keys.reader,
      },
    );
    expect(system.body.events.map((e) => e.id)).toEqual([
      "sample-03-incident-resolved",
      "sample-02-pcap-started",
      "sample-01-incident-opened",
    ]);
    const downloads = await call<{ events: { id: string; sourceIp: string }[] }>(
      api,
      "GET",
      "/v1/events?actor=alice%40acme.example&type=pcap.*",
      { key: ws.keys.reader },
    );
    expect(downloads.body.events).toEqual([
      expect.objectContaining({ id: "sample-04-pcap-download", sourceIp: "203.0.113.42" }),
    ]);
  });
});
