/// <reference lib="dom" />
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ExportView, getJson, postJson } from "./api.js";
import { bytesLabel, plural } from "./format.js";
import { html } from "./html.js";

/** How often a running export is polled. */
const POLL_MS = 1000;

interface Job {
  format: "csv" | "json";
  view?: ExportView;
  error?: string;
}

interface Props {
  /** The filters of what the table shows, as the API takes them. */
  params: Record<string, string> | undefined;
  onAuthError: (err: ApiError) => void;
}

/**
 * Export CSV / Export JSON of the current filter: POST /v1/exports, then GET /v1/exports/{id}
 * until it is ready (pending → running → ready, with the event count), then the download. A ready
 * export is fetched once: each GET of a ready export issues a new download URL and records
 * `audit.export_downloaded`.
 */
export function ExportPanel({ params, onAuthError }: Props) {
  const [job, setJob] = useState<Job | undefined>();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const link = useRef<HTMLAnchorElement>(null);
  const started = useRef<string | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const fail = (format: Job["format"], err: unknown) => {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) onAuthError(err);
    setJob({ format, error: err instanceof ApiError ? err.message : String(err) });
  };

  const poll = (format: Job["format"], id: string) => {
    timer.current = setTimeout(async () => {
      if (started.current !== id) return;
      try {
        const view = await getJson<ExportView>(`v1/exports/${encodeURIComponent(id)}`);
        if (started.current !== id) return;
        setJob({ format, view });
        if (view.status === "pending" || view.status === "running") poll(format, id);
      } catch (err: unknown) {
        fail(format, err);
      }
    }, POLL_MS);
  };

  const start = async (format: Job["format"]) => {
    if (!params) return;
    clearTimeout(timer.current);
    started.current = undefined;
    setJob({ format });
    try {
      const view = await postJson<ExportView>("v1/exports", { format, ...params });
      started.current = view.id;
      setJob({ format, view });
      poll(format, view.id);
    } catch (err: unknown) {
      fail(format, err);
    }
  };

  // Once ready, the file downloads by itself; the link stays for another try within 10 minutes.
  const url = job?.view?.status === "ready" ? job.view.url : undefined;
  useEffect(() => {
    if (url) link.current?.click();
  }, [url]);

  const busy =
    job && !job.error && (!job.view || job.view.status === "pending" || job.view.status === "running");
  const v = job?.view;
  const label = job?.format.toUpperCase();
  return html`
    <div class="exports">
      <button type="button" onClick=${() => start("csv")} disabled=${!params || busy}>Export CSV</button>
      <button type="button" onClick=${() => start("json")} disabled=${!params || busy}>Export JSON</button>
    </div>
    <div class="export-status" role="status" aria-live="polite">
        ${job && !v && !job.error && html`<span>Export ${label}: requesting…</span>`}
        ${
          v &&
          (v.status === "pending" || v.status === "running") &&
          html`<span class="progress" data-status=${v.status}>
            <span class="spinner" aria-hidden="true"></span>
            Export ${label}: ${v.status}${v.eventCount !== undefined ? `, ${plural(v.eventCount, "event")}` : ""}…
          </span>`
        }
        ${
          v?.status === "ready" &&
          html`<span data-status="ready">
            Export ${label}: ready, ${plural(v.eventCount ?? 0, "event")}${v.bytes !== undefined ? `, ${bytesLabel(v.bytes)}` : ""}.${" "}
            <a ref=${link} href=${v.url} download rel="noreferrer">Download ${label}</a>
            ${v.sha256 && html`${" "}<span class="small">SHA-256 <code class="hash">${v.sha256}</code></span>`}
          </span>`
        }
        ${
          v?.status === "failed" &&
          html`<span class="bad" data-status="failed">Export ${label} failed: ${v.error ?? "unknown error"}. Try again, or narrow the filter.</span>`
        }
        ${job?.error && html`<span class="bad" role="alert">Export ${label} could not be started: ${job.error}</span>`}
    </div>
  `;
}
