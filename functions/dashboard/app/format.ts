/** How the page shows times, actors and sizes. Pure (the time zone is the caller's Date's). */

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, "0");

/** An API timestamp in the browser's local time, still ISO 8601: `2026-03-09T10:44:19.000+01:00`. */
export function localIso(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
  );
}

export const shownTime = (iso: string, local: boolean) => (local ? localIso(iso) : iso);

/** "system", or "system (auto)" for an automatic end (DESIGN.md's sample log). */
export function actorLabel(event: {
  actor: { type: string; id: string };
  context?: Record<string, unknown>;
}) {
  if (event.actor.type === "system" && event.context?.endedBy === "auto") return `${event.actor.id} (auto)`;
  return event.actor.id;
}

export function nodeResource(event: { node?: { id: string }; resource?: { id: string } }): string {
  return [event.node?.id, event.resource?.id].filter(Boolean).join(" · ");
}

export function bytesLabel(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
