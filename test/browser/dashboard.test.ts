import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LogDeps, sealWorkspace } from "../../functions/shared/core/log.js";
import { logDeps } from "../../functions/shared/log-deps.js";
import type { StoredEvent } from "../../functions/shared/schemas/event.js";
import {
  call,
  listAll,
  startApi,
  type TestApi,
  type TestWorkspace,
  workspace,
} from "../integration/harness.js";
import { launchChromium, pythonCsv, pythonJson, seriousViolations } from "./support.js";

/**
 * The Audit Log page (GET /dashboard/audit) in Debian's Chromium against the real local runtime:
 * the gateway and handler modules in process, Dynoxide and moto from global setup. The API's clock
 * and the browser's are both frozen at NOW. The page gets a reader key in the URL fragment, as it
 * will get a viewer session.
 */

const NOW = "2026-05-14T03:00:00.000Z";
const day = (d: string, time = "12:00:00") => `2026-05-${d}T${time}.000Z`;

/** What the workspace holds, by the server's clock at write time (recordedAt). */
const SEED: { at: string; event: Record<string, unknown> }[] = [
  ...["03", "06", "10", "12", "13"].map((d, i) => ({
    at: day(d),
    event: {
      id: `pcap-dl-${d}`,
      type: "pcap.download",
      actor: { type: "user", id: i % 2 ? "bob@acme.example" : "alice@acme.example" },
      node: { id: "nyc-edge-01" },
      resource: { type: "incident", id: `inc-${d}` },
      sourceIp: i % 2 ? "198.51.100.7" : "203.0.113.42",
      context: { captureId: `cap-${d}`, sha256: "a".repeat(64) },
    },
  })),
  {
    at: day("11"),
    event: {
      id: "pcap-started-11",
      type: "pcap.started",
      actor: { type: "system", id: "system" },
      node: { id: "nyc-edge-01" },
      context: { captureId: "cap-11" },
    },
  },
  {
    at: day("12", "08:00:00"),
    event: {
      id: "login-failed-12",
      type: "auth.login_failed",
      actor: { type: "user", id: "mallory@evil.example" },
      sourceIp: "198.51.100.66",
      outcome: "failure",
      context: { reason: "bad password" },
    },
  },
  ...Array.from({ length: 7 }, (_, i) => ({
    at: day("13", `0${i}:30:00`),
    event: {
      id: `cfg-${i}`,
      type: "node.config_changed",
      actor: { type: "user", id: "ops@acme.example" },
      node: { id: "fra-core-01" },
      context: { changes: [{ field: "threshold_pps", from: i * 1000, to: (i + 1) * 1000 }] },
    },
  })),
];

describe("the Audit Log page", () => {
  let api: TestApi;
  let ws: TestWorkspace;
  let log: LogDeps;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Page errors and CSP reports of the current test: the page must raise none. */
  let problems: string[];
  let sealedSize: number;

  beforeAll(async () => {
    [api, browser] = await Promise.all([startApi({ now: day("01") }), launchChromium()]);
    log = logDeps(api.deps, api.dynamo);
    ws = await workspace("dashboard", { now: new Date("2026-04-01T00:00:00Z") });
    for (const { at, event } of SEED) {
      api.clock.set(at);
      const res = await call(api, "POST", "/v1/events", { key: ws.keys.writer, body: event });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    api.clock.set(NOW);
    // Everything so far: the seed, and whatever the workspace's creation recorded itself.
    const sealed = await sealWorkspace(log, ws.id, api.clock.now());
    if (sealed.status !== "sealed") throw new Error(`the log was not sealed: ${sealed.status}`);
    expect(sealed.size).toBeGreaterThanOrEqual(SEED.length);
    sealedSize = sealed.size;
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  async function newPage(options: { bypassCSP?: boolean; width?: number } = {}) {
    context = await browser.newContext({
      timezoneId: "Europe/Berlin",
      viewport: { width: options.width ?? 1280, height: 900 },
      acceptDownloads: true,
      bypassCSP: options.bypassCSP ?? false,
    });
    // Fail fast: nothing here takes more than a second or two when it works.
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await page.clock.setFixedTime(new Date(NOW));
    problems = [];
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`csp: ${msg.text()}`);
    });
    return page;
  }

  afterEach(async () => {
    await context?.close();
  });

  /** Opens the page with a token in the fragment and waits for its first list of events. */
  async function open(search = "", token = ws.keys.reader) {
    const listed = page.waitForResponse(
      (r) => r.url().includes("/v1/events?") || r.url().endsWith("/v1/events"),
    );
    await page.goto(`${api.baseUrl}/dashboard/audit${search}#token=${token}`);
    return listed;
  }

  const rowIds = () =>
    page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.eventId));

  /** Waits until the count line says exactly `text`. */
  const countSays = (text: string) => page.locator(".count", { hasText: new RegExp(`^${text}$`) }).waitFor();

  it("filters type = pcap.download since a date, shows what the API returns for that filter, and keeps it in the URL", async () => {
    // Prepare
    await newPage();
    await open();
    await page.locator("tbody tr").first().waitFor();

    // Act
    await page.getByLabel("Event type").selectOption("pcap.download");
    await page.getByLabel("Time range").selectOption("custom");
    await page.getByLabel("Since (UTC, inclusive)").fill("2026-05-10");
    const listed = page.waitForResponse((r) => r.url().includes("/v1/events?"));
    await page.getByRole("button", { name: "Apply filters" }).click();
    const request = new URL((await listed).url());

    // Assess
    expect(Object.fromEntries(request.searchParams)).toEqual({
      type: "pcap.download",
      since: "2026-05-10T00:00:00.000Z",
      limit: "100",
    });
    const expected = (await listAll(
      api,
      ws.keys.reader,
      "type=pcap.download&since=2026-05-10T00:00:00Z",
    )) as StoredEvent[];
    expect(expected.map((e) => e.id)).toEqual(["pcap-dl-13", "pcap-dl-12", "pcap-dl-10"]);
    await countSays("3 events");
    expect(await rowIds()).toEqual(expected.map((e) => e.id));
    const cells = await page
      .locator("tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => Array.from(r.querySelectorAll("td"), (td) => td.textContent?.trim())),
      );
    expect(cells).toEqual(
      expected.map((e) => [
        e.recordedAt,
        "pcap.download",
        e.actor.id,
        `nyc-edge-01 · ${e.resource?.id}`,
        e.sourceIp,
        "success",
      ]),
    );
    const url = new URL(page.url());
    expect(url.search).toBe("?type=pcap.download&since=2026-05-10");
    expect(url.hash).toBe("");
    expect(problems).toEqual([]);

    // The same view from the URL alone (a bookmark, loaded afresh), in local time after the toggle.
    await page.goto("about:blank");
    await open("?type=pcap.download&since=2026-05-10");
    await countSays("3 events");
    await page.getByRole("button", { name: "Show local time" }).click();
    await page.locator("tbody tr").first().getByText("2026-05-13T14:00:00.000+02:00").waitFor();
    expect(await page.getByLabel("Query").inputValue()).toBe("type:pcap.download since:2026-05-10");
  });

  it("takes the token out of the URL and history, and counts a preset back from the browser's frozen clock", async () => {
    await newPage();
    const listed = await open("?range=7d&type=pcap.*");

    expect(Object.fromEntries(new URL(listed.url()).searchParams)).toEqual({
      type: "pcap.*",
      since: "2026-05-07T03:00:00.000Z",
      limit: "100",
    });
    expect(page.url()).toBe(`${api.baseUrl}/dashboard/audit?range=7d&type=pcap.*`);
    expect(await page.evaluate(() => sessionStorage.getItem("audit-log.token"))).toBe(ws.keys.reader);
    await countSays("4 events");
    expect(await rowIds()).toEqual(["pcap-dl-13", "pcap-dl-12", "pcap-started-11", "pcap-dl-10"]);
    // The fragment's entry was replaced, not kept behind the clean one: Back leaves the page.
    await page.goBack();
    expect(page.url()).toBe("about:blank");

    // A token handed to a tab already open on the page (same URL, new fragment: no page load).
    await page.goForward();
    await countSays("4 events");
    const relisted = page.waitForResponse((r) => r.url().includes("/v1/events?"));
    await page.goto(`${api.baseUrl}/dashboard/audit?range=7d&type=pcap.*#token=${ws.keys.reader}`);
    expect(await (await relisted).request().headerValue("authorization")).toBe(`Bearer ${ws.keys.reader}`);
    expect(page.url()).toBe(`${api.baseUrl}/dashboard/audit?range=7d&type=pcap.*`);
  });

  /** Clicks an export button and returns the downloaded file once the worker has written it. */
  async function exportVia(button: "Export CSV" | "Export JSON") {
    const created = page.waitForResponse(
      (r) => r.url().endsWith("/v1/exports") && r.request().method() === "POST",
    );
    await page.getByRole("button", { name: button }).click();
    expect((await created).status()).toBe(202);
    // Queued, not written yet: the page says so while it polls.
    await page.locator(".export-status", { hasText: /: pending/ }).waitFor();
    const download = page.waitForEvent("download", { timeout: 20_000 });
    await api.runQueuedExports();
    const file = await download;
    await page.locator(".export-status", { hasText: /: ready, 3 events/ }).waitFor();
    const path = await file.path();
    return { name: file.suggestedFilename(), path };
  }

  it("exports the current filter as CSV: the file's records are the events shown (read by Python's csv)", async () => {
    await newPage();
    await open("?type=pcap.download&since=2026-05-10");
    await countSays("3 events");
    const shown = await rowIds();

    const { name, path } = await exportVia("Export CSV");

    expect(name).toMatch(/^audit-log-[0-9A-Z]{26}\.csv$/);
    const records = await pythonCsv(path);
    const expected = (await listAll(
      api,
      ws.keys.reader,
      "type=pcap.download&since=2026-05-10T00:00:00Z",
    )) as StoredEvent[];
    expect(records.map((r) => r.id)).toEqual(shown);
    expect(records.map((r) => [r.id, r.type, r.recordedAt, r["actor.id"], r.sourceIp, r.hash])).toEqual(
      expected.map((e) => [e.id, e.type, e.recordedAt, e.actor.id, e.sourceIp, e.hash]),
    );
    expect(problems).toEqual([]);
  });

  it("exports the current filter as JSON: the file holds exactly the stored events shown (read by Python's json)", async () => {
    await newPage();
    await open("?type=pcap.download&since=2026-05-10");
    await countSays("3 events");

    const { name, path } = await exportVia("Export JSON");

    expect(name).toMatch(/^audit-log-[0-9A-Z]{26}\.json$/);
    const expected = await listAll(api, ws.keys.reader, "type=pcap.download&since=2026-05-10T00:00:00Z");
    expect(await pythonJson(path)).toEqual(expected);
    expect(problems).toEqual([]);
  });

  it("pages through more than one page with Load more, showing every event exactly once, newest first", async () => {
    await newPage();
    await open("?type=node.config_changed&limit=3");
    await countSays("3 events shown, more available");

    for (const shown of ["6 events shown, more available", "7 events"]) {
      const next = page.waitForResponse((r) => r.url().includes("cursor="));
      await page.getByRole("button", { name: "Load more" }).click();
      expect(new URL((await next).url()).searchParams.get("limit")).toBe("3");
      await countSays(shown);
    }

    const ids = await rowIds();
    const expected = (await listAll(api, ws.keys.reader, "type=node.config_changed")).map((e) => e.id);
    expect(expected).toHaveLength(7);
    expect(ids).toEqual(expected);
    expect(new Set(ids).size).toBe(7);
    expect(await page.getByRole("button", { name: "Load more" }).count()).toBe(0);
  });

  it("opens an event by keyboard with every field and the raw stored JSON, and Verify checks it in the browser", async () => {
    // Prepare
    await newPage();
    await open("?type=pcap.download");
    await countSays("5 events");
    const stored = (await call<StoredEvent>(api, "GET", "/v1/events/pcap-dl-10", { key: ws.keys.reader }))
      .body;
    const key = (
      await call<{ keyName: string; origin: string }>(api, "GET", "/v1/log/key", { key: ws.keys.reader })
    ).body;

    // Act: focus the row's link by keyboard and press Enter.
    const link = page.locator('tr[data-event-id="pcap-dl-10"] a');
    await link.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();

    // Assess: the raw JSON is the stored event, the fields and hash are shown, the permalink names it.
    expect(JSON.parse((await dialog.getByLabel("Raw stored event JSON").textContent()) ?? "")).toEqual(
      stored,
    );
    const fields = await dialog
      .locator("dl.kv")
      .first()
      .evaluate((dl) =>
        Object.fromEntries(
          Array.from(dl.querySelectorAll("dt"), (dt) => [dt.textContent, dt.nextElementSibling?.textContent]),
        ),
      );
    expect(fields).toMatchObject({
      id: "pcap-dl-10",
      type: "pcap.download",
      recordedAt: stored.recordedAt,
      "actor.id": stored.actor.id,
      "node.id": "nyc-edge-01",
      "resource.id": "inc-10",
      sourceIp: stored.sourceIp,
      hash: stored.hash,
    });
    const permalink = await dialog.getByLabel("Permalink").inputValue();
    expect(permalink).toBe(`${api.baseUrl}/dashboard/audit?type=pcap.download&event=pcap-dl-10`);

    // Verify: a real proof against the sealed checkpoint, with the key pinned on first use.
    await dialog.getByRole("button", { name: "Verify" }).click();
    await dialog
      .getByText(`Verified: included in checkpoint of size ${sealedSize}, signed by ${key.keyName}`)
      .waitFor();
    const pins = await page.evaluate(() => JSON.parse(localStorage.getItem("audit-log.pinned-keys") ?? "{}"));
    expect(Object.keys(pins)).toEqual([key.origin]);
    await dialog.getByText("pinned in this browser now (trust on first use)", { exact: false }).waitFor();

    // Tampered in transit: one hash of the audit path changed.
    await page.route("**/v1/events/*/proof", async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { inclusion: string[] };
      const hash = Buffer.from(body.inclusion[1] as string, "base64");
      hash[5] = (hash[5] as number) ^ 0x40;
      body.inclusion[1] = hash.toString("base64");
      await route.fulfill({ response: res, json: body });
    });
    await dialog.getByRole("button", { name: "Verify" }).click();
    await dialog
      .getByText(/^Verification failed: inclusion of index \d+: the proof does not lead to the root/)
      .waitFor();
    expect(await dialog.getByText(/^Verified:/).count()).toBe(0);

    // Escape closes the detail, takes the event out of the URL and gives focus back to the row.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    // history.back() moves the URL on its popstate, which may come after the dialog is gone.
    await page.waitForURL((url) => url.search === "?type=pcap.download");
    expect(new URL(page.url()).search).toBe("?type=pcap.download");
    expect(await link.evaluate((a) => a === document.activeElement)).toBe(true);
    expect(problems).toEqual([]);

    // The permalink opens the same event in a fresh page.
    await page.unroute("**/v1/events/*/proof");
    await page.goto(`${permalink}#token=${ws.keys.reader}`);
    expect(
      JSON.parse((await page.getByRole("dialog").getByLabel("Raw stored event JSON").textContent()) ?? ""),
    ).toEqual(stored);
  });

  it("shows the sign-in-again state for an invalid token, and when a viewer session expires while in use", async () => {
    await newPage();
    const listed = await open("", "alk_0123456789abcdef_not-a-real-secret-at-all-aaaaaaaaaaaaaaa");
    expect(listed.status()).toBe(401);
    await page.getByRole("heading", { name: "Session expired or invalid — sign in again" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("audit-log.token"))).toBeNull();
    await page.getByLabel("Access token").waitFor();

    // A viewer session (POST /v1/viewer-sessions), opened by the URL it comes with.
    const minted = await call<{ url: string; expiresAt: string }>(api, "POST", "/v1/viewer-sessions", {
      key: ws.keys.admin,
      body: { viewer: { id: "auditor-1", name: "Night Shift" } },
    });
    expect(minted.status).toBe(201);
    expect(minted.body.url).toMatch(/^\/dashboard\/audit#token=/);
    const first = page.waitForResponse((r) => r.url().includes("/v1/events?"));
    await page.goto(`${api.baseUrl}${minted.body.url.replace("#", "?type=pcap.download#")}`);
    expect((await first).status()).toBe(200);
    await countSays("5 events");
    try {
      // Its 15 minutes pass; the next read is refused.
      api.clock.set(new Date(Date.parse(minted.body.expiresAt) + 1_000));
      const refused = page.waitForResponse((r) => r.url().includes("/v1/events?"));
      await page.getByLabel("Outcome").selectOption("success");
      await page.getByRole("button", { name: "Apply filters" }).click();
      expect((await refused).status()).toBe(401);
    } finally {
      api.clock.set(NOW);
    }
    await page.getByRole("heading", { name: "Session expired or invalid — sign in again" }).waitFor();
    expect(await page.locator("tbody tr").count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.getItem("audit-log.token"))).toBeNull();
  });

  it("has no serious or critical axe findings (table, detail, sign-in) and fits a 320 px screen", async () => {
    // axe is injected as a script, which the page's CSP rightly refuses: this context bypasses it.
    await newPage({ bypassCSP: true });
    await open("?type=pcap.download");
    await countSays("5 events");
    expect(await seriousViolations(page)).toEqual([]);

    await page.locator('tr[data-event-id="pcap-dl-12"]').click();
    await page.getByRole("dialog").getByRole("button", { name: "Verify" }).click();
    await page
      .getByRole("dialog")
      .getByText(/^Verified:/)
      .waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    await page.setViewportSize({ width: 320, height: 800 });
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(320);
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to view the audit log" }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });
});
