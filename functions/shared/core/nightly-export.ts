import type * as z from "zod";
import { sha256Hex } from "../canonical.js";
import { ValidationError } from "../errors.js";
import { logger } from "../logger.js";
import { MerkleAccumulator } from "../merkle.js";
import type { ArchiveStore, Principal, WorkspaceRecord } from "../ports.js";
import type { StoredEvent } from "../schemas/event.js";
import type { NightlyManifest, nightlyListQuerySchema } from "../schemas/exports.js";
import { leafHash } from "../tlog/merkle.js";
import { type Client, recordQueried } from "./access.js";
import { CATCH_UP_DAYS, type DayFiles, type Delivery, type DeliveryDeps, deliverDay } from "./destination.js";
import type { EventsDeps } from "./events.js";
import { writeExportFile } from "./export-file.js";
import { dayEvidence, type LogDeps, leafDataOf } from "./log.js";

export interface NightlyExportDeps extends DeliveryDeps, LogDeps {
  /** Tests: upload part size of the day's file. */
  partBytes?: number;
}

export interface DayExport {
  workspaceId: string;
  day: string;
  status: "created" | "exists";
  eventCount: number;
  manifestKey: string;
  dataKey: string;
  dataSha256: string;
  /** The copy to the workspace's own bucket, when it has one. */
  destination?: Delivery;
}

const DAY_MS = 86_400_000;

/** The UTC day before `at`, as YYYY-MM-DD: what a run just after midnight exports. */
export function previousUtcDay(at: Date): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()) - DAY_MS)
    .toISOString()
    .slice(0, 10);
}

export function dayPrefix(workspaceId: string, day: string): string {
  return `exports/${workspaceId}/${day.replaceAll("-", "/")}/`;
}

const manifestKeyOf = (workspaceId: string, day: string) => `${dayPrefix(workspaceId, day)}manifest.json`;

/** A stored day's manifest: its key, its bytes (what the next day chains to) and its content. */
async function readManifest(archive: ArchiveStore, workspaceId: string, day: string) {
  const key = manifestKeyOf(workspaceId, day);
  const bytes = await archive.get(key);
  return bytes ? { key, bytes, manifest: JSON.parse(bytes.toString("utf8")) as NightlyManifest } : undefined;
}

/**
 * Writes one workspace-day: `events.ndjson.gz` then `manifest.json`, both write-once with COMPLIANCE
 * retention until the day plus the workspace's retention. The events are streamed oldest first
 * from the log into the file (constant memory; the manifest's Merkle root is built on the way). The
 * manifest names the previous day's manifest hash, so the days form a chain and a missing day is
 * detectable.
 *
 * Reruns: a day whose manifest exists is a no-op. A run cut off before its data object completed
 * left nothing visible (an unfinished multipart upload, which the bucket's lifecycle aborts), so
 * the rerun writes the day from the start; one cut off between the two objects finds the data
 * object taken, checks that it holds exactly the bytes the day gives now, and writes the manifest.
 */
export async function exportDay(
  deps: NightlyExportDeps,
  workspace: WorkspaceRecord,
  day: string,
  now: Date,
): Promise<DayExport> {
  const prefix = dayPrefix(workspace.workspaceId, day);
  const manifestKey = manifestKeyOf(workspace.workspaceId, day);
  const existing = await readManifest(deps.archive, workspace.workspaceId, day);
  if (existing) {
    const { manifest } = existing;
    return {
      workspaceId: workspace.workspaceId,
      day,
      status: "exists",
      eventCount: manifest.eventCount,
      manifestKey,
      dataKey: manifest.data.key,
      dataSha256: manifest.data.sha256,
    };
  }

  const start = `${day}T00:00:00.000Z`;
  const retainUntil = new Date(Date.parse(start) + workspace.retentionDays * DAY_MS);
  const dataKey = `${prefix}events.ndjson.gz`;
  const merkle = new MerkleAccumulator();
  let first: StoredEvent | undefined;
  let last: StoredEvent | undefined;
  // The day's leaf hashes (32 bytes an event), checked against the signed root before the manifest.
  const leaves: Buffer[] = [];
  const written = await writeExportFile({
    archive: deps.archive,
    key: dataKey,
    contentType: "application/x-ndjson",
    retainUntil,
    format: "ndjson",
    gzip: true,
    partBytes: deps.partBytes,
    events: deps.events.stream({
      workspaceId: workspace.workspaceId,
      since: start,
      until: new Date(Date.parse(start) + DAY_MS).toISOString(),
      nowEpochSeconds: Math.floor(now.getTime() / 1000),
      ascending: true,
    }),
    positionOf: (event) => deps.events.positionOf(event),
    onEvent: (event) => {
      merkle.add(event.hash);
      first ??= event;
      last = event;
      leaves.push(leafHash(leafDataOf(event)));
    },
  });
  if (written.status !== "written") throw new Error("a nightly file cannot stop half-way");
  if (written.put === "exists" && written.producedSha256 !== written.sha256) {
    throw new Error(`${dataKey} exists with other content; the day changed after a partial export`);
  }

  const log =
    first && last
      ? await dayEvidence(
          deps,
          workspace.workspaceId,
          { first, last, count: written.eventCount, leaves },
          now,
        )
      : null;
  const previous = await readManifest(deps.archive, workspace.workspaceId, previousUtcDay(new Date(start)));
  const manifest: NightlyManifest = {
    version: 1,
    workspace: workspace.workspaceId,
    day,
    eventCount: written.eventCount,
    firstRecordedAt: first?.recordedAt ?? null,
    lastRecordedAt: last?.recordedAt ?? null,
    data: {
      key: dataKey,
      sha256: written.sha256,
      bytes: written.bytes,
      encoding: "gzip",
      format: "ndjson",
    },
    eventHashes: {
      merkleRoot: merkle.root(),
      algorithm: "RFC 6962 SHA-256, leaves in file order",
    },
    previousManifestSha256: previous ? sha256Hex(previous.bytes) : null,
    retainUntil: retainUntil.toISOString(),
    log,
  };
  const status = await deps.archive.putOnce(
    manifestKey,
    Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    { contentType: "application/json", retainUntil },
  );
  return {
    workspaceId: workspace.workspaceId,
    day,
    status,
    eventCount: written.eventCount,
    manifestKey,
    dataKey,
    dataSha256: written.sha256,
  };
}

/**
 * The nightly job: every enterprise workspace's `day` into the Object Lock bucket first, then the
 * copies to the workspaces' own buckets, so no customer endpoint can hold up a built-in copy. One
 * workspace's failure does not stop the others; the run throws at the end (so the scheduler retries
 * it, and the rerun skips what is done). Copies still pending when `timeIsShort()` are left to the
 * next night's catch-up ("deferred").
 */
export async function runNightlyExport(
  deps: NightlyExportDeps,
  day: string,
  now: Date,
  timeIsShort: () => boolean = () => false,
): Promise<DayExport[]> {
  const workspaces = (await deps.control.listWorkspaces()).filter((w) => w.plan === "enterprise");
  const written: { workspace: WorkspaceRecord; result: DayExport }[] = [];
  const failed: string[] = [];
  for (const workspace of workspaces) {
    try {
      written.push({ workspace, result: await exportDay(deps, workspace, day, now) });
    } catch (err: unknown) {
      logger.error("nightly export of a workspace failed", {
        workspaceId: workspace.workspaceId,
        day,
        error: err as Error,
      });
      failed.push(workspace.workspaceId);
    }
  }
  const results: DayExport[] = [];
  for (const { workspace, result } of written) {
    if (!workspace.exportDestination) {
      results.push(result);
    } else if (timeIsShort()) {
      results.push({ ...result, destination: { status: "deferred", attempts: 0 } });
    } else {
      const destination = await deliverDay(deps, workspace, result, () => earlierDays(deps, workspace, day));
      results.push(destination ? { ...result, destination } : result);
    }
  }
  if (failed.length) throw new Error(`nightly export of ${day} failed for: ${failed.join(", ")}`);
  return results;
}

/** The built-in files of the days before `day` (newest first), for a destination to catch up on. */
async function earlierDays(
  deps: NightlyExportDeps,
  workspace: WorkspaceRecord,
  day: string,
): Promise<DayFiles[]> {
  const out: DayFiles[] = [];
  for (let i = 1; i <= CATCH_UP_DAYS; i++) {
    const earlier = new Date(Date.parse(`${day}T00:00:00.000Z`) - i * DAY_MS).toISOString().slice(0, 10);
    const stored = await readManifest(deps.archive, workspace.workspaceId, earlier);
    if (!stored) continue;
    const { key: manifestKey, manifest } = stored;
    out.push({ day: earlier, manifestKey, dataKey: manifest.data.key, dataSha256: manifest.data.sha256 });
  }
  return out;
}

const MAX_LIST_DAYS = 366;

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00.000Z`); t <= Date.parse(`${to}T00:00:00.000Z`); t += DAY_MS) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/**
 * The workspace's nightly exports in a range of days, each with its manifest and the manifest's
 * SHA-256 (what the next day's manifest chains to), plus the days that should have one and do
 * not. Recorded as `audit.queried`.
 */
export async function listNightlyExports(
  deps: EventsDeps & { archive: ArchiveStore },
  principal: Principal,
  client: Client,
  query: z.output<typeof nightlyListQuerySchema>,
) {
  const now = deps.clock.now();
  const to = query.to ?? previousUtcDay(now);
  const from =
    query.from ?? new Date(Date.parse(`${to}T00:00:00.000Z`) - 29 * DAY_MS).toISOString().slice(0, 10);
  // The span first, by arithmetic: a range of ten thousand years is refused before it is walked.
  const span = (Date.parse(`${to}T00:00:00.000Z`) - Date.parse(`${from}T00:00:00.000Z`)) / DAY_MS;
  if (!(span >= 0 && span < MAX_LIST_DAYS)) {
    throw new ValidationError([
      { path: "/to", message: `must be 0–${MAX_LIST_DAYS - 1} days after \`from\`` },
    ]);
  }
  const days = daysBetween(from, to);
  const found = await Promise.all(
    days.map(async (day) => {
      const stored = await readManifest(deps.archive, principal.workspaceId, day);
      return stored
        ? { day, manifestKey: stored.key, manifestSha256: sha256Hex(stored.bytes), manifest: stored.manifest }
        : { day, manifestKey: undefined };
    }),
  );
  const workspace = await deps.control.getWorkspace(principal.workspaceId);
  const expectedFrom = workspace?.plan === "enterprise" ? workspace.createdAt.slice(0, 10) : "9999-12-31";
  const today = now.toISOString().slice(0, 10);
  await recordQueried(deps, principal, client, "list-nightly-exports", { from, to });
  return {
    exports: found.flatMap((f) =>
      f.manifestKey ? [f as Exclude<typeof f, { manifestKey: undefined }>] : [],
    ),
    missingDays: found
      .filter((f) => !f.manifestKey && f.day >= expectedFrom && f.day < today)
      .map((f) => f.day),
  };
}
