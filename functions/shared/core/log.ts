import type * as z from "zod";
import { canonicalJson, sha256Hex } from "../canonical.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { EvidenceFrame } from "../export-formats.js";
import { logger } from "../logger.js";
import {
  type ArchiveStore,
  type CheckpointSigner,
  type EventQuery,
  type LogState,
  type LogStore,
  type Position,
  type Principal,
  SEAL_SETTLE_MS,
} from "../ports.js";
import type { StoredEvent } from "../schemas/event.js";
import type { consistencyQuerySchema } from "../schemas/log.js";
import { OPERATOR_LOG } from "../table.js";
import { BUNDLE_FORMAT, type BundleHeader, type BundleTrailer, type DayLogEvidence } from "../tlog/bundle.js";
import {
  CompactRange,
  consistencySpans,
  inclusionSpans,
  leafHash,
  multiProofSpans,
  rootFromMultiProof,
  type Span,
  verifyConsistency,
  verifyInclusion,
} from "../tlog/merkle.js";
import { formatCheckpoint, signNote } from "../tlog/note.js";
import {
  compactFromEdges,
  edgeTiles,
  parseTilePath,
  TILE_WIDTH,
  type Tile,
  TileBuilder,
  TileHashes,
  type TileId,
  type TileReader,
  tileAt,
  tilePath,
} from "../tlog/tiles.js";
import { type Client, recordQueried } from "./access.js";
import { type EventsDeps, recordServiceEvent, retentionDaysOf } from "./events.js";
import { ownEventOrNotFound } from "./reads.js";
import { INTEGRITY_VIOLATION } from "./tamper-watch.js";

/**
 * The verifiable log (docs/integrity.md): per workspace, an RFC 6962 tree over its events in sort
 * key order (`recordedAt#id`), sealed every minute into C2SP tiles in the Object Lock bucket and a
 * signed checkpoint.
 */
export interface LogDeps extends EventsDeps {
  log: LogStore;
  archive: ArchiveStore;
  checkpoints: CheckpointSigner;
  /** The stage's log name (`LOG_NAME`): the key name, and the prefix of every origin. */
  logName: string;
}

/** What reading the tree needs (no signing key). */
export type LogReadDeps = Omit<LogDeps, "checkpoints">;

const DAY_MS = 86_400_000;
/** Tiles and checkpoints outlive the events they cover by this much, so old proofs still verify. */
export const PROOF_RETENTION_EXTRA_DAYS = 365;
/** The line every sealer run ends with (its `failedWorkspaces` is the stack's SealerFailedOrStopped alarm). */
export const SEALER_RUN = "sealer run";
/** A workspace with events but nothing new gets a checkpoint at least this often (a heartbeat). */
export const HEARTBEAT_MS = 55 * 60_000;
/** Events one run seals per workspace at most; the next run goes on. */
export const MAX_SEAL_PER_RUN = 50_000;
/** The longest retention a workspace can have (enterprise plans), in days. */
const MAX_RETENTION_DAYS = 365;

/** The origin line of a workspace's checkpoints: the stage's log, then the workspace. */
export const originOf = (logName: string, workspaceId: string) => `${logName}/${workspaceId}`;

const logKey = (workspaceId: string, rest: string) => `log/${workspaceId}/${rest}`;
export const tileKey = (workspaceId: string, id: TileId) => logKey(workspaceId, tilePath(id));
/** Every checkpoint ever signed, by size then time, write-once. */
export const checkpointKey = (workspaceId: string, size: number, at: string) =>
  logKey(workspaceId, `checkpoint/${String(size).padStart(16, "0")}/${at}`);

/** A leaf's data: the event's canonical JSON without `hash`, the bytes its `hash` is over. */
export function leafDataOf(event: StoredEvent): Buffer {
  const { hash: _hash, ...content } = event;
  return Buffer.from(canonicalJson(content));
}

/** What the sealer or the tamper watch found: logged for the alarm, and recorded in the operator log. */
export interface Violation {
  kind: "item_modified" | "item_removed" | "sealed_range_insert" | "tile_mismatch";
  workspace: string;
  detail: string;
  /** Makes the recorded event's id, so a rerun that finds the same thing records it once. */
  dedupeKey: string;
}

export async function reportViolation(deps: EventsDeps, v: Violation): Promise<void> {
  // The tamper watch's line: the same metric filter counts both (lib/audit-log-stack.ts).
  logger.error(INTEGRITY_VIOLATION, {
    violation: { kind: v.kind, workspace: v.workspace, detail: v.detail },
  });
  await recordServiceEvent(deps, OPERATOR_LOG, {
    id: `integrity-${sha256Hex(v.dedupeKey).slice(0, 40)}`,
    type: "integrity.violation",
    actor: { type: "service", id: "audit-log" },
    outcome: "failure",
    context: { kind: v.kind, workspace: v.workspace, detail: v.detail.slice(0, 2048) },
  });
}

/** Thrown when the stored tree does not match the sealer's state: the workspace is not sealed on. */
class TreeMismatch extends Error {
  override readonly name = "TreeMismatch";
}

export type SealOutcome =
  | { workspaceId: string; status: "empty" | "idle" | "raced" }
  | {
      workspaceId: string;
      status: "sealed";
      size: number;
      added: number;
      checkpointAt: string;
      /**
       * Set when the run stopped at {@link MAX_SEAL_PER_RUN} with settled events left: the
       * recordedAt of the last event it sealed (the ones left are younger).
       */
      behindFrom?: string;
    };

/**
 * One sealing step of one workspace. Reads the events after the last sealed one that are at least
 * {@link SEAL_SETTLE_MS} old (no append attempt is sent that late, and one in flight lands within the margin), appends them, writes the
 * changed tiles (write-once; a rerun finds them with the same bytes), signs a checkpoint, stores it,
 * and replaces the state only if nobody else did first. Killed at any step, a rerun gives the same
 * tree; two racing runs give one tree (the loser's state write fails and its tiles are the same).
 */
export async function sealWorkspace(deps: LogDeps, workspaceId: string, now: Date): Promise<SealOutcome> {
  const state = await deps.log.getState(workspaceId);
  const size0 = state?.size ?? 0;
  const compact0 = state ? CompactRange.of(size0, state.compact) : CompactRange.empty();
  if (state && !compact0.root().equals(state.root)) {
    throw new TreeMismatch(`the stored state of ${workspaceId}'s log does not give its own root`);
  }
  const cutoff = new Date(now.getTime() - SEAL_SETTLE_MS).toISOString();
  const fresh: { key: Position; event: StoredEvent }[] = [];
  for await (const event of deps.events.stream({
    workspaceId,
    after: state?.lastKey || undefined,
    until: cutoff,
    ascending: true,
    // Every stored event is sealed, even one past its retention that TTL has not removed yet.
    nowEpochSeconds: 0,
  })) {
    fresh.push({ key: deps.events.positionOf(event), event });
    if (fresh.length >= MAX_SEAL_PER_RUN) break;
  }
  if (!fresh.length && (!state || now.getTime() - Date.parse(state.checkpointAt) < HEARTBEAT_MS)) {
    return { workspaceId, status: state ? "idle" : "empty" };
  }

  const edges: Tile[] = [];
  for (const id of edgeTiles(size0)) {
    const data = await deps.archive.get(tileKey(workspaceId, id));
    if (!data)
      throw await mismatch(deps, workspaceId, `tile ${tilePath(id)} of tree size ${size0} is missing`);
    edges.push({ ...id, data });
  }
  let fromEdges: CompactRange | undefined;
  try {
    fromEdges = compactFromEdges(size0, edges);
  } catch {
    fromEdges = undefined;
  }
  if (!fromEdges?.root().equals(compact0.root())) {
    throw await mismatch(
      deps,
      workspaceId,
      `the stored edge tiles of tree size ${size0} do not give its root`,
    );
  }

  const builder = new TileBuilder(size0, edges, compact0);
  const anchors: { tile: number; firstKey: Position }[] = [];
  for (const { key, event } of fresh) {
    const data = leafDataOf(event);
    if (sha256Hex(data) !== event.hash) {
      // Sealed as stored (the tree says what the table held), and reported.
      await reportViolation(deps, {
        kind: "item_modified",
        workspace: workspaceId,
        detail: `event ${event.id} (recordedAt ${event.recordedAt}, leaf ${builder.size}) does not match its own hash`,
        dedupeKey: `hash:${workspaceId}:${key}:${sha256Hex(data)}`,
      });
    }
    if (builder.size % TILE_WIDTH === 0) anchors.push({ tile: builder.size / TILE_WIDTH, firstKey: key });
    builder.append(leafHash(data));
  }

  const retentionDays = await retentionDaysOf(deps, workspaceId);
  // A tile covers events sealed over a long time, and a workspace's retention may change after: lock
  // for the longest retention any event can have, plus a year, so no tile expires before its proofs.
  const retainUntil = new Date(
    now.getTime() + (Math.max(retentionDays, MAX_RETENTION_DAYS) + PROOF_RETENTION_EXTRA_DAYS) * DAY_MS,
  );
  for (const tile of builder.tiles()) {
    const key = tileKey(workspaceId, tile);
    const put = await deps.archive.putOnce(key, tile.data, {
      contentType: "application/octet-stream",
      retainUntil,
    });
    if (put === "exists" && !(await deps.archive.get(key))?.equals(tile.data)) {
      throw await mismatch(
        deps,
        workspaceId,
        `tile ${tilePath(tile)} is stored with other hashes than the tree's`,
      );
    }
  }
  for (const a of anchors) await deps.log.putAnchor(workspaceId, a.tile, a.firstKey);

  const { signer } = await deps.checkpoints.signer();
  // Never earlier than the last checkpoint's (a nightly run seals with the time it started).
  const checkpointAt = new Date(
    Math.max(now.getTime(), Date.parse(state?.checkpointAt ?? "1970-01-01T00:00:00Z")),
  ).toISOString();
  const note = await signNote(
    formatCheckpoint({
      origin: originOf(deps.logName, workspaceId),
      size: builder.size,
      root: builder.root(),
      extensions: [`time ${checkpointAt}`],
    }),
    [signer],
  );
  await deps.archive.putOnce(checkpointKey(workspaceId, builder.size, checkpointAt), Buffer.from(note), {
    contentType: "text/plain; charset=utf-8",
    retainUntil,
  });
  const next: LogState = {
    workspaceId,
    size: builder.size,
    compact: [...builder.range().hashes],
    root: builder.root(),
    lastKey: fresh.at(-1)?.key ?? state?.lastKey ?? "",
    checkpoint: note,
    checkpointAt,
    revision: (state?.revision ?? 0) + 1,
  };
  if (!(await deps.log.putState(next))) return { workspaceId, status: "raced" };
  const last = fresh.at(-1)?.event;
  return {
    workspaceId,
    status: "sealed",
    size: next.size,
    added: fresh.length,
    checkpointAt,
    ...(fresh.length >= MAX_SEAL_PER_RUN && last ? { behindFrom: last.recordedAt } : {}),
  };
}

async function mismatch(deps: LogDeps, workspaceId: string, detail: string): Promise<TreeMismatch> {
  await reportViolation(deps, {
    kind: "tile_mismatch",
    workspace: workspaceId,
    detail,
    dedupeKey: `tile:${workspaceId}:${detail}`,
  });
  return new TreeMismatch(`${workspaceId}: ${detail}`);
}

/**
 * The scheduled sealer: every workspace (and the operator log), one after another, starting at a
 * different workspace each minute so that a run cut short never starves the same ones. It starts
 * no workspace once `timeIsShort()`; the next run goes on. One workspace's failure is logged and
 * does not stop the others; the run's last line counts the failures (and skipped ones) for the
 * stack's alarm, and the run does not throw, so the scheduler does not retry it into a race with
 * the next minute's run.
 */
export async function runSealer(
  deps: LogDeps,
  now: Date,
  timeIsShort: () => boolean = () => false,
): Promise<{ outcomes: SealOutcome[]; failed: string[]; skipped: string[] }> {
  const all = [...(await deps.control.listWorkspaces()).map((w) => w.workspaceId), OPERATOR_LOG];
  const start = Math.floor(now.getTime() / 60_000) % all.length;
  const workspaces = [...all.slice(start), ...all.slice(0, start)];
  const outcomes: SealOutcome[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  for (const workspaceId of workspaces) {
    if (timeIsShort()) {
      skipped.push(workspaceId);
      continue;
    }
    try {
      outcomes.push(await sealWorkspace(deps, workspaceId, now));
    } catch (err: unknown) {
      logger.error("sealing a workspace's log failed", { workspaceId, error: err as Error });
      failed.push(workspaceId);
    }
  }
  const sealed = outcomes.filter((o) => o.status === "sealed");
  logger.info(SEALER_RUN, {
    sealed: sealed.length,
    events: sealed.reduce((n, o) => n + (o.status === "sealed" ? o.added : 0), 0),
    failed,
    skipped: skipped.length,
    // The stack alarms on this value, and on its absence: a sealer that stopped running.
    failedWorkspaces: failed.length + skipped.length,
  });
  return { outcomes, failed, skipped };
}

// ---- reads (scope events:read, each recorded as audit.queried) ----

async function stateOrNotFound(deps: LogReadDeps, workspaceId: string): Promise<LogState> {
  const state = await deps.log.getState(workspaceId);
  if (!state)
    throw new NotFoundError(
      "this workspace's log has no checkpoint yet; one follows within two minutes of its first event",
    );
  return state;
}

/** Reads tiles as a tree of `size` has them; a partial tile never written at that width is a prefix of the current one. */
function archiveTiles(deps: LogReadDeps, workspaceId: string, current: number): TileReader {
  return async (id) => {
    const exact = await deps.archive.get(tileKey(workspaceId, id));
    if (exact) return exact;
    const now = tileAt(current, id.level, id.n);
    if (now && now.width > id.width) {
      const wider = await deps.archive.get(tileKey(workspaceId, now));
      if (wider) return wider.subarray(0, id.width * 32);
    }
    throw new Error(`${workspaceId}: tile ${tilePath(id)} is missing`);
  };
}

export async function latestCheckpoint(
  deps: LogReadDeps,
  principal: Principal,
  client: Client,
): Promise<string> {
  const state = await stateOrNotFound(deps, principal.workspaceId);
  await recordQueried(deps, principal, client, "log-checkpoint", {}, { size: state.size });
  return state.checkpoint;
}

/** What the key route needs: the signer's public half and the log's name. */
export type LogKeyDeps = EventsDeps & Pick<LogDeps, "checkpoints" | "logName">;

export async function logKeyInfo(deps: LogKeyDeps, principal: Principal, client: Client) {
  const { verifierKey } = await deps.checkpoints.signer();
  await recordQueried(deps, principal, client, "log-key", {});
  return {
    verifierKey,
    keyName: deps.logName,
    origin: originOf(deps.logName, principal.workspaceId),
    signatureType: "ECDSA P-256 / SHA-256 (c2sp.org/signed-note type 0x02)",
  };
}

/** One tile of the workspace's tree, as tlog clients fetch them; 404 for a tile the tree does not have. */
export async function readTile(
  deps: LogReadDeps,
  principal: Principal,
  client: Client,
  path: string,
): Promise<Buffer> {
  const id = parseTilePath(path);
  if (!id) throw new NotFoundError(`${path.slice(0, 100)} is not a tile path (tile/<L>/<N>[.p/<W>])`);
  const state = await stateOrNotFound(deps, principal.workspaceId);
  const have = tileAt(state.size, id.level, id.n);
  if (!have || have.width < id.width) throw new NotFoundError(`the tree (size ${state.size}) has no ${path}`);
  const data = await archiveTiles(deps, principal.workspaceId, state.size)(id);
  await recordQueried(deps, principal, client, "log-tile", { tile: path });
  return data;
}

const b64 = (h: Buffer) => h.toString("base64");

/** The tree of `state` read from its tiles, each tile once for everything one request asks of it. */
const treeOf = (deps: LogReadDeps, state: LogState) =>
  new TileHashes(state.size, archiveTiles(deps, state.workspaceId, state.size));

/** Where an event sits in the tree: its anchor's tile, then its leaf hash in that tile. */
async function leafIndexOf(
  deps: LogReadDeps,
  state: LogState,
  tree: TileHashes,
  event: StoredEvent,
): Promise<number> {
  const key = deps.events.positionOf(event);
  if (key > state.lastKey) {
    throw new ConflictError(`event ${event.id} is not covered by a checkpoint yet; retry in a minute`);
  }
  const anchor = await deps.log.anchorAtOrBefore(state.workspaceId, key);
  const notInTree = new ConflictError(
    `event ${event.id} is not in the log's tree as stored: it was changed or added after sealing (this has been reported)`,
  );
  if (!anchor) throw notInTree;
  const id = tileAt(state.size, 0, anchor.tile);
  if (!id) throw notInTree;
  const hashes = await tree.tile(0, anchor.tile);
  const leaf = leafHash(leafDataOf(event));
  const at = hashes.findIndex((h) => h.equals(leaf));
  if (at < 0) {
    await reportViolation(deps, {
      kind: "item_modified",
      workspace: state.workspaceId,
      detail: `event ${event.id} (recordedAt ${event.recordedAt}) is not in the sealed tile ${tilePath(id)}: changed or inserted after sealing`,
      dedupeKey: `proof:${state.workspaceId}:${key}:${b64(leaf)}`,
    });
    throw notInTree;
  }
  return anchor.tile * TILE_WIDTH + at;
}

/** The event's leaf index and its inclusion proof against the latest checkpoint. */
export async function eventProof(deps: LogReadDeps, principal: Principal, client: Client, id: string) {
  const event = await ownEventOrNotFound(deps, principal, client, id);
  const state = await stateOrNotFound(deps, principal.workspaceId);
  const hashes = treeOf(deps, state);
  const index = await leafIndexOf(deps, state, hashes, event);
  const proof = await hashes.spans(inclusionSpans(index, state.size));
  const leaf = leafHash(leafDataOf(event));
  // Checked before it goes out: a replaced tile is caught here, not only by the client.
  try {
    verifyInclusion(index, state.size, leaf, proof, state.root);
  } catch {
    await reportViolation(deps, {
      kind: "tile_mismatch",
      workspace: state.workspaceId,
      detail: `the stored tiles do not prove leaf ${index} (event ${event.id}) in tree size ${state.size}`,
      dedupeKey: `inclusion:${state.workspaceId}:${index}:${state.size}`,
    });
    throw new Error(`tiles of ${state.workspaceId} do not prove leaf ${index}`);
  }
  await recordQueried(deps, principal, client, "event-proof", { id }, { index, treeSize: state.size });
  return {
    id: event.id,
    index,
    treeSize: state.size,
    leafHash: b64(leaf),
    inclusion: proof.map(b64),
    checkpoint: state.checkpoint,
  };
}

/** A consistency proof between two tree sizes, the second at most the latest. */
export async function consistencyProof(
  deps: LogReadDeps,
  principal: Principal,
  client: Client,
  query: z.output<typeof consistencyQuerySchema>,
) {
  const state = await stateOrNotFound(deps, principal.workspaceId);
  const { from } = query;
  const to = query.to ?? state.size;
  if (from > to || to > state.size) {
    throw new ValidationError([
      { path: "/to", message: `need from ≤ to ≤ ${state.size} (the latest checkpoint's size)` },
    ]);
  }
  const spans: Span[] = consistencySpans(from, to);
  const proof = await new TileHashes(to, archiveTiles(deps, principal.workspaceId, state.size)).spans(spans);
  await recordQueried(deps, principal, client, "log-consistency", { from: String(from), to: String(to) });
  return { from, to, proof: proof.map(b64), checkpoint: state.checkpoint };
}

/**
 * A nightly day's evidence: its events are exactly leaves [start, end) of the tree, with the range
 * proof against a checkpoint that covers them. Seals first if the tree does not reach the day's
 * last event yet (idempotent; a racing sealer gives the same tree), and refuses a day whose file
 * does not match its leaves.
 */
export async function dayEvidence(
  deps: LogDeps,
  workspaceId: string,
  day: { first: StoredEvent; last: StoredEvent; count: number; leaves: readonly Buffer[] },
  now: Date,
): Promise<DayLogEvidence> {
  const lastKey = deps.events.positionOf(day.last);
  let state = await deps.log.getState(workspaceId);
  for (let run = 0; (!state || state.lastKey < lastKey) && run < 100; run++) {
    const outcome = await sealWorkspace(deps, workspaceId, now);
    state = await deps.log.getState(workspaceId);
    if (outcome.status === "idle" || outcome.status === "empty") break;
  }
  if (!state || state.lastKey < lastKey) {
    throw new Error(`${workspaceId}: the verifiable log does not reach ${day.last.id} yet`);
  }
  const hashes = treeOf(deps, state);
  const start = await leafIndexOf(deps, state, hashes, day.first);
  const end = (await leafIndexOf(deps, state, hashes, day.last)) + 1;
  const refuse = async (detail: string) => {
    await reportViolation(deps, {
      kind: "item_modified",
      workspace: workspaceId,
      detail,
      dedupeKey: `day:${workspaceId}:${lastKey}:${detail}`,
    });
    return new Error(`${workspaceId}: ${detail}`);
  };
  if (end - start !== day.count) {
    throw await refuse(
      `the day ending with ${day.last.id} holds ${day.count} events but its leaves are [${start}, ${end}): events were removed or added after sealing`,
    );
  }
  const indexes = Array.from({ length: end - start }, (_, i) => start + i);
  const proof = await hashes.spans(multiProofSpans(state.size, indexes));
  // The day's own events, with the proof, must give the signed root: the manifest is write-once.
  const leaves = day.leaves.map((hash, i) => ({ index: start + i, hash }));
  let root: Buffer | undefined;
  try {
    root = rootFromMultiProof(state.size, leaves, proof);
  } catch {
    root = undefined;
  }
  if (!root?.equals(state.root)) {
    throw await refuse(
      `the day's events (leaves [${start}, ${end})) do not give the signed root of size ${state.size}: an event or a tile changed after sealing`,
    );
  }
  return {
    origin: originOf(deps.logName, workspaceId),
    range: { start, end },
    checkpoint: state.checkpoint,
    proof: proof.map(b64),
  };
}

/** The first event of a query, or undefined. */
async function firstOf(stream: AsyncIterable<StoredEvent>) {
  for await (const event of stream) return event;
  return undefined;
}

/**
 * An evidence bundle's frame for an export of the span: the latest checkpoint, the
 * leaf range of the events in that span the checkpoint covers (later ones are left out: they have
 * no proof yet), the range proof, and, when asked, a consistency proof from `trustedSize`.
 */
export async function evidenceFrame(
  deps: LogReadDeps,
  job: { workspaceId: string; filters: Record<string, string>; createdAt: string; trustedSize?: number },
  span: Pick<EventQuery, "since" | "until" | "recordedBy">,
): Promise<EvidenceFrame> {
  const state = await stateOrNotFound(deps, job.workspaceId);
  // Only sealed events: those at or before the last sealed one.
  const query = {
    workspaceId: job.workspaceId,
    ...span,
    through: state.lastKey || undefined,
    nowEpochSeconds: 0,
  };
  const first = state.lastKey ? await firstOf(deps.events.stream({ ...query, ascending: true })) : undefined;
  const last = first ? await firstOf(deps.events.stream(query)) : undefined;
  const hashes = treeOf(deps, state);
  let range: { start: number; end: number } | null = null;
  let proof: Buffer[] = [];
  if (first && last) {
    range = {
      start: await leafIndexOf(deps, state, hashes, first),
      end: (await leafIndexOf(deps, state, hashes, last)) + 1,
    };
    proof = await hashes.spans(
      multiProofSpans(
        state.size,
        Array.from({ length: range.end - range.start }, (_, i) => (range as { start: number }).start + i),
      ),
    );
  }
  let consistency: BundleTrailer["consistency"];
  if (job.trustedSize !== undefined) {
    if (job.trustedSize > state.size) {
      throw new ConflictError(
        `trustedSize ${job.trustedSize} is beyond the latest checkpoint (${state.size})`,
      );
    }
    const c = await hashes.spans(consistencySpans(job.trustedSize, state.size));
    consistency = { from: job.trustedSize, to: state.size, proof: c.map(b64) };
  }
  const header: BundleHeader = {
    format: BUNDLE_FORMAT,
    workspace: job.workspaceId,
    checkpoint: state.checkpoint,
    filters: job.filters,
    range,
    count: range ? range.end - range.start : 0,
    createdAt: job.createdAt,
  };
  const trailer: BundleTrailer = { proof: proof.map(b64), ...(consistency ? { consistency } : {}) };
  return {
    header: JSON.stringify(header),
    start: range?.start ?? 0,
    trailer: JSON.stringify(trailer),
    lastKey: last ? deps.events.positionOf(last) : "",
  };
}

/**
 * Checks, in O(log n) memory, that leaves streamed in order from `start` are the tree's own: the
 * compact range of [0, start) comes from the tiles, the leaves extend it, and the result must be
 * the signed root or consistent with it. For evidence bundles, which can be far larger than a day.
 */
export async function leafRangeCheck(deps: LogReadDeps, workspaceId: string, start: number) {
  const state = await stateOrNotFound(deps, workspaceId);
  const hashes = treeOf(deps, state);
  const nodes: Buffer[] = [];
  let offset = 0;
  for (let height = 52; height >= 0; height--) {
    const width = 2 ** height;
    if (start - offset >= width) {
      nodes.push(await hashes.perfect(height, offset / width));
      offset += width;
    }
  }
  const range = CompactRange.of(start, nodes);
  return {
    add: (leaf: Buffer) => range.append(leaf),
    /** Undefined when the leaves are the tree's; otherwise what is wrong, naming the leaves. */
    finish: async (): Promise<string | undefined> => {
      const end = range.size;
      if (end === start) return undefined;
      const what = `leaves [${start}, ${end})`;
      if (end > state.size) return `${what} go beyond the tree (size ${state.size})`;
      if (end === state.size) {
        return range.root().equals(state.root) ? undefined : `${what} do not give the signed root`;
      }
      const proof = await hashes.spans(consistencySpans(end, state.size));
      try {
        verifyConsistency(end, state.size, proof, range.root(), state.root);
        return undefined;
      } catch {
        return `${what} are not the tree's: an event or a tile changed after sealing`;
      }
    },
  };
}
