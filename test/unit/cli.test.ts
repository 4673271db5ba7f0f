import { generateKeyPairSync, sign } from "node:crypto";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { checkpointJson } from "../../bin/cli/checkpoint.js";
import { DEFAULT_BASE_URL, resolveConnection } from "../../bin/cli/config.js";
import { CliError, EXIT } from "../../bin/cli/exit.js";
import { downloadName, type ExportView } from "../../bin/cli/export.js";
import { apiFilters, parseTime } from "../../bin/cli/filters.js";
import { EventWriter, eventRow, printable, TableWriter } from "../../bin/cli/format.js";
import { ApiClient, describeError, exitCodeOf, retryAfterMs } from "../../bin/cli/http.js";
import type { Io, Output } from "../../bin/cli/io.js";
import { run } from "../../bin/cli/main.js";
import { exportProgress } from "../../bin/cli/progress.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import { formatCheckpoint, keyIdOfSpki, signNote } from "../../functions/shared/tlog/note.js";

const NOW = new Date("2026-03-09T18:00:00.000Z");

/** A stream that keeps what is written. */
function sink(isTTY = false): Output & { text: string } {
  const out = {
    text: "",
    isTTY,
    columns: 100,
    write(chunk: string) {
      out.text += chunk;
      return true;
    },
    once: () => out,
  };
  return out;
}

/** Io for commands that must stop before any request: a fetch that fails the test if called. */
function offlineIo(): Io & { stdout: ReturnType<typeof sink>; stderr: ReturnType<typeof sink> } {
  return {
    stdout: sink(),
    stderr: sink(),
    env: {},
    cwd: "/nonexistent",
    fetch: async () => {
      throw new Error("this test makes no request");
    },
    now: () => NOW,
    sleep: async () => undefined,
  };
}

const catching = (f: () => unknown): CliError => {
  try {
    f();
  } catch (err: unknown) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error("expected a CliError");
};

const event = (over: Partial<StoredEvent> = {}): StoredEvent => ({
  id: "e1",
  type: "pcap.download",
  category: "pcap",
  recordedAt: "2026-03-09T09:52:14.000Z",
  occurredAt: "2026-03-09T09:52:14.000Z",
  actor: { type: "user", id: "alice@acme.example" },
  node: { id: "nyc-edge-01" },
  resource: { type: "incident", id: "a3f7c2b1" },
  sourceIp: "203.0.113.42",
  outcome: "success",
  context: { captureId: "c1" },
  hash: "a".repeat(64),
  ...over,
});

describe("time flags", () => {
  it("reads offsets, UTC days, now and durations ago, as UTC with milliseconds", () => {
    expect(parseTime("2026-03-09T10:44:19+01:00", NOW, "--since")).toBe("2026-03-09T09:44:19.000Z");
    expect(parseTime("2026-03-09 09:44:19Z", NOW, "--since")).toBe("2026-03-09T09:44:19.000Z");
    expect(parseTime("2026-03-02", NOW, "--since")).toBe("2026-03-02T00:00:00.000Z");
    expect(parseTime("now", NOW, "--until")).toBe("2026-03-09T18:00:00.000Z");
    expect(parseTime("15m", NOW, "--since")).toBe("2026-03-09T17:45:00.000Z");
    expect(parseTime("2h", NOW, "--since")).toBe("2026-03-09T16:00:00.000Z");
    expect(parseTime("7d", NOW, "--since")).toBe("2026-03-02T18:00:00.000Z");
  });

  it("refuses a time without an offset, as the API does, naming the flag and the forms it takes", () => {
    const err = catching(() => parseTime("2026-03-09T09:44:19", NOW, "--since"));
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toMatch(/^--since "2026-03-09T09:44:19": give a time with an offset/);
    expect(catching(() => parseTime("yesterday-ish", NOW, "--until")).exitCode).toBe(EXIT.usage);
    expect(catching(() => parseTime("2026-13-45", NOW, "--until")).exitCode).toBe(EXIT.usage);
  });
});

describe("filter flags → the API's query", () => {
  it("maps --category to a type prefix and --ip to sourceIp, and leaves out what is not given", () => {
    expect(
      apiFilters({ category: "pcap", actor: "alice@acme.example", ip: "203.0.113.42", since: "1h" }, NOW),
    ).toEqual({
      type: "pcap.*",
      actor: "alice@acme.example",
      sourceIp: "203.0.113.42",
      since: "2026-03-09T17:00:00.000Z",
    });
    expect(apiFilters({ type: "pcap.download", outcome: "failure", node: "n1" }, NOW)).toEqual({
      type: "pcap.download",
      outcome: "failure",
      node: "n1",
    });
  });

  it("refuses --type with --category, and an until that is not after since", () => {
    expect(catching(() => apiFilters({ type: "pcap.download", category: "pcap" }, NOW)).exitCode).toBe(
      EXIT.usage,
    );
    const err = catching(() => apiFilters({ since: "2026-03-09", until: "2026-03-08" }, NOW));
    expect(err.message).toMatch(/--until .* must be later than --since/);
  });
});

describe("connection: flags, environment, then the local runtime's credentials file", () => {
  const file = JSON.stringify({
    baseUrl: "http://127.0.0.1:3919",
    workspaces: [
      { id: "demo", keys: { writer: "alk_w1", reader: "alk_r1", admin: "alk_a1" } },
      { id: "other", keys: { writer: "alk_w2", reader: "alk_r2", admin: "alk_a2" } },
    ],
  });
  const read = (path: string) => {
    if (path !== "/p/creds.json") throw new Error(`ENOENT ${path}`);
    return file;
  };

  it("takes the first workspace's reader key and the file's base URL by default", () => {
    expect(resolveConnection({ credentials: "/p/creds.json" }, {}, "/", read)).toEqual({
      baseUrl: "http://127.0.0.1:3919",
      key: "alk_r1",
      keySource: "the reader key of workspace demo in /p/creds.json",
    });
  });

  it("chooses the workspace with --workspace, and lists the ones there are when it is unknown", () => {
    expect(resolveConnection({ credentials: "creds.json", workspace: "other" }, {}, "/p", read).key).toBe(
      "alk_r2",
    );
    const err = catching(() =>
      resolveConnection({ credentials: "/p/creds.json", workspace: "x" }, {}, "/", read),
    );
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toBe('no workspace "x" in /p/creds.json (it has: demo, other)');
  });

  it("lets flags win over the environment, and AUDIT_LOG_URL over the file's base URL", () => {
    const env = { AUDIT_LOG_URL: "https://audit.example/prod/", AUDIT_LOG_KEY: "alk_env" };
    expect(resolveConnection({}, env, "/", read)).toEqual({
      baseUrl: "https://audit.example/prod",
      key: "alk_env",
      keySource: "AUDIT_LOG_KEY",
    });
    expect(resolveConnection({ key: "alk_flag", baseUrl: "http://h:1" }, env, "/", read)).toMatchObject({
      baseUrl: "http://h:1",
      key: "alk_flag",
      keySource: "--key",
    });
    expect(
      resolveConnection({ credentials: "/p/creds.json" }, { AUDIT_LOG_URL: "http://h:2" }, "/", read).baseUrl,
    ).toBe("http://h:2");
    expect(resolveConnection({ key: "k" }, {}, "/", read).baseUrl).toBe(DEFAULT_BASE_URL);
  });

  it("says how to get a key when there is none, with the auth exit code", () => {
    const err = catching(() => resolveConnection({ credentials: "/missing.json" }, {}, "/", read));
    expect(err.exitCode).toBe(EXIT.auth);
    expect(err.message).toMatch(/^no API key: pass --key or set AUDIT_LOG_KEY \(or run npm start/);
  });

  it("refuses --workspace with an explicit key, and a base URL that is not http(s)", () => {
    expect(catching(() => resolveConnection({ key: "k", workspace: "demo" }, {}, "/", read)).exitCode).toBe(
      EXIT.usage,
    );
    expect(catching(() => resolveConnection({ key: "k", baseUrl: "ftp://h" }, {}, "/", read)).message).toBe(
      "--base-url must be http or https, not ftp:",
    );
  });
});

describe("the table", () => {
  it("shows a row as the product page does: UTC time, node · resource, system (auto)", () => {
    expect(eventRow(event())).toEqual([
      "2026-03-09 09:52:14",
      "pcap.download",
      "alice@acme.example",
      "nyc-edge-01 · a3f7c2b1",
      "203.0.113.42",
      "success",
    ]);
    const ended = event({
      type: "maintenance.ended",
      actor: { type: "system", id: "system" },
      node: { id: "fra-core-01" },
      resource: undefined,
      sourceIp: undefined,
      context: { windowId: "w1", endedBy: "auto" },
    });
    expect(eventRow(ended).slice(2, 5)).toEqual(["system (auto)", "fra-core-01", ""]);
  });

  it("shows terminal escapes and bidi overrides from event fields as visible code points", () => {
    expect(printable("mallory\u001b[2J\u202eevil\r\n")).toBe("mallory\\u{1b}[2J\\u{202e}evil\\u{d}\\u{a}");
    const row = eventRow(event({ actor: { type: "user", id: "x\u001b]0;pwned\u0007" } }));
    expect(row[2]).toBe("x\\u{1b}]0;pwned\\u{7}");
  });

  it("aligns columns set by the first rows, and cuts a long actor with an ellipsis", async () => {
    const out = sink();
    const table = new TableWriter(out);
    await table.write([event(), event({ actor: { type: "user", id: "bob" }, sourceIp: undefined })]);
    await table.write([
      event({ actor: { type: "user", id: "a-very-long-actor-id@some-subsidiary.example" } }),
    ]);
    const lines = out.text.trimEnd().split("\n");
    expect(lines).toEqual([
      "Timestamp (UTC)      Event          Actor               Node · Resource         IP            Outcome",
      "2026-03-09 09:52:14  pcap.download  alice@acme.example  nyc-edge-01 · a3f7c2b1  203.0.113.42  success",
      "2026-03-09 09:52:14  pcap.download  bob                 nyc-edge-01 · a3f7c2b1                success",
      "2026-03-09 09:52:14  pcap.download  a-very-long-actor…  nyc-edge-01 · a3f7c2b1  203.0.113.42  success",
    ]);
    expect(table.rows).toBe(3);
  });

  it("writes JSON as one array however the pages come, and NDJSON one event a line", async () => {
    for (const pages of [
      [],
      [[]],
      [[event({ id: "a" })]],
      [[event({ id: "a" }), event({ id: "b" })], [], [event({ id: "c" })]],
    ]) {
      const out = sink();
      const writer = new EventWriter(out, "json");
      for (const page of pages) await writer.write(page);
      await writer.end();
      expect((JSON.parse(out.text) as StoredEvent[]).map((e) => e.id)).toEqual(pages.flat().map((e) => e.id));
    }
    const out = sink();
    const nd = new EventWriter(out, "ndjson");
    await nd.write([event({ id: "a" }), event({ id: "b" })]);
    await nd.end();
    expect(
      out.text
        .trimEnd()
        .split("\n")
        .map((l) => (JSON.parse(l) as StoredEvent).id),
    ).toEqual(["a", "b"]);
  });
});

describe("HTTP errors", () => {
  it("prints problem+json as one line: status, title, detail and each validation error", () => {
    const body = JSON.stringify({
      type: "/problems/validation",
      title: "The request is not valid",
      status: 400,
      detail: "1 problem\nin the query",
      errors: [{ path: "/type", message: "must be a catalogue type" }],
    });
    expect(describeError(400, "Bad Request", "application/problem+json", body)).toBe(
      "400 The request is not valid: 1 problem in the query (/type must be a catalogue type)",
    );
    const saysItAll = JSON.stringify({
      title: "The request is not valid",
      detail: "/type: must be a catalogue type",
      errors: [{ path: "/type", message: "must be a catalogue type" }],
    });
    expect(describeError(400, "", "application/problem+json", saysItAll)).toBe(
      "400 The request is not valid: /type: must be a catalogue type",
    );
    expect(describeError(404, "Not Found", "application/json", '{"message":"Not Found"}')).toBe(
      "404 Not Found",
    );
    expect(describeError(502, "Bad Gateway", "text/html", "<html>")).toBe("502 Bad Gateway");
  });

  it("maps statuses to exit codes", () => {
    expect([400, 401, 403, 404, 409, 500, 503].map(exitCodeOf)).toEqual([
      EXIT.usage,
      EXIT.auth,
      EXIT.auth,
      EXIT.notFound,
      EXIT.api,
      EXIT.api,
      EXIT.api,
    ]);
  });

  it("reads Retry-After as seconds or as an HTTP-date against the injected clock", () => {
    expect(retryAfterMs("2", NOW)).toBe(2000);
    expect(retryAfterMs("Mon, 09 Mar 2026 18:00:30 GMT", NOW)).toBe(30_000);
    expect(retryAfterMs("soon", NOW)).toBeUndefined();
    expect(retryAfterMs(null, NOW)).toBeUndefined();
  });

  it("does not wait out a Retry-After longer than its bound: it fails at once and says how long", async () => {
    // A scripted transport: the retry policy is the client's own logic (the real 503 is in test/integration/cli.test.ts).
    const waits: number[] = [];
    let calls = 0;
    const api = new ApiClient({
      baseUrl: "http://127.0.0.1:9",
      key: "k",
      keySource: "--key",
      userAgent: "t",
      io: {
        fetch: async () => {
          calls++;
          return new Response('{"title":"Too many failed attempts","detail":"wait"}', {
            status: 429,
            headers: { "content-type": "application/problem+json", "retry-after": "120" },
          });
        },
        sleep: async (ms) => void waits.push(ms),
        now: () => NOW,
      },
    });
    const err = await api.send("GET", "/v1/events").then(
      () => undefined,
      (e: unknown) => e as CliError,
    );
    expect(err?.exitCode).toBe(EXIT.api);
    expect(err?.message).toBe("429 Too many failed attempts: wait (the API asks to retry in 120 s)");
    expect({ calls, waits }).toEqual({ calls: 1, waits: [] });
  });
});

describe("downloads and checkpoints", () => {
  const view = { id: "01JEXPORT", format: "csv", gzip: true } as ExportView;

  it("names the file as the API's Content-Disposition does, never outside the folder", () => {
    expect(downloadName(view, 'attachment; filename="audit-log-01JEXPORT.csv.gz"')).toBe(
      "audit-log-01JEXPORT.csv.gz",
    );
    expect(downloadName(view, 'attachment; filename="../../etc/passwd"')).toBe("passwd");
    expect(downloadName(view, 'attachment; filename=".."')).toBe("audit-log-01JEXPORT.csv.gz");
    expect(downloadName({ ...view, format: "evidence" } as ExportView, null)).toBe(
      "audit-log-01JEXPORT.evidence.ndjson.gz",
    );
  });

  it("parses a signed checkpoint note into origin, size, root and signature lines", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    const root = Buffer.alloc(32, 7);
    const note = await signNote(formatCheckpoint({ origin: "audit-log.test/ws-1", size: 42, root }), [
      { name: "audit-log.test", keyId: keyIdOfSpki(spki), sign: async (t) => sign("sha256", t, privateKey) },
    ]);
    const parsed = checkpointJson(note);
    expect(parsed).toMatchObject({
      origin: "audit-log.test/ws-1",
      size: 42,
      root: root.toString("base64"),
      extensions: [],
      note,
    });
    expect(parsed.signatures).toHaveLength(1);
    expect(parsed.signatures[0]).toMatchObject({
      name: "audit-log.test",
      keyId: keyIdOfSpki(spki).toString(16).padStart(8, "0"),
    });
    expect(catching(() => checkpointJson("not a note\n")).exitCode).toBe(EXIT.api);
  });
});

describe("export progress", () => {
  it("without a terminal: one line per change of state, with the count once ready", () => {
    const err = sink(false);
    const p = exportProgress(err);
    p.status({ id: "X", status: "pending" });
    p.status({ id: "X", status: "pending" });
    p.status({ id: "X", status: "running" });
    p.status({ id: "X", status: "ready", eventCount: 8, bytes: 2210 });
    p.downloading(2210);
    p.stop();
    expect(err.text).toBe(
      "export X: pending\nexport X: running\nexport X: ready, 8 events, 2.2 KiB\ndownloading 2.2 KiB\n",
    );
  });

  it("on a terminal: a cli-progress bar through the stages, then the download's bytes", () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    let text = "";
    tty.on("data", (d: Buffer) => {
      text += d.toString();
    });
    const p = exportProgress(tty as unknown as Output);
    p.status({ id: "X", status: "pending" });
    p.status({ id: "X", status: "ready", eventCount: 8, bytes: 2048 });
    p.stop();
    p.downloading(2048);
    p.downloaded(2048);
    p.stop();
    expect(text).toContain("export X [");
    expect(text).toContain("ready, 8 events, 2.0 KiB");
    expect(text).toContain("100% 2.0 KiB of 2.0 KiB");
  });
});

describe("the command line", () => {
  it("--help lists the commands, the configuration and the exit codes, and exits 0", async () => {
    const io = offlineIo();
    expect(await run(["--help"], io)).toBe(0);
    for (const word of ["events", "tail", "export", "verify", "checkpoint", "AUDIT_LOG_URL", "AUDIT_LOG_KEY"])
      expect(io.stdout.text).toContain(word);
    expect(io.stdout.text).toMatch(/Exit codes:\n {2}0 {4}ok\n {2}1 {4}usage/);
    expect(io.stdout.text).toContain("5    checksum mismatch");
  });

  it("answers bad flags with exit 1 and a message, before any request", async () => {
    for (const argv of [
      ["events", "--outcome", "maybe"],
      ["events", "--json", "--ndjson"],
      ["events", "--max", "0"],
      ["events", "--type", "pcap.download", "--category", "pcap", "--key", "k"],
      ["events", "--since", "tuesday", "--key", "k"],
      ["tail", "--since", "1h"],
      ["export", "--format", "xml"],
      ["nonsense"],
    ]) {
      const io = offlineIo();
      expect(await run(argv, io), argv.join(" ")).toBe(EXIT.usage);
      expect(io.stderr.text, argv.join(" ")).toMatch(/\S/);
      expect(io.stdout.text).toBe("");
    }
  });

  it("verify without a key is a usage error (exit 1), as the verifier's CLI", async () => {
    const io = offlineIo();
    expect(await run(["verify", "bundle.gz"], io)).toBe(1);
    expect(io.stderr.text).toContain("audit-log verify: pin at least one verifier key with --key");
  });
});
