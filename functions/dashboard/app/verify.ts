/// <reference lib="dom" />
import {
  type EventProof,
  fromBase64,
  keyFingerprint,
  openCheckpoint,
  parseVerifierKey,
  VerifyError,
  verifyConsistency,
  verifyEventInclusion,
} from "../../shared/tlog/web-verify.js";
import { ApiError, getJson, getText, type StoredEvent } from "./api.js";

/**
 * The Verify button: the event's inclusion proof, checked in the browser against a checkpoint
 * signed by the pinned key (WebCrypto; functions/shared/tlog/web-verify.ts). The key is pinned in
 * localStorage on first use, per log origin (one per workspace); a different key served later is
 * reported and not used until the person chooses to trust it.
 */

const PINS_KEY = "audit-log.pinned-keys";

export interface Pin {
  verifierKey: string;
  pinnedAt: string;
}

function pins(): Record<string, Pin> {
  try {
    return JSON.parse(localStorage.getItem(PINS_KEY) ?? "{}") as Record<string, Pin>;
  } catch {
    return {};
  }
}

export function pinKey(origin: string, verifierKey: string, now: Date): void {
  localStorage.setItem(
    PINS_KEY,
    JSON.stringify({ ...pins(), [origin]: { verifierKey, pinnedAt: now.toISOString() } }),
  );
}

/** GET /v1/log/key. */
interface LogKey {
  verifierKey: string;
  keyName: string;
  origin: string;
}

export type KeyStatus =
  | { kind: "first-use" }
  | { kind: "pinned"; pinnedAt: string }
  | { kind: "changed"; pinnedAt: string; servedKey: string; servedFingerprint: string };

export type VerifyResult =
  | {
      ok: true;
      size: number;
      index: number;
      root: string;
      keyName: string;
      fingerprint: string;
      origin: string;
      key: KeyStatus;
      /** The latest checkpoint's size, when it is larger and consistent with the proof's. */
      latestSize: number;
    }
  | { ok: false; reason: string; key?: KeyStatus; origin?: string; fingerprint?: string };

const message = (err: unknown) =>
  err instanceof VerifyError || err instanceof ApiError ? err.message : `unexpected error: ${String(err)}`;

/**
 * Verifies one event end to end. Never throws: every failure, the network's included, becomes a
 * reason to show.
 */
export async function verifyEvent(event: StoredEvent, now: Date): Promise<VerifyResult> {
  let key: KeyStatus | undefined;
  let origin: string | undefined;
  let fingerprint: string | undefined;
  try {
    const served = await getJson<LogKey>("v1/log/key");
    origin = served.origin;
    const pinned = pins()[origin];
    if (!pinned) {
      pinKey(origin, served.verifierKey, now);
      key = { kind: "first-use" };
    } else if (pinned.verifierKey !== served.verifierKey) {
      const servedVerifier = await parseVerifierKey(served.verifierKey).catch(() => undefined);
      key = {
        kind: "changed",
        pinnedAt: pinned.pinnedAt,
        servedKey: served.verifierKey,
        servedFingerprint: servedVerifier ? await keyFingerprint(servedVerifier) : "(not a valid key)",
      };
    } else {
      key = { kind: "pinned", pinnedAt: pinned.pinnedAt };
    }
    const verifier = await parseVerifierKey((pins()[origin] as Pin).verifierKey);
    fingerprint = await keyFingerprint(verifier);

    const [proof, latestNote] = await Promise.all([
      getJson<EventProof>(`v1/events/${encodeURIComponent(event.id)}/proof`),
      getText("v1/log/checkpoint"),
    ]);
    const included = await verifyEventInclusion({ event: { ...event }, proof, verifier, origin });

    // The latest checkpoint must be the proof's tree or extend it: a log that forked since is caught.
    const latest = await openCheckpoint(latestNote, verifier, origin);
    if (latest.size < included.size) {
      throw new VerifyError(
        `the latest checkpoint (size ${latest.size}) is older than the proof's (size ${included.size})`,
      );
    }
    const proofRoot = fromBase64(included.root);
    if (latest.size === included.size) {
      await verifyConsistency(included.size, latest.size, [], proofRoot, latest.root);
    } else {
      const consistency = await getJson<{ proof: string[] }>(
        `v1/log/consistency?from=${included.size}&to=${latest.size}`,
      );
      await verifyConsistency(
        included.size,
        latest.size,
        consistency.proof.map((h, i) => fromBase64(String(h), `consistency hash ${i}`)),
        proofRoot,
        latest.root,
      );
    }
    return {
      ok: true,
      size: included.size,
      index: included.index,
      root: included.root,
      keyName: verifier.name,
      fingerprint,
      origin,
      key,
      latestSize: latest.size,
    };
  } catch (err: unknown) {
    const reason =
      err instanceof ApiError && err.status === 409
        ? `${err.message} (the log seals new events every minute)`
        : message(err);
    return {
      ok: false,
      reason,
      ...(key ? { key } : {}),
      ...(origin ? { origin } : {}),
      ...(fingerprint ? { fingerprint } : {}),
    };
  }
}
