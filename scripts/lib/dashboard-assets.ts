import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CATALOGUE, CATEGORIES, EVENT_TYPES } from "../../functions/shared/schemas/catalogue.js";

/**
 * Builds the Audit Log page's browser code (functions/dashboard/app) with esbuild: one JS bundle
 * and one CSS file. The same build serves both runtimes:
 * - on Lambda, the CDK runs this file as the dashboard function's `afterBundling` command hook,
 *   which writes `app.js` and `app.css` into the function's asset beside `index.mjs`
 *   (lib/audit-log-stack.ts); the handler reads them from there at cold start;
 * - under tsx (npm start, the tests), the handler calls {@link buildDashboardAssets} once, in
 *   process, with `write: false`.
 */

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const DASHBOARD_APP_DIR = join(ROOT, "functions", "dashboard", "app");

/** Browsers the page supports: evergreen ones from 2023 on (dialog, color-mix, WebCrypto P-256). */
const TARGETS = ["chrome115", "firefox115", "safari16.4", "edge115"];

export interface DashboardAssets {
  js: string;
  css: string;
}

/** The catalogue the page's type picker offers, baked in at build time (app/catalogue.ts). */
function catalogueDefine(): string {
  return JSON.stringify({
    types: EVENT_TYPES.map((type) => ({ type, description: CATALOGUE[type].description })),
    categories: CATEGORIES,
  });
}

export async function buildDashboardAssets(): Promise<DashboardAssets> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: join(DASHBOARD_APP_DIR, "main.ts"), style: join(DASHBOARD_APP_DIR, "app.css") },
    outdir: "out",
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    target: TARGETS,
    minify: true,
    sourcemap: false,
    legalComments: "eof",
    charset: "utf8",
    define: { __AUDIT_CATALOGUE__: catalogueDefine() },
    logLevel: "warning",
  });
  const js = result.outputFiles.find((f) => f.path.endsWith("app.js"))?.text;
  const css = result.outputFiles.find((f) => f.path.endsWith("style.css"))?.text;
  if (js === undefined || css === undefined) throw new Error("esbuild did not produce app.js and style.css");
  return { js, css };
}

/** The file names in the function's asset (and the page's URLs under /dashboard/audit/). */
export const ASSET_FILES = { js: "app.js", css: "app.css" } as const;

/** `tsx scripts/lib/dashboard-assets.ts <dir>`: writes app.js and app.css into `<dir>`. */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: tsx scripts/lib/dashboard-assets.ts <output directory>\n");
    process.exit(1);
  }
  const assets = await buildDashboardAssets();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, ASSET_FILES.js), assets.js);
  await writeFile(join(dir, ASSET_FILES.css), assets.css);
}
