import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import type { eventInputSchema } from "../../functions/shared/schemas/event.js";
import { ROOT } from "./moto.js";

export type SampleEvent = z.input<typeof eventInputSchema> & { id: string; occurredAt: string };

/** The product page's sample log (test/fixtures/sample-log.json), 2026-03-09. */
export function sampleLog(): SampleEvent[] {
  return JSON.parse(readFileSync(join(ROOT, "test/fixtures/sample-log.json"), "utf8")) as SampleEvent[];
}

/**
 * The sample moved to the day before `now`, keeping each time of day, so that a fresh local runtime
 * shows it within retention and within the 7-day occurredAt window.
 */
export function sampleLogAsOfYesterday(now: Date): SampleEvent[] {
  const yesterday = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1));
  const shift = yesterday.getTime() - Date.UTC(2026, 2, 9);
  const move = (iso: string) => new Date(Date.parse(iso) + shift).toISOString();
  return sampleLog().map((e) => {
    const context = { ...(e.context as Record<string, unknown>) };
    if (typeof context.detectedAt === "string") context.detectedAt = move(context.detectedAt);
    return { ...e, occurredAt: move(e.occurredAt), context };
  });
}
