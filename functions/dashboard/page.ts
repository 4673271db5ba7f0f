import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/**
 * The Audit Log page's three files: the HTML document at {@link PAGE_PATH}, its script and its
 * style sheet below it. The page holds no data and needs no key: it calls the API from the browser,
 * on this origin, with the bearer token it was given in the URL fragment.
 *
 * Where the browser code comes from:
 * - on Lambda, from `dashboard-assets/` beside the bundled handler, written there by the CDK's
 *   `afterBundling` hook (scripts/lib/dashboard-assets.ts; lib/audit-log-stack.ts);
 * - under tsx (npm start, the tests), that folder does not exist and the page builds the same
 *   bundle in process with esbuild, once per process.
 */
export const PAGE_PATH = "/dashboard/audit";

/** Every response: the page runs only its own script and style and talks only to this origin. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

interface Asset {
  body: string;
  /** The body gzipped once (API Gateway HTTP APIs do not compress): about a third of the bytes. */
  gzip: Buffer;
  type: string;
  /** The first 16 hex digits of its SHA-256: the ETag and the `?v=` of its URL. */
  version: string;
}

interface Assets {
  html: string;
  js: Asset;
  css: Asset;
}

const version = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

async function browserCode(): Promise<{ js: string; css: string }> {
  const prebuilt = new URL("./dashboard-assets/", import.meta.url);
  try {
    const [js, css] = await Promise.all([
      readFile(new URL("app.js", prebuilt), "utf8"),
      readFile(new URL("app.css", prebuilt), "utf8"),
    ]);
    return { js, css };
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Not bundled (tsx): build it here. The path is computed so that esbuild, bundling this module for
  // Lambda, leaves the builder (and esbuild itself) out of the function.
  const builder = new URL("../../scripts/lib/dashboard-assets.ts", import.meta.url).href;
  const { buildDashboardAssets } = (await import(builder)) as {
    buildDashboardAssets: () => Promise<{ js: string; css: string }>;
  };
  return buildDashboardAssets();
}

function documentOf(js: Asset, css: Asset): string {
  // Relative URLs for the script and style. (The handler matches the page's own paths exactly, so an
  // API mapping with a base path is not supported yet.)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Audit Log</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="audit/app.css?v=${css.version}">
<script type="module" src="audit/app.js?v=${js.version}"></script>
</head>
<body>
<div id="app"><noscript>The Audit Log page needs JavaScript. The same data is in the API: GET /v1/events.</noscript></div>
</body>
</html>
`;
}

let assets: Promise<Assets> | undefined;

/** The page's files, loaded (or built) once per execution environment. */
export function loadAssets(): Promise<Assets> {
  assets ??= browserCode().then(
    ({ js, css }) => {
      const asset = (body: string, type: string): Asset => ({
        body,
        gzip: gzipSync(body, { level: 9 }),
        type,
        version: version(body),
      });
      const jsAsset = asset(js, "text/javascript; charset=utf-8");
      const cssAsset = asset(css, "text/css; charset=utf-8");
      return { html: documentOf(jsAsset, cssAsset), js: jsAsset, css: cssAsset };
    },
    (err: unknown) => {
      assets = undefined;
      throw err;
    },
  );
  return assets;
}

function text(
  status: number,
  body: string,
  type: string,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode: status, headers: { "content-type": type, ...SECURITY_HEADERS, ...headers }, body };
}

function serveAsset(event: APIGatewayProxyEventV2, asset: Asset): APIGatewayProxyStructuredResultV2 {
  const etag = `"${asset.version}"`;
  // A URL naming this version never changes; any other (a stale or missing `?v=`) must revalidate.
  const cache =
    event.queryStringParameters?.v === asset.version ? "public, max-age=31536000, immutable" : "no-cache";
  const inm = event.headers?.["if-none-match"];
  const headers = { etag, "cache-control": cache, vary: "accept-encoding" };
  if (inm?.split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) {
    return { statusCode: 304, headers: { ...SECURITY_HEADERS, ...headers } };
  }
  if (/\bgzip\b/.test(event.headers?.["accept-encoding"] ?? "")) {
    return {
      statusCode: 200,
      headers: { "content-type": asset.type, ...SECURITY_HEADERS, ...headers, "content-encoding": "gzip" },
      body: asset.gzip.toString("base64"),
      isBase64Encoded: true,
    };
  }
  return text(200, asset.body, asset.type, headers);
}

/** Answers one request for the page or one of its files. */
export async function servePage(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const files = await loadAssets();
  switch (event.rawPath) {
    case PAGE_PATH:
      // Small, and it names the current script and style: never cached.
      return text(200, files.html, "text/html; charset=utf-8", { "cache-control": "no-store" });
    case `${PAGE_PATH}/app.js`:
      return serveAsset(event, files.js);
    case `${PAGE_PATH}/app.css`:
      return serveAsset(event, files.css);
    default:
      return text(404, "Not found\n", "text/plain; charset=utf-8", { "cache-control": "no-store" });
  }
}
