import { SCHEDULES } from "../../functions/shared/routes.js";

type Job = (event: {
  time: string;
  "detail-type": string;
  detail: Record<string, unknown>;
}) => Promise<unknown>;

/** Milliseconds from `now` to the next UTC hh:mm. */
export function msUntil(now: Date, hour: number, minute: number): number {
  const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour, minute));
  if (next.getTime() <= now.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime() - now.getTime();
}

/**
 * Runs the scheduled handlers as the EventBridge rules would: same schedules (routes.ts), same
 * handler modules, an EventBridge-shaped event. Returns a function that cancels every timer.
 */
export function startSchedules(
  resolve: (name: string) => Promise<Job>,
  log: (line: string) => void,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const def of SCHEDULES) {
    const fire = () => {
      void resolve(def.handler)
        .then((job) => job({ time: new Date().toISOString(), "detail-type": "Scheduled Event", detail: {} }))
        .catch((err: unknown) => log(`scheduled ${def.handler} failed: ${(err as Error).message}`));
    };
    if ("everyMinutes" in def.schedule) {
      timers.push(setInterval(fire, def.schedule.everyMinutes * 60_000));
    } else {
      const { hour, minute } = def.schedule.cron;
      const daily = () => {
        fire();
        timers.push(setTimeout(daily, msUntil(new Date(), Number(hour), Number(minute))));
      };
      timers.push(setTimeout(daily, msUntil(new Date(), Number(hour), Number(minute))));
    }
  }
  for (const t of timers) t.unref();
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}
