import { get as httpGet } from "node:http";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, type TestApi } from "./harness.js";

/**
 * GET /dashboard/audit and its two files through the local gateway: the strict headers, caching by
 * content version, gzip, and nothing else served under the path. (The page itself is driven in
 * Chromium by test/browser/dashboard.test.ts.)
 */
describe("the dashboard route", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.close());

  /** The bytes as sent (fetch would decode gzip itself). */
  const rawGet = (url: string, headers: Record<string, string>) =>
    new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      httpGet(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on("error", reject);
    });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${api.baseUrl}${path}`, { headers: { "accept-encoding": "identity", ...headers } });

  it("serves one HTML document under a strict CSP that names its script and style by version", async () => {
    const res = await get("/dashboard/audit");
    const html = await res.text();

    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    // No inline script or style, nothing from another origin.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toMatch(/<script type="module" src="audit\/app\.js\?v=[0-9a-f]{16}"><\/script>/);
    expect(html).toMatch(/<link rel="stylesheet" href="audit\/app\.css\?v=[0-9a-f]{16}">/);
  });

  it("caches a file for good only under its own version, answers 304 to its ETag, and gzips on request", async () => {
    const html = await (await get("/dashboard/audit")).text();
    const v = /app\.js\?v=([0-9a-f]{16})/.exec(html)?.[1] as string;

    const versioned = await get(`/dashboard/audit/app.js?v=${v}`);
    const body = await versioned.text();
    const unversioned = await get("/dashboard/audit/app.js");
    const again = await get("/dashboard/audit/app.js", { "if-none-match": `"${v}"` });
    const gzipped = await rawGet(`${api.baseUrl}/dashboard/audit/app.js`, { "accept-encoding": "gzip" });
    const css = await get("/dashboard/audit/app.css");

    expect(versioned.status).toBe(200);
    expect(versioned.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(versioned.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(versioned.headers.get("etag")).toBe(`"${v}"`);
    expect(unversioned.headers.get("cache-control")).toBe("no-cache");
    expect(again.status).toBe(304);
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gzipped.body).toString("utf8")).toBe(body);
    expect(gzipped.body.length).toBeLessThan(body.length / 2);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("content-security-policy")).toContain("default-src 'none'");
    // The catalogue went in at build time: the bundle names every type, and no placeholder is left.
    expect(body).toContain('"pcap.download"');
    expect(body).not.toContain("__AUDIT_CATALOGUE__");
  });

  it("serves nothing else under the page's path", async () => {
    for (const path of [
      "/dashboard/audit/app.js.map",
      "/dashboard/audit/..%2Fpackage.json",
      "/dashboard/audit/x",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-security-policy"), path).toContain("default-src 'none'");
    }
  });
});
