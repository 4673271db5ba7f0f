/**
 * The evidence formats the service writes and the offline verifier (scripts/verify.ts) reads.
 * docs/evidence.md describes them for auditors.
 *
 * **Evidence bundle** (`POST /v1/exports` with `"format": "evidence"`): gzip (a series of complete
 * members of about 1 MiB of input each, RFC 1952 §2.2, as every export is written so it can resume;
 * no empty member, nothing after the last) holding NDJSON lines, nothing after the trailer:
 * 1. one {@link BundleHeader};
 * 2. one {@link BundleEntry} per event, in leaf index order;
 * 3. one {@link BundleTrailer}.
 *
 * **Nightly day**: `events.ndjson.gz` (one stored event per line, oldest first) and
 * `manifest.json`, whose `log` member ({@link DayLogEvidence}) names the leaf range of the day's
 * events, a checkpoint that covers it, and the range proof.
 */
export const BUNDLE_FORMAT = "audit-log-evidence/v1";

export interface BundleHeader {
  format: typeof BUNDLE_FORMAT;
  workspace: string;
  /** The signed checkpoint (C2SP signed note) every proof in the bundle is against. */
  checkpoint: string;
  /** The filters the export was asked for (as GET /v1/events takes them). */
  filters: Record<string, string>;
  /**
   * Set when the bundle holds every leaf in [start, end): an unfiltered export of a time range.
   * The verifier then requires exactly those indexes, so an event missing or added is caught.
   */
  range: { start: number; end: number } | null;
  /** Events that follow. */
  count: number;
  createdAt: string;
}

export interface BundleEntry {
  index: number;
  /** The stored event, as GET /v1/events returns it. */
  event: Record<string, unknown>;
}

export interface BundleTrailer {
  /**
   * The multi-leaf proof (base64 hashes) of the entries' indexes against the checkpoint: the
   * hashes of the maximal subtrees holding none of them, in a left-to-right walk of the tree
   * (functions/shared/tlog/merkle.ts, multiProofSpans). Empty when count is 0.
   */
  proof: string[];
  /** Present when the export named a `trustedSize`: a consistency proof from it to the checkpoint. */
  consistency?: { from: number; to: number; proof: string[] };
}

/** The `log` member of a nightly manifest (null for a day without events). */
export interface DayLogEvidence {
  origin: string;
  /** The day's events are leaves [start, end) of the workspace's tree. */
  range: { start: number; end: number };
  /** A checkpoint whose size is at least `end`. */
  checkpoint: string;
  /** The range proof: multiProofSpans(size, [start … end-1]) as base64; empty for an empty day. */
  proof: string[];
}
