import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { rename } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type * as z from "zod";
import type { exportSchema } from "../../functions/shared/schemas/exports.js";
import { CliError, EXIT } from "./exit.js";
import type { ApiFilters } from "./filters.js";
import { printable } from "./format.js";
import type { ApiClient } from "./http.js";
import type { Io } from "./io.js";
import { type ExportProgress, humanBytes } from "./progress.js";

/** GET /v1/exports/{id}, typed by the schema the API itself answers with. */
export type ExportView = z.infer<typeof exportSchema>;

/** The formats POST /v1/exports takes (export-formats.ts). */
export const EXPORT_FORMATS = ["csv", "json", "ndjson", "evidence"] as const;

export interface ExportOptions {
  /** Wait for (and download) this export instead of creating one. */
  id?: string;
  format: (typeof EXPORT_FORMATS)[number];
  gzip: boolean;
  filters: ApiFilters;
  trustedSize?: number;
  /** The file to write; default: the name the API gives the download, in `cwd`. */
  out?: string;
  force: boolean;
  intervalMs: number;
  /** Give up waiting after this long (the export goes on on the server). */
  timeoutMs: number;
}

export interface ExportResult {
  view: ExportView;
  file: string;
  sha256: string;
  bytes: number;
}

/** The download's file name: Content-Disposition's, reduced to a plain name, else the API's pattern. */
export function downloadName(view: ExportView, contentDisposition: string | null): string {
  const m = /filename="?([^";]+)"?/i.exec(contentDisposition ?? "");
  const named = m ? basename((m[1] as string).replace(/\\/g, "/")) : "";
  if (named && named !== "." && named !== ".." && printable(named) === named) return named;
  const ext = view.format === "evidence" ? "evidence.ndjson.gz" : `${view.format}${view.gzip ? ".gz" : ""}`;
  return `audit-log-${view.id}.${ext}`;
}

/**
 * `audit-log export`: POST /v1/exports (or `--id` an existing one), polls GET /v1/exports/{id}
 * until it is ready, downloads the file from the URL the API returns, and checks it against the
 * SHA-256 and size the API states. The file is written beside the target and renamed into place
 * only when it checks out; otherwise it is kept as `<file>.mismatch` and the exit code is 5.
 */
export async function exportCommand(
  api: ApiClient,
  options: ExportOptions,
  progress: ExportProgress,
  io: Pick<Io, "fetch" | "sleep" | "now" | "signal" | "cwd">,
): Promise<ExportResult> {
  const target = options.out === undefined ? undefined : resolve(io.cwd, options.out);
  const refuseExisting = (file: string) => {
    if (!options.force && existsSync(file))
      throw new CliError(`${file} exists: pass --force to replace it, or --out another file`, EXIT.usage);
  };
  if (target) refuseExisting(target);

  let view: ExportView;
  if (options.id) {
    view = await api.json<ExportView>("GET", `/v1/exports/${encodeURIComponent(options.id)}`);
  } else {
    view = await api.json<ExportView>("POST", "/v1/exports", {
      body: {
        format: options.format,
        ...(options.gzip ? { gzip: true } : {}),
        ...options.filters,
        ...(options.trustedSize === undefined ? {} : { trustedSize: options.trustedSize }),
      },
    });
  }
  const started = io.now().getTime();
  try {
    progress.status(view);
    while (view.status === "pending" || view.status === "running") {
      if (io.now().getTime() - started > options.timeoutMs)
        throw new CliError(
          `export ${view.id} is still ${view.status} after ${Math.round(options.timeoutMs / 1000)} s; it goes on: audit-log export --id ${view.id}`,
          EXIT.api,
        );
      await io.sleep(options.intervalMs, io.signal);
      if (io.signal?.aborted)
        throw new CliError(
          `interrupted; export ${view.id} goes on on the server: audit-log export --id ${view.id}`,
          EXIT.interrupted,
        );
      view = await api.json<ExportView>("GET", `/v1/exports/${encodeURIComponent(view.id)}`);
      progress.status(view);
    }
    if (view.status === "failed")
      throw new CliError(`export ${view.id} failed: ${printable(view.error ?? "no reason given")}`, EXIT.api);
    if (!view.url)
      throw new CliError(`export ${view.id} is ready but the API gave no download URL`, EXIT.api);

    // The presigned URL carries its own authorisation: the API key is not sent to the bucket.
    let res: Response;
    try {
      res = await io.fetch(view.url, io.signal ? { signal: io.signal } : {});
    } catch (err: unknown) {
      if (io.signal?.aborted) throw new CliError("interrupted", EXIT.interrupted);
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new CliError(
        `cannot download export ${view.id} from ${new URL(view.url).origin}: ${cause}`,
        EXIT.network,
      );
    }
    if (!res.ok || !res.body)
      throw new CliError(
        `downloading export ${view.id} answered ${res.status} ${res.statusText} (the URL works for 10 minutes: audit-log export --id ${view.id})`,
        EXIT.api,
      );
    const file = target ?? resolve(io.cwd, downloadName(view, res.headers.get("content-disposition")));
    if (!target) refuseExisting(file);
    const partial = `${file}.part`;
    const hash = createHash("sha256");
    let bytes = 0;
    progress.downloading(view.bytes);
    await pipeline(
      Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          progress.downloaded(bytes);
          done(null, chunk);
        },
      }),
      createWriteStream(partial),
    );
    progress.stop();
    const sha256 = hash.digest("hex");
    const problems: string[] = [];
    if (!view.sha256) problems.push("the API states no SHA-256 for it, so it cannot be checked");
    else if (sha256 !== view.sha256.toLowerCase())
      problems.push(`its SHA-256 is ${sha256}, the API states ${view.sha256}`);
    if (view.bytes !== undefined && bytes !== view.bytes)
      problems.push(`it has ${bytes} bytes, the API states ${view.bytes}`);
    if (problems.length) {
      const kept = `${file}.mismatch`;
      await rename(partial, kept);
      throw new CliError(
        `the downloaded export ${view.id} is not the file the API describes: ${problems.join("; ")} (kept as ${kept})`,
        EXIT.checksum,
      );
    }
    await rename(partial, file);
    return { view, file, sha256, bytes };
  } finally {
    progress.stop();
  }
}

/** The line `export` prints on stdout when the file checks out. */
export const exportSummary = (r: ExportResult) =>
  printable(
    `${r.file}: export ${r.view.id}, ${r.view.eventCount ?? "?"} events, ${humanBytes(r.bytes)}, SHA-256 ${r.sha256} (matches the API)`,
  );
