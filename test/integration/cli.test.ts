import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../bin/cli/exit.js";
import { eventRow } from "../../bin/cli/format.js";
import type { Io } from "../../bin/cli/io.js";
import { run } from "../../bin/cli/main.js";
import { sealWorkspace } from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { localClients } from "../../scripts/lib/bootstrap.js";
import { freePort, ROOT } from "../../scripts/lib/moto.js";
import { sampleLog } from "../../scripts/lib/sample.js";
import {
  call,
  engineEnv,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  workspace,
} from "./harness.js";

/**
 * `audit-log` against the real API path (the local gateway in front of the handler modules, on
 * Dynoxide and moto): in-process through `run` with the test's frozen clock and a `sleep` that does
 * the test's next step instead of waiting, and once as the real `bin/audit-log.mjs` child process.
 */
const T0 = "2026-03-09T18:00:00.000Z";
/** The node.config_changed batch is recorded at this instant (one frozen millisecond). */
const BATCH_AT = "2026-03-09T17:20:00.000Z";
const SEALED_UNTIL = "2026-03-09T17:30:00.000Z";
/** The workspace's keys' apikey.created events, the first leaves of its tree. */
const SEEDED = 3;

function sink(): { text: string; write(s: string): boolean; once(): unknown } {
  const out = {
    text: "",
    write(s: string) {
      out.text += s;
      return true;
    },
    once: () => out,
  };
  return out;
}

describe("the audit-log CLI against the local API", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  const work = mkdtempSync(join(tmpdir(), "audit-log-cli-"));
  const samples = sampleLog();
  const conn = () => ["--base-url", api.baseUrl, "--key", ws.keys.reader];
  const noWait: Io["sleep"] = async () => {
    throw new Error("this command was not expected to wait");
  };

  async function cli(
    argv: string[],
    options: { sleep?: Io["sleep"]; cwd?: string; signal?: AbortSignal; fetch?: typeof fetch } = {},
  ) {
    const stdout = sink();
    const stderr = sink();
    const code = await run(argv, {
      stdout,
      stderr,
      env: {},
      cwd: options.cwd ?? work,
      fetch: options.fetch ?? fetch,
      now: () => api.clock.now(),
      sleep: options.sleep ?? noWait,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { code, out: stdout.text, err: stderr.text };
  }

  const post = async (body: unknown) => {
    const res = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  };
  const configChange = (id: string) => ({
    id,
    type: "node.config_changed",
    actor: { type: "user", id: "ops@acme.example" },
    node: { id: "fra-core-01" },
    context: { changes: [{ field: "threshold", from: 1, to: 2 }] },
  });

  beforeAll(async () => {
    api = await startApi({ now: T0 });
    ws = await workspace("cli", { now: new Date("2026-03-01T00:00:00Z") });
    for (const sample of samples) {
      api.clock.set(sample.occurredAt);
      await post(sample);
    }
    api.clock.set(BATCH_AT);
    await post({ events: Array.from({ length: 7 }, (_, i) => configChange(`cfg-${i}`)) });
    // Everything so far is settled and sealed into the verifiable log.
    api.clock.set(SEALED_UNTIL);
    await sealWorkspace(logDeps(api.deps, api.dynamo), ws.id, api.clock.now());
    api.clock.set(T0);
  });
  afterAll(async () => {
    await api.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("events: the product page's view as a table, the same rows the API returns", async () => {
    // Act
    const res = await cli(["events", ...conn(), "--type", "pcap.download", "--since", "2026-03-02"]);

    // Assess
    expect(res).toMatchObject({ code: 0, err: "" });
    const expected = (await listAll(
      api,
      ws.keys.reader,
      "type=pcap.download&since=2026-03-02T00:00:00Z",
    )) as unknown as StoredEvent[];
    expect(expected.map((e) => e.id)).toEqual(["sample-04-pcap-download"]);
    const lines = res.out.trimEnd().split("\n");
    expect(lines[0]?.split(/\s{2,}/)).toEqual([
      "Timestamp (UTC)",
      "Event",
      "Actor",
      "Node · Resource",
      "IP",
      "Outcome",
    ]);
    expect(lines.slice(1, -1).map((l) => l.split(/\s{2,}/))).toEqual(expected.map(eventRow));
    expect(lines[1]).toMatch(
      /^2026-03-09 09:52:14 {2}pcap\.download {2}alice@acme\.example {2}nyc-edge-01 · a3f7c2b1 {2}203\.0\.113\.42 {2}success$/,
    );
    expect(lines.at(-1)).toBe("1 event  (type=pcap.download  since=2026-03-02T00:00:00.000Z)");
  });

  it("events: follows nextCursor page by page, as NDJSON and JSON, and stops at --max", async () => {
    // Prepare: every request the CLI makes, passed on to the real fetch.
    const urls: URL[] = [];
    const spy: typeof fetch = (input, init) => {
      urls.push(new URL(String(input)));
      return fetch(input, init);
    };
    const expected = (await listAll(api, ws.keys.reader, "type=node.config_changed")).map((e) => e.id);
    expect(expected).toHaveLength(7);

    // Act
    const nd = await cli(
      ["events", ...conn(), "--type", "node.config_changed", "--page-size", "3", "--ndjson"],
      {
        fetch: spy,
      },
    );
    const json = await cli([
      "events",
      ...conn(),
      "--category",
      "node",
      "--page-size",
      "3",
      "--max",
      "4",
      "--json",
    ]);

    // Assess
    expect(nd.code).toBe(0);
    expect(
      nd.out
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as StoredEvent).id),
    ).toEqual(expected);
    expect(urls.map((u) => [u.searchParams.get("limit"), u.searchParams.has("cursor")])).toEqual([
      ["3", false],
      ["3", true],
      ["3", true],
    ]);
    expect(json.code).toBe(0);
    const nodeEvents = (await listAll(api, ws.keys.reader, "type=node.*")).map((e) => e.id);
    expect((JSON.parse(json.out) as StoredEvent[]).map((e) => e.id)).toEqual(nodeEvents.slice(0, 4));
  });

  it("waits out a 503's Retry-After (no real sleep) and retries; gives up with exit 4 when out of retries", async () => {
    // Prepare: the events Query fails as storage trouble would make it. SDK middleware: no engine
    // can be told to fail one query.
    let faults = 1;
    api.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const table = (args.input as { TableName?: string }).TableName;
        if (faults > 0 && context.commandName === "QueryCommand" && table === engineEnv().eventsTable) {
          faults--;
          throw Object.assign(new Error("injected: the query got no answer"), { name: "TimeoutError" });
        }
        return next(args);
      },
      { step: "initialize", name: "failOneQuery" },
    );
    const waits: number[] = [];
    try {
      // Act
      const ok = await cli(["events", ...conn(), "--type", "pcap.download", "--ndjson"], {
        sleep: async (ms) => void waits.push(ms),
      });
      faults = 1;
      const out = await cli(["events", ...conn(), "--type", "pcap.download", "--retries", "0"]);

      // Assess
      expect(ok.code).toBe(0);
      expect(waits).toEqual([2000]);
      expect(ok.err).toMatch(
        /^audit-log: 503 The service is temporarily unavailable: .*; retrying in 2 s \(1\/3\)\n$/,
      );
      expect((JSON.parse(ok.out) as StoredEvent).id).toBe("sample-04-pcap-download");
      expect(out.code).toBe(EXIT.api);
      expect(out.err).toMatch(
        /^audit-log: 503 The service is temporarily unavailable: .* \(still after 0 retries\)\n$/,
      );
    } finally {
      api.dynamo.middlewareStack.remove("failOneQuery");
    }
  });

  it("says what went wrong in one line, with a distinct exit code for each kind", async () => {
    const closed = await freePort();
    const unknownKey = `${ws.keys.reader.slice(0, 21)}${"A".repeat(43)}`;

    const auth = await cli(["events", "--base-url", api.baseUrl, "--key", unknownKey]);
    const invalid = await cli(["events", ...conn(), "--type", "pcap.nonsense"]);
    const missing = await cli(["export", ...conn(), "--id", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    const down = await cli(["events", "--base-url", `http://127.0.0.1:${closed}`, "--key", ws.keys.reader]);

    expect(auth.code).toBe(EXIT.auth);
    expect(auth.err).toMatch(/^audit-log: 401 [^\n]+ \(key: --key\)\n$/);
    expect(invalid.code).toBe(EXIT.usage);
    expect(invalid.err).toMatch(
      /^audit-log: 400 The request is not valid: \/type: must be a catalogue type[^\n]*\n$/,
    );
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.err).toMatch(/^audit-log: 404 [^\n]+\n$/);
    expect(down.code).toBe(EXIT.network);
    expect(down.err).toBe(
      `audit-log: cannot reach http://127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed} (is the local runtime running? npm start)\n`,
    );
    for (const r of [auth, invalid, missing, down]) expect(r.out).toBe("");
  });

  it("tail: shows the newest lines, then each new event once, oldest first, until Ctrl-C (exit 0)", async () => {
    // Prepare: each wait between polls is the test's next step; the third is Ctrl-C.
    const ctrlC = new AbortController();
    let waits = 0;
    const sleep: Io["sleep"] = async () => {
      waits++;
      if (waits === 1) await post(configChange("tail-1"));
      else if (waits === 2) await post({ events: [configChange("tail-2"), configChange("tail-3")] });
      else ctrlC.abort();
    };

    // Act
    const res = await cli(["tail", ...conn(), "--type", "node.config_changed", "--lines", "3", "--ndjson"], {
      sleep,
      signal: ctrlC.signal,
    });

    // Assess: cfg-0…6 share one millisecond; the lookback re-reads them every poll, shows none twice.
    expect(res.code).toBe(0);
    expect(
      res.out
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as StoredEvent).id),
    ).toEqual(["cfg-4", "cfg-5", "cfg-6", "tail-1", "tail-2", "tail-3"]);
    expect(res.err).toBe(`audit-log: following ${api.baseUrl} (Ctrl-C stops)\n`);
    expect(waits).toBe(3);
  });

  it("tail: leaves out the audit.queried events of its own polls, unless --show-own-queries", async () => {
    const follow = async (extra: string[], id: string) => {
      const ctrlC = new AbortController();
      let waits = 0;
      const res = await cli(["tail", ...conn(), "--lines", "0", "--ndjson", ...extra], {
        signal: ctrlC.signal,
        sleep: async () => {
          if (++waits === 1)
            await post({ ...configChange(id), type: "node.renamed", context: { from: "a", to: "b" } });
          else ctrlC.abort();
        },
      });
      expect(res.code).toBe(0);
      return res.out
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as StoredEvent);
    };

    const quiet = await follow([], "renamed-1");
    const all = await follow(["--show-own-queries"], "renamed-2");

    expect(quiet.map((e) => e.id)).toEqual(["renamed-1"]);
    // Its own reads, each recorded as it ends: the one that read the lookback window at the start
    // (the first read's record shares the frozen millisecond of the start, so it counts as before
    // it), then the event; the poll that found it is recorded after it answered.
    expect(all.map((e) => e.type)).toEqual(["audit.queried", "node.renamed"]);
    expect(all[0]?.userAgent).toMatch(/^audit-log\/[\d.]+ \(tail\) run\/[0-9a-f]{12}$/);
    expect(all[1]?.id).toBe("renamed-2");
  });

  it("tail as the real command (bin/audit-log.mjs): sees an event posted after it started, stops on SIGINT", async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "bin/audit-log.mjs",
        "tail",
        ...conn(),
        "--type",
        "node.removed",
        "--lines",
        "0",
        "--interval",
        "0.05",
        "--ndjson",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    /** Resolves when `test()` holds after some output; fails after 20 s, or if the child ends first. */
    const waitFor = (test: () => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!test()) return;
          clearTimeout(timer);
          child.stdout?.off("data", check);
          child.stderr?.off("data", check);
          resolve();
        };
        const timer = setTimeout(() => reject(new Error(`no ${what} in 20 s; stderr: ${err}`)), 20_000);
        child.stdout?.on("data", check);
        child.stderr?.on("data", check);
        void exited.then(() => reject(new Error(`the CLI exited before ${what}; stderr: ${err}`)));
        check();
      });
    child.stdout?.on("data", (d) => {
      out += d;
    });
    child.stderr?.on("data", (d) => {
      err += d;
    });
    try {
      await waitFor(() => err.includes("(Ctrl-C stops)"), "'following' line");
      await post({ ...configChange("removed-1"), type: "node.removed", context: {} });
      await waitFor(() => out.includes("\n"), "event line");
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(
        out
          .trimEnd()
          .split("\n")
          .map((l) => (JSON.parse(l) as StoredEvent).id),
      ).toEqual(["removed-1"]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  /** A sleep that runs the export worker: the export is done by the CLI's next status poll. */
  const runWorker: Io["sleep"] = async () => void (await api.runQueuedExports());

  it("export CSV: progress, download, SHA-256 checked; every row read back by Python's csv module", async () => {
    const out = join(work, "pcap.csv");

    const res = await cli(["export", ...conn(), "--format", "csv", "--category", "pcap", "--out", out], {
      sleep: runWorker,
    });

    expect(res.code).toBe(0);
    const id = /export ([0-9A-Z]{26}): pending/.exec(res.err)?.[1] as string;
    expect(res.err).toBe(
      `export ${id}: pending\nexport ${id}: ready, 2 events, ${readFileSync(out).length} B\ndownloading ${readFileSync(out).length} B\n`,
    );
    const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
    expect(res.out).toBe(
      `${out}: export ${id}, 2 events, ${readFileSync(out).length} B, SHA-256 ${sha256} (matches the API)\n`,
    );
    const rows = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f: print(json.dumps(list(csv.DictReader(f))))",
        out,
      ]).toString(),
    ) as Record<string, string>[];
    const expected = (await listAll(api, ws.keys.reader, "type=pcap.*")) as unknown as StoredEvent[];
    expect(rows.map((r) => [r.id, r.type, r["actor.id"], r["node.id"], r.sourceIp, r.hash])).toEqual(
      expected.map((e) => [e.id, e.type, e.actor.id, e.node?.id, e.sourceIp ?? "", e.hash]),
    );
    // The API states the same digest (and this GET is one more audited download URL).
    const view = await call<{ sha256: string; eventCount: number }>(api, "GET", `/v1/exports/${id}`, {
      key: ws.keys.reader,
    });
    expect(view.body).toMatchObject({ sha256, eventCount: 2 });
  });

  it("export JSON: named as the API names the download, in the working folder, refusing to overwrite it", async () => {
    const dir = mkdtempSync(join(work, "json-"));
    const args = ["export", ...conn(), "--format", "json", "--type", "incident.opened"];

    const res = await cli(args, { sleep: runWorker, cwd: dir });
    const file = /^(\S+): export/.exec(res.out)?.[1] as string;
    const again = await cli([...args, "--out", file], { cwd: dir });

    expect(res.code).toBe(0);
    expect(file).toMatch(new RegExp(`^${dir}/audit-log-[0-9A-Z]{26}\\.json$`));
    const events = JSON.parse(readFileSync(file, "utf8")) as StoredEvent[];
    expect(events.map((e) => e.id)).toEqual(["sample-01-incident-opened"]);
    expect(again.code).toBe(EXIT.usage);
    expect(again.err).toBe(`audit-log: ${file} exists: pass --force to replace it, or --out another file\n`);
  });

  it("export: a file that is not what the API states (the object replaced in the bucket) fails with exit 5 and is not kept under its name", async () => {
    // Prepare: once the worker has written the file, someone with write access to the bucket puts
    // another object version under its key; the presigned URL serves the latest.
    const { s3 } = localClients(engineEnv());
    const bucket = engineEnv().exportBucket;
    const out = join(work, "tampered.ndjson");
    const tamper: Io["sleep"] = async () => {
      const [id] = await api.runQueuedExports();
      const key = `on-demand/${ws.id}/${id}.ndjson`;
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"id":"forged"}\n' }));
    };

    const res = await cli(
      ["export", ...conn(), "--format", "ndjson", "--type", "apikey.rotated", "--out", out],
      {
        sleep: tamper,
      },
    );

    expect(res.code).toBe(EXIT.checksum);
    expect(res.err).toMatch(
      /audit-log: the downloaded export [0-9A-Z]{26} is not the file the API describes: its SHA-256 is [0-9a-f]{64}, the API states [0-9a-f]{64}; it has 16 bytes, the API states \d+ \(kept as .*tampered\.ndjson\.mismatch\)\n$/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readFileSync(`${out}.mismatch`, "utf8")).toBe('{"id":"forged"}\n');
    expect(res.out).toBe("");
  });

  it("checkpoint prints the signed note as served; --json parses it", async () => {
    const served = await (
      await fetch(`${api.baseUrl}/v1/log/checkpoint`, {
        headers: { authorization: `Bearer ${ws.keys.reader}` },
      })
    ).text();

    const text = await cli(["checkpoint", ...conn()]);
    const json = await cli(["checkpoint", ...conn(), "--json"]);

    expect(text).toEqual({ code: 0, out: served, err: "" });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({
      origin: expect.stringMatching(new RegExp(`/${ws.id}$`)),
      size: samples.length + 7 + SEEDED,
      note: served,
    });
  });

  it("export an evidence bundle and verify it offline with the pinned key; a rewritten event fails with the verifier's code", async () => {
    const bundle = join(work, "bundle.evidence.ndjson.gz");
    const { verifierKey } = (
      await call<{ verifierKey: string }>(api, "GET", "/v1/log/key", { key: ws.keys.reader })
    ).body;

    const exported = await cli(
      [
        "export",
        ...conn(),
        "--format",
        "evidence",
        "--since",
        "2026-03-09",
        "--until",
        SEALED_UNTIL,
        "--out",
        bundle,
      ],
      { sleep: runWorker },
    );
    const verified = await cli(["verify", bundle, "--key", verifierKey]);
    // The trusted state: the first run pins the checkpoint, the second requires it pinned.
    const state = join(work, "state.json");
    const pinning = await cli(["verify", bundle, "--key", verifierKey, "--state", state]);
    const unpinned = await cli(["verify", bundle, "--key", verifierKey, "--require-pinned"]);
    const pinned = await cli(["verify", bundle, "--key", verifierKey, "--state", state, "--require-pinned"]);
    // Prepare the tampered copy: one event's actor changed, its hash left as it was.
    const lines = gunzipSync(readFileSync(bundle)).toString("utf8").split("\n");
    const target = lines.findIndex((l) => l.includes('"id":"system"'));
    expect(target).toBeGreaterThan(0);
    lines[target] = (lines[target] as string).replace('"id":"system"', '"id":"mallory"');
    const forged = join(work, "forged.evidence.ndjson.gz");
    writeFileSync(forged, gzipSync(lines.join("\n")));
    const failed = await cli(["verify", forged, "--key", verifierKey, "--json"]);

    expect(exported.code).toBe(0);
    // The span starts after the keys' creation (2026-03-01): leaves [SEEDED, size).
    expect(exported.out).toContain(`, ${samples.length + 7} events,`);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(
      new RegExp(
        `^VERIFIED: exit 0\n {2}bundle of workspace ${ws.id}: ${samples.length + 7} events, range \\[${SEEDED}, ${samples.length + 7 + SEEDED}\\), ${samples.length + 7} verified\n`,
      ),
    );
    expect(pinning.out).toContain(`  state: ${state} written (size ${samples.length + 7 + SEEDED})`);
    expect(JSON.parse(readFileSync(state, "utf8"))).toMatchObject({ size: samples.length + 7 + SEEDED });
    expect(unpinned.code).toBe(7);
    expect(pinned.code).toBe(0);
    expect(pinned.out).toContain("  tail pinned: yes\n");
    expect(failed.code).toBe(4);
    expect(JSON.parse(failed.out)).toMatchObject({ ok: false, outcome: "hashMismatch", exitCode: 4 });
  });
});
