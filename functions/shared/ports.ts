import type { UnavailableError } from "./errors.js";
import type { EvidenceFrame } from "./export-formats.js";
import type { Scope } from "./routes.js";
import type { StoredEvent } from "./schemas/event.js";
import type { NoteSigner } from "./tlog/note.js";

/** One event ready to store: the document, its evidence hash, and what the indexes need. */
export interface EventRecord {
  workspaceId: string;
  event: StoredEvent;
  /** SHA-256 of the producer's content (without server fields): decides replay vs conflict. */
  contentHash: string;
  /** Epoch seconds; DynamoDB TTL and every read use it. */
  expiresAt: number;
}

/** Where the id guard says an event was stored. */
export interface ExistingId {
  contentHash: string;
  recordedAt: string;
  /**
   * Undefined when the event has expired, or (only for ids claimed before writes became one
   * transaction) when the writer that claimed the id died before storing its event.
   */
  event: StoredEvent | undefined;
}

/** What became of one record of an {@link EventStore.append}. */
export type AppendResult =
  | { status: "created" }
  /**
   * The id was already used in the workspace: its guard's content hash and recordedAt.
   * `withEvent`: the guard was written with its event, so the event exists (false for guards of the
   * earlier two-put writer, whose event may be missing).
   */
  | { status: "taken"; contentHash: string; recordedAt: string; expiresAt: number; withEvent: boolean }
  /**
   * Storage trouble: the outcome is unknown (most often nothing was stored; if the answer was lost,
   * all of it was). A retry with the same id settles it.
   */
  | { status: "unavailable"; error: UnavailableError }
  /** Not written: the append's {@link AppendGuard} held (the source is throttled). */
  | { status: "refused" };

/**
 * A condition the append must meet in the same transaction as its writes: the source's failed
 * authentications in its current window are at most `maxFailures`. A throttled source is refused
 * atomically, with no read before the write.
 */
export interface AppendGuard {
  sourceIp: string;
  /** Start of the source's current failure window (ISO-8601). */
  windowStart: string;
  maxFailures: number;
}

/**
 * Where an event sits in its workspace's order (by recordedAt, then id). Opaque to the core: only
 * the store makes one ({@link EventStore.positionOf}, {@link EventPage.next}); two positions compare
 * as strings do, in that order, and positions are kept in state (the sealer's last sealed event, an
 * export's progress, a cursor) and handed back to the store unchanged.
 */
export type Position = string & { readonly __position: unique symbol };

/** What fixes an event's position: when it was recorded, then its id. */
export type StoredEventKey = Pick<StoredEvent, "recordedAt" | "id">;

export interface EventQuery {
  workspaceId: string;
  actorId?: string;
  nodeId?: string;
  /** Exact types to match (one for `type=x.y`, the category's types for `type=x.*`). */
  types?: string[];
  outcome?: "success" | "failure";
  sourceIp?: string;
  /** Recorded at or after this instant (ISO-8601, UTC). */
  since?: string;
  /** Recorded before this instant. */
  until?: string;
  /** Recorded at or before this instant: an export's snapshot sees nothing recorded after it was asked for. */
  recordedBy?: string;
  /** Strictly after this position (where an oldest-first walk left off). */
  after?: Position;
  /** Strictly before this position (a newest-first cursor, or where a walk left off). */
  before?: Position;
  /** At or before this position (the last sealed event). */
  through?: Position;
  limit: number;
  /** Items whose expiresAt is at or before this (epoch seconds) are never returned. */
  nowEpochSeconds: number;
  /** Oldest first (the nightly files); newest first when absent. */
  ascending?: boolean;
}

export interface EventPage {
  events: StoredEvent[];
  /** Position of the last returned event when more may follow; undefined at the end. */
  next: Position | undefined;
}

/**
 * No attempt of an append is sent later than this after its records' `recordedAt`: a request
 * still unanswered then is aborted and the append answers 503 (a retry stamps anew). Aborting does
 * not recall a request the table already received, so one in flight may still land a moment
 * later; {@link SEAL_SETTLE_MS} leaves a margin for it. The sealer relies on both: a time range it
 * seals is complete. A write later still is flagged by the tamper watch (docs/integrity.md).
 */
export const APPEND_DEADLINE_MS = 20_000;
/** How far behind the clock the sealer stays: the append deadline plus a margin for in-flight requests. */
export const SEAL_SETTLE_MS = 30_000;

/**
 * The write-once log. There is no update and no delete.
 */
export interface EventStore {
  /**
   * Stores each record atomically (its id and its event, or nothing) unless its id is taken, in
   * as few round trips as the engine allows. One result per record, in order.
   */
  append(records: EventRecord[], guard?: AppendGuard): Promise<AppendResult[]>;
  /** The event stored under `id` at `recordedAt` (as a taken id's guard says), if still live. */
  getAt(
    workspaceId: string,
    id: string,
    recordedAt: string,
    nowEpochSeconds: number,
  ): Promise<StoredEvent | undefined>;
  findById(workspaceId: string, id: string, nowEpochSeconds: number): Promise<ExistingId | undefined>;
  /** Workspaces holding an event with this id; used only to report cross-workspace attempts. */
  findOwners(id: string): Promise<string[]>;
  query(query: EventQuery): Promise<EventPage>;
  /** Every match of a query, newest first unless `ascending`, read page by page (for exports). */
  stream(query: Omit<EventQuery, "limit">): AsyncIterable<StoredEvent>;
  /** Where `event` sits in its workspace's order. */
  positionOf(event: Pick<StoredEvent, "recordedAt" | "id">): Position;
}

export interface Principal {
  workspaceId: string;
  keyId: string;
  scopes: Scope[];
  /** Set when the token is a viewer session: the key that minted it, and whom it was minted for. */
  session?: { mintedBy: string; viewer?: Viewer };
}

/** The person a viewer session was minted for, as the platform's dashboard names them. */
export interface Viewer {
  id: string;
  name?: string;
}

export interface ApiKeyRecord {
  keyId: string;
  workspaceId: string;
  /** Hex SHA-256 of the whole bearer token. */
  secretHash: string;
  scopes: Scope[];
  name: string;
  createdAt: string;
  revokedAt?: string;
  rotatedAt?: string;
  /** After a rotation: the old secret's hash, accepted until previousValidUntil. */
  previousSecretHash?: string;
  previousValidUntil?: string;
  /**
   * Viewer sessions only (`POST /v1/viewer-sessions`): refused from this instant, the key that
   * minted it, and whom for. A session is a short-lived, read-only key of one workspace.
   */
  validUntil?: string;
  mintedBy?: string;
  viewer?: Viewer;
}

/** Failed authentications from one IP against one target (a workspace, or the operator log). */
export interface FailureWindow {
  target: string;
  ip: string;
  windowStart: string;
  windowEnd: string;
  count: number;
  reasons: Record<string, number>;
  method: string;
  path: string;
  userAgent?: string;
}

/** One key's reaches, from one IP in one window, for resources its own workspace does not hold. */
export interface ReachWindow {
  workspaceId: string;
  keyId: string;
  ip: string;
  windowStart: string;
  windowEnd: string;
  /** Every reach in the window, past the resource cap too. */
  count: number;
  /** `{type, id}` of the distinct resources reached (capped). */
  resources: { type: string; id: string }[];
  method: string;
  path: string;
  userAgent?: string;
}

export interface WorkspaceRecord {
  workspaceId: string;
  plan: "per-node" | "enterprise";
  retentionDays: number;
  createdAt: string;
  exportDestination?: ExportDestination;
}

/** A customer's own S3-compatible bucket for copies of the nightly exports. */
export interface ExportDestination {
  /** Absent: AWS S3 in `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  forcePathStyle: boolean;
  /** Secrets Manager name of the secret access key (never stored here). */
  secretName: string;
  updatedAt: string;
}

/** Secrets (Secrets Manager on AWS and in the local runtime). */
export interface SecretStore {
  /** Creates the secret or stores a new version of it. */
  put(name: string, value: string): Promise<void>;
  get(name: string): Promise<string | undefined>;
}

/** A customer's bucket, opened with their credentials. */
export interface DestinationBucket {
  /** Writes `key` with an explicit SHA-256 (base64) the endpoint checks. */
  put(
    key: string,
    body: { body: AsyncIterable<Uint8Array>; bytes: number } | Buffer,
    options: { contentType: string; checksumSha256: string },
  ): Promise<void>;
  exists(key: string): Promise<boolean>;
}

export type OpenDestination = (destination: ExportDestination, secretAccessKey: string) => DestinationBucket;

/** Mutable control-plane state: API keys, workspaces, failure counters. */
export interface ControlStore {
  getApiKey(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Creates a key; false if the key id is taken. */
  putApiKey(key: ApiKeyRecord): Promise<boolean>;
  listApiKeys(workspaceId: string): Promise<ApiKeyRecord[]>;
  /**
   * Replaces the secret, keeping the old one valid until `previousValidUntil`, if the key is live and
   * its secret is still `previousSecretHash`; false otherwise. The same change resent after its
   * answer was lost is true.
   */
  rotateApiKey(
    keyId: string,
    change: { secretHash: string; previousSecretHash: string; previousValidUntil: string; rotatedAt: string },
  ): Promise<boolean>;
  /**
   * Marks the key revoked; false if it was already revoked (at another instant) or absent. The same
   * revocation resent after its answer was lost is true.
   */
  revokeApiKey(keyId: string, revokedAt: string): Promise<boolean>;
  getWorkspace(workspaceId: string): Promise<WorkspaceRecord | undefined>;
  listWorkspaces(): Promise<WorkspaceRecord[]>;
  /** Creates a workspace; false if the id is taken. */
  putWorkspace(workspace: WorkspaceRecord): Promise<boolean>;
  setRetention(workspaceId: string, retentionDays: number): Promise<void>;
  /** Sets or (undefined) removes the workspace's export destination. */
  setExportDestination(workspaceId: string, destination: ExportDestination | undefined): Promise<void>;
  /**
   * Counts one failure in its (target, source) window, and in the source's own window across
   * every target; returns the source's count so far, which alone decides 401 or 429.
   */
  countFailure(window: Omit<FailureWindow, "count" | "reasons"> & { reason: string }): Promise<number>;
  /** The source's failed authentications so far in the window starting at `windowStart`. */
  sourceFailures(ip: string, windowStart: string): Promise<number>;
  /**
   * Counts `requests` (default 1) authenticated requests of the workspace in its rate window;
   * returns the count so far.
   */
  countRequest(
    workspaceId: string,
    window: { start: string; end: string },
    requests?: number,
  ): Promise<number>;
  /** Windows that ended at or before `endedBy` and whose aggregate event is not written yet. */
  pendingFailures(endedBy: string): Promise<FailureWindow[]>;
  markFailuresFlushed(window: Pick<FailureWindow, "target" | "ip" | "windowStart">): Promise<void>;
  /** Counts one reach in its window (one write, whoever owns the resource, if anyone). */
  countReach(
    reach: Omit<ReachWindow, "count" | "resources"> & { resource: { type: string; id: string } },
  ): Promise<void>;
  /** Reach windows that ended at or before `endedBy` and are not flushed yet. */
  pendingReaches(endedBy: string): Promise<ReachWindow[]>;
  markReachesFlushed(
    window: Pick<ReachWindow, "workspaceId" | "keyId" | "ip" | "windowStart">,
  ): Promise<void>;
  putExportJob(job: ExportJob): Promise<boolean>;
  getExportJob(exportId: string): Promise<ExportJob | undefined>;
  /**
   * Replaces the job if its stored revision is `job.revision - 1` (optimistic concurrency: two
   * workers handed the same job cannot both move it on); false when another update came first. The
   * same job resent after the answer to its write was lost is true (the stored job is exactly it).
   */
  updateExportJob(job: ExportJob): Promise<boolean>;
  /**
   * Sort key (`recordedAt#id`) of the workspace's last sealed event, or undefined while nothing is
   * sealed. The tamper watch reads it to tell an insert into a sealed range from a new event.
   */
  getSealedKey(workspaceId: string): Promise<Position | undefined>;
}

/** An on-demand export, from request to file. */
export interface ExportJob {
  exportId: string;
  workspaceId: string;
  format: "csv" | "json" | "ndjson" | "evidence";
  gzip: boolean;
  /** The normalised filters, as GET /v1/events takes them. */
  filters: Record<string, string>;
  status: "pending" | "running" | "ready" | "failed";
  /** Set by the run that claimed the job (random), and kept by every update it makes. */
  runId?: string;
  /** Bumped by every update; see {@link ControlStore.updateExportJob}. */
  revision: number;
  createdAt: string;
  /** Who asked, from where: the audit.exported event names them. */
  createdBy: { keyId: string; sourceIp: string; userAgent?: string };
  objectKey?: string;
  eventCount?: number;
  bytes?: number;
  sha256?: string;
  finishedAt?: string;
  error?: string;
  /** Receive count of the queue message the last run came from (see MAX_EXPORT_ATTEMPTS). */
  attempts?: number;
  /** The file so far, when a run handed over or died after uploading parts. */
  progress?: FileCheckpoint;
  /** An evidence bundle: the size of a checkpoint the caller already trusts (a consistency proof from it). */
  trustedSize?: number;
  /** An evidence bundle's fixed lines, chosen by its first run. */
  evidence?: EvidenceFrame;
}

/** Hands an export to the worker (SQS on AWS and in the local runtime). */
export interface ExportQueue {
  enqueue(exportId: string): Promise<void>;
}

/** One uploaded part of a multipart upload, as CompleteMultipartUpload needs it. */
export interface UploadedPart {
  partNumber: number;
  etag: string;
  /** Base64 SHA-256 of the part, checked by the store on upload and on completion. */
  checksumSha256: string;
  bytes: number;
}

/** Where a file stands after its last uploaded part: enough to resume in another invocation. */
export interface FileCheckpoint {
  uploadId: string;
  parts: UploadedPart[];
  /** Position of the last event in the uploaded parts ("" before the first). */
  lastKey: Position | "";
  eventCount: number;
}

export interface ObjectOptions {
  contentType: string;
  /** COMPLIANCE retention of the object. */
  retainUntil: Date;
}

/** Write-once object storage (S3 with Object Lock on AWS, moto locally). */
export interface ArchiveStore {
  /**
   * Stores `body` under `key` only if the key is free, with COMPLIANCE retention until
   * `retainUntil` and an explicit SHA-256 checksum. Returns "exists" when the key was taken.
   */
  putOnce(key: string, body: Buffer, options: ObjectOptions): Promise<"created" | "exists">;
  get(key: string): Promise<Buffer | undefined>;
  /** The object's size, or undefined when absent. */
  head(key: string): Promise<{ bytes: number } | undefined>;
  /** The object as a stream of chunks (large files), or undefined when absent. */
  read(key: string): Promise<{ body: AsyncIterable<Uint8Array>; bytes: number } | undefined>;
  /** Starts a multipart upload of `key` (retention and checksum algorithm set now); returns its id. */
  startUpload(key: string, options: ObjectOptions): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<UploadedPart>;
  /**
   * Completes the upload only if `key` is free (`If-None-Match: *`); "exists" when it was taken. The
   * new object is locked until `options.retainUntil`, as a single put would be.
   */
  completeUpload(
    key: string,
    uploadId: string,
    parts: UploadedPart[],
    options: ObjectOptions,
  ): Promise<"created" | "exists">;
  abortUpload(key: string, uploadId: string): Promise<void>;
  /** A GET URL for `key` that expires after `seconds`. */
  presignGet(key: string, seconds: number, downloadName: string): Promise<string>;
}

/** The sealer's small state for one workspace's tree (control table; see LogStateAttr). */
export interface LogState {
  workspaceId: string;
  size: number;
  /** The compact range, largest subtree first. */
  compact: Buffer[];
  root: Buffer;
  /** Position of the last sealed event ("" before the first). */
  lastKey: Position | "";
  /** The latest signed checkpoint note, and when it was signed. */
  checkpoint: string;
  checkpointAt: string;
  /** 1 for the first state; each replacement adds one. */
  revision: number;
}

/** Where the verifiable log keeps its state and its anchors. */
export interface LogStore {
  getState(workspaceId: string): Promise<LogState | undefined>;
  /** Stores `state` if the stored one is at `state.revision - 1` (or absent, for revision 1). */
  putState(state: LogState): Promise<boolean>;
  /** Records that level-0 tile `tile` starts with the event at `firstKey` (idempotent). */
  putAnchor(workspaceId: string, tile: number, firstKey: Position): Promise<void>;
  /** The anchor with the greatest firstKey at or before `key`. */
  anchorAtOrBefore(
    workspaceId: string,
    key: Position,
  ): Promise<{ tile: number; firstKey: Position } | undefined>;
}

/** Signs checkpoint notes (a KMS key); see tlog/note.ts. */
export interface CheckpointSigner {
  /** The note signer, and the verifier key string that checks it. */
  signer(): Promise<{ signer: NoteSigner; verifierKey: string }>;
}
