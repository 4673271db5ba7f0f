import { gzipSync } from "node:zlib";
import { sha256Hex } from "../canonical.js";
import { encodeAll } from "../export-formats.js";
import { merkleRoot } from "../merkle.js";
import type { ArchiveStore, ControlStore, EventStore, WorkspaceRecord } from "../ports.js";
import type { StoredEvent } from "../schemas/event.js";

export interface NightlyExportDeps {
  events: EventStore;
  control: ControlStore;
  archive: ArchiveStore;
}

export interface DayExport {
  workspaceId: string;
  day: string;
  status: "created" | "exists";
  eventCount: number;
  manifestKey: string;
}

const DAY_MS = 86_400_000;
const PAGE = 1000;

/** The UTC day before `at`, as YYYY-MM-DD: what a run just after midnight exports. */
export function previousUtcDay(at: Date): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()) - DAY_MS)
    .toISOString()
    .slice(0, 10);
}

export function dayPrefix(workspaceId: string, day: string): string {
  return `exports/${workspaceId}/${day.replaceAll("-", "/")}/`;
}

/** Every event recorded on `day` (UTC), oldest first, excluding expired ones. */
async function eventsOfDay(
  events: EventStore,
  workspaceId: string,
  day: string,
  nowEpochSeconds: number,
): Promise<StoredEvent[]> {
  const start = `${day}T00:00:00.000Z`;
  const end = new Date(Date.parse(start) + DAY_MS).toISOString();
  const out: StoredEvent[] = [];
  let beforeKey: string | undefined = end;
  while (beforeKey) {
    const page = await events.query({ workspaceId, fromKey: start, beforeKey, limit: PAGE, nowEpochSeconds });
    out.push(...page.events);
    beforeKey = page.nextKey;
  }
  return out.reverse();
}

/**
 * Writes one workspace-day: `events.ndjson.gz` then `manifest.json`, both write-once with COMPLIANCE
 * retention until the day plus the workspace's retention. The manifest names the previous day's
 * manifest hash, so the days form a chain and a missing day is detectable. A rerun is a no-op; a
 * run cut off between the two objects is completed by the next one, provided the data matches.
 *
 * Not yet (the exports issue): streaming with constant memory, and hand-over before the Lambda
 * time limit. A day is built in memory.
 */
export async function exportDay(
  deps: NightlyExportDeps,
  workspace: WorkspaceRecord,
  day: string,
  now: Date,
): Promise<DayExport> {
  const prefix = dayPrefix(workspace.workspaceId, day);
  const manifestKey = `${prefix}manifest.json`;
  const existing = await deps.archive.get(manifestKey);
  if (existing) {
    const manifest = JSON.parse(existing.toString("utf8")) as { eventCount: number };
    return {
      workspaceId: workspace.workspaceId,
      day,
      status: "exists",
      eventCount: manifest.eventCount,
      manifestKey,
    };
  }

  const events = await eventsOfDay(deps.events, workspace.workspaceId, day, Math.floor(now.getTime() / 1000));
  const data = gzipSync(await encodeAll(events, "ndjson"));
  const retainUntil = new Date(Date.parse(`${day}T00:00:00.000Z`) + workspace.retentionDays * DAY_MS);
  const dataKey = `${prefix}events.ndjson.gz`;
  if (
    (await deps.archive.putOnce(dataKey, data, { contentType: "application/x-ndjson", retainUntil })) ===
    "exists"
  ) {
    const stored = await deps.archive.get(dataKey);
    if (!stored || sha256Hex(stored) !== sha256Hex(data)) {
      throw new Error(`${dataKey} exists with other content; the day changed after a partial export`);
    }
  }

  const previous = await deps.archive.get(
    `${dayPrefix(workspace.workspaceId, previousUtcDay(new Date(`${day}T00:00:00.000Z`)))}manifest.json`,
  );
  const manifest = {
    version: 1,
    workspace: workspace.workspaceId,
    day,
    eventCount: events.length,
    firstRecordedAt: events[0]?.recordedAt ?? null,
    lastRecordedAt: events.at(-1)?.recordedAt ?? null,
    data: { key: dataKey, sha256: sha256Hex(data), bytes: data.length, encoding: "gzip", format: "ndjson" },
    eventHashes: {
      merkleRoot: merkleRoot(events.map((e) => e.hash)),
      algorithm: "RFC 6962 SHA-256, leaves in file order",
    },
    previousManifestSha256: previous ? sha256Hex(previous) : null,
    retainUntil: retainUntil.toISOString(),
  };
  const status = await deps.archive.putOnce(
    manifestKey,
    Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    {
      contentType: "application/json",
      retainUntil,
    },
  );
  return { workspaceId: workspace.workspaceId, day, status, eventCount: events.length, manifestKey };
}

/** The nightly job: every enterprise workspace's `day`, one after another. */
export async function runNightlyExport(
  deps: NightlyExportDeps,
  day: string,
  now: Date,
): Promise<DayExport[]> {
  const workspaces = (await deps.control.listWorkspaces()).filter((w) => w.plan === "enterprise");
  const results: DayExport[] = [];
  for (const workspace of workspaces) results.push(await exportDay(deps, workspace, day, now));
  return results;
}
