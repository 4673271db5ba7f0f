import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../../scripts/lib/chromium.js";

/** Debian's Chromium (installed by global-setup.ts), headless, with the flags this machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], headless: true });
}

/** axe-core's browser build, injected into a page as a script (the npm package, never a CDN). */
export const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe on the page (WCAG 2.x A and AA rules) and returns its serious and critical findings. */
export async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<unknown> } }).axe;
    const result = (await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    })) as { violations: AxeViolation[] };
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/**
 * Reads a file with Python's csv module (an RFC 4180 reader that shares no code with the service's
 * writer): one dict per record, by the header row.
 */
export function pythonCsv(path: string): Promise<Record<string, string>[]> {
  const script =
    "import csv, json, sys\n" +
    "with open(sys.argv[1], newline='', encoding='utf-8') as f:\n" +
    "    print(json.dumps(list(csv.DictReader(f))))\n";
  return python(script, path) as Promise<Record<string, string>[]>;
}

/** Reads a JSON file with Python's json module. */
export function pythonJson(path: string): Promise<unknown> {
  return python(
    "import json, sys\nprint(json.dumps(json.load(open(sys.argv[1], encoding='utf-8'))))\n",
    path,
  );
}

function python(script: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", script, path], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}
