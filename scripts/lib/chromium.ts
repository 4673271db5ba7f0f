import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";

/**
 * Debian's Chromium, which the browser tests drive through playwright-core. Playwright's own
 * browser downloads are never used (they come from outside the package registries); the
 * distribution's package is installed with apt-get instead, so a fresh machine (or CI) needs no
 * step of its own.
 */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Launch flags: `--no-sandbox` because tests run as root; no background traffic (no network here). */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"] as const;

const isExecutable = (path: string) =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 15 * 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
        resolve({ code, output: `${stdout}${stderr}${error && code === 127 ? error.message : ""}` });
      },
    );
  });
}

/**
 * Returns the path of Debian's Chromium, installing the `chromium` package first when it is
 * missing (`apt-get install -y --no-install-recommends chromium`, after `apt-get update` when the
 * package lists do not know it yet). Throws with apt's output when that fails, so a test run says
 * why it has no browser instead of failing later on a launch error.
 */
export async function ensureChromium(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {
  if (await isExecutable(CHROMIUM_PATH)) return CHROMIUM_PATH;
  log(`${CHROMIUM_PATH} is missing: installing Debian's chromium package (apt-get, about a minute)`);
  const install = () => run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"]);
  let result = await install();
  if (result.code !== 0) {
    // A fresh machine's package lists may be empty or stale.
    const update = await run("apt-get", ["update"]);
    if (update.code !== 0) {
      throw new Error(
        `apt-get update failed (exit ${update.code}); cannot install chromium:\n${update.output}`,
      );
    }
    result = await install();
  }
  if (result.code !== 0 || !(await isExecutable(CHROMIUM_PATH))) {
    throw new Error(
      `could not install Debian's chromium (apt-get exit ${result.code}); the browser tests need ` +
        `${CHROMIUM_PATH} (run as root, or install the package by hand):\n${result.output.slice(-4000)}`,
    );
  }
  log(`installed ${CHROMIUM_PATH}`);
  return CHROMIUM_PATH;
}
