import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, ensureChromium } from "./chromium.js";

/**
 * Screenshots of the Audit Log page from a running local runtime (`npm start`), for the README:
 * `tsx scripts/lib/dashboard-screenshots.ts [out-dir]` writes `dashboard.png` (1280 px wide) and
 * `dashboard-mobile.png` (390 px) into out-dir (default `docs/`), signed in with the `demo`
 * workspace's reader key from `.local/credentials.json`.
 */

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

interface Credentials {
  baseUrl: string;
  workspaces: { id: string; keys: Record<string, string> }[];
}

export async function dashboardScreenshots(outDir: string): Promise<string[]> {
  const creds = JSON.parse(await readFile(join(ROOT, ".local", "credentials.json"), "utf8")) as Credentials;
  const reader = creds.workspaces.find((w) => w.id === "demo")?.keys.reader;
  if (!reader) throw new Error(".local/credentials.json has no reader key for demo: run npm start first");
  const browser = await chromium.launch({ executablePath: await ensureChromium(), args: [...CHROMIUM_ARGS] });
  const written: string[] = [];
  try {
    for (const [name, width, height] of [
      ["dashboard.png", 1280, 800],
      ["dashboard-mobile.png", 390, 844],
    ] as const) {
      const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.goto(`${creds.baseUrl}/dashboard/audit?type=pcap.*#token=${reader}`);
      await page.locator("tbody tr").first().waitFor();
      const file = join(outDir, name);
      await page.screenshot({ path: file });
      written.push(file);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await dashboardScreenshots(resolve(process.argv[2] ?? join(ROOT, "docs")));
  for (const f of files) process.stdout.write(`wrote ${f}\n`);
}
