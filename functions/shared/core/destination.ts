import { createHash } from "node:crypto";
import { logger } from "../logger.js";
import type {
  ArchiveStore,
  DestinationBucket,
  ExportDestination,
  OpenDestination,
  SecretStore,
  WorkspaceRecord,
} from "../ports.js";
import { type EventsDeps, recordServiceEvent } from "./events.js";

export interface DeliveryDeps extends EventsDeps {
  archive: ArchiveStore;
  secrets: SecretStore;
  openDestination: OpenDestination;
  /** Waits between attempts; tests pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>;
}

export interface Delivery {
  /** "already": a rerun found the day at the destination; "deferred": left for a later night. */
  status: "delivered" | "already" | "failed" | "deferred";
  attempts: number;
  error?: string;
  /** Earlier days that had not reached the destination and were delivered by this run. */
  caughtUp?: string[];
  /** An earlier day whose catch-up failed (recorded like any failed day; today's copy stands). */
  catchUpFailed?: { day: string; error: string };
}

/** One day's files in the built-in bucket. */
export interface DayFiles {
  day: string;
  dataKey: string;
  dataSha256: string;
  manifestKey: string;
}

/** The log line the stack's alarm counts (a CloudWatch Logs metric filter on `message`). */
export const DESTINATION_DELIVERY_FAILED = "destination delivery failed";

/** The waits between the attempts at one day's copy (three attempts). */
export const DELIVERY_BACKOFF_MS = [2_000, 10_000] as const;
/** How far back a run looks for days that never reached the destination. */
export const CATCH_UP_DAYS = 7;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `<prefix>exports/<workspace>/<yyyy>/<mm>/<dd>/<file>`: the built-in key under the customer's prefix. */
export const destinationKey = (destination: ExportDestination, builtInKey: string) =>
  `${destination.prefix}${builtInKey}`;

/**
 * Copies a day's files, byte for byte, from the built-in bucket to the workspace's own bucket:
 * the data object first, the manifest last (a manifest there means its data is there), each with
 * its SHA-256 for the endpoint to check. Each day's copy gets {@link DELIVERY_BACKOFF_MS}.length + 1
 * attempts. It never throws: a failure is logged (the stack alarms on that line) and recorded in
 * the workspace's log as `audit.export_delivery_failed`, and the built-in copy stands regardless.
 * A rerun skips a day whose manifest is already there. After a success, earlier days (up to
 * {@link CATCH_UP_DAYS}) whose manifest is missing at the destination are delivered too, so an
 * outage heals on the next good night; a catch-up failure is that earlier day's, not today's.
 */
export async function deliverDay(
  deps: DeliveryDeps,
  workspace: WorkspaceRecord,
  files: DayFiles,
  earlierDays: () => Promise<DayFiles[]>,
): Promise<Delivery | undefined> {
  const destination = workspace.exportDestination;
  if (!destination) return undefined;
  const sleep = deps.sleep ?? realSleep;
  let attempts = 0;
  const withRetries = async <T>(work: () => Promise<T>): Promise<T> => {
    for (let i = 0; ; i++) {
      attempts++;
      try {
        return await work();
      } catch (err: unknown) {
        const wait = DELIVERY_BACKOFF_MS[i];
        if (wait === undefined) throw err;
        await sleep(wait);
      }
    }
  };

  let bucket: DestinationBucket;
  try {
    const secret = await deps.secrets.get(destination.secretName);
    if (secret === undefined)
      throw new Error(`the destination's secret ${destination.secretName} is missing`);
    bucket = deps.openDestination(destination, secret);
    if (
      (await bucket.exists(destinationKey(destination, files.manifestKey)).catch(() => undefined)) === true
    ) {
      return { status: "already", attempts: 0 };
    }
    await withRetries(() => copyDay(deps.archive, bucket, destination, files));
  } catch (err: unknown) {
    const error = describe(err);
    await reportFailure(deps, workspace, destination, files.day, attempts, error);
    return { status: "failed", attempts, error };
  }

  const delivery: Delivery = { status: "delivered", attempts };
  const caughtUp: string[] = [];
  for (const earlier of await earlierDays().catch(() => [])) {
    const before = attempts;
    try {
      // A bucket that answers 403 to HEAD (write-only credentials) cannot say: assume delivered.
      const present = await bucket.exists(destinationKey(destination, earlier.manifestKey)).catch(() => true);
      if (present) continue;
      await withRetries(() => copyDay(deps.archive, bucket, destination, earlier));
      caughtUp.push(earlier.day);
    } catch (err: unknown) {
      const error = describe(err);
      await reportFailure(deps, workspace, destination, earlier.day, attempts - before, error);
      delivery.catchUpFailed = { day: earlier.day, error };
      break;
    }
  }
  delivery.attempts = attempts;
  if (caughtUp.length) delivery.caughtUp = caughtUp;
  return delivery;
}

/** The alarm's log line and the workspace's `audit.export_delivery_failed`, once per workspace-day. */
async function reportFailure(
  deps: DeliveryDeps,
  workspace: WorkspaceRecord,
  destination: ExportDestination,
  day: string,
  attempts: number,
  error: string,
): Promise<void> {
  logger.error(DESTINATION_DELIVERY_FAILED, {
    workspaceId: workspace.workspaceId,
    day,
    bucket: destination.bucket,
    endpoint: destination.endpoint,
    attempts,
    error,
  });
  await recordServiceEvent(deps, workspace.workspaceId, {
    // One record per workspace-day, however often the run is repeated.
    id: `export-delivery-failed-${day}`,
    type: "audit.export_delivery_failed",
    actor: { type: "system", id: "nightly-export" },
    resource: { type: "nightly_export", id: day },
    context: {
      day,
      destination: {
        bucket: destination.bucket,
        prefix: destination.prefix,
        ...(destination.endpoint ? { endpoint: destination.endpoint } : {}),
      },
      attempts,
      error,
    },
  }).catch((recordErr: unknown) =>
    logger.error("could not record the delivery failure", { error: recordErr as Error }),
  );
}

async function copyDay(
  archive: ArchiveStore,
  bucket: DestinationBucket,
  destination: ExportDestination,
  files: DayFiles,
): Promise<void> {
  const data = await archive.read(files.dataKey);
  if (!data) throw new Error(`${files.dataKey} is not in the built-in bucket`);
  try {
    await bucket.put(destinationKey(destination, files.dataKey), data, {
      contentType: "application/x-ndjson",
      checksumSha256: Buffer.from(files.dataSha256, "hex").toString("base64"),
    });
  } finally {
    // A failed put leaves the source stream half-read: release its connection.
    (data.body as { destroy?: () => void }).destroy?.();
  }
  const manifest = await archive.get(files.manifestKey);
  if (!manifest) throw new Error(`${files.manifestKey} is not in the built-in bucket`);
  await bucket.put(destinationKey(destination, files.manifestKey), manifest, {
    contentType: "application/json",
    checksumSha256: createHash("sha256").update(manifest).digest("base64"),
  });
}

/** An error's name and message, without stack or internals; the endpoint is named separately. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err).slice(0, 300);
  const code = (err as { code?: string }).code;
  return `${err.name}${code && code !== err.name ? ` (${code})` : ""}: ${err.message}`.slice(0, 300);
}
