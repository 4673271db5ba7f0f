import { ensureChromium } from "../../scripts/lib/chromium.js";

/**
 * Debian's Chromium for the browser tests: installed with apt-get when it is missing (a fresh
 * machine, CI), so `npm test` needs no step of its own. Fails the run with apt's output if it cannot.
 */
export async function setup(): Promise<void> {
  await ensureChromium();
}
