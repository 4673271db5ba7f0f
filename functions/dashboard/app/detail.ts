/// <reference lib="dom" />
import { useEffect, useRef, useState } from "preact/hooks";
import type { StoredEvent } from "./api.js";
import { actorLabel, shownTime } from "./format.js";
import { html } from "./html.js";
import { pinKey, type VerifyResult, verifyEvent } from "./verify.js";

interface Props {
  /** The event, or why it could not be loaded. */
  event: StoredEvent | undefined;
  id: string;
  loadError: string;
  localTime: boolean;
  permalink: string;
  onClose: () => void;
}

/** Every field of the stored event, flattened, in the schema's order. */
function fields(e: StoredEvent, localTime: boolean): [string, string][] {
  const rows: [string, string | undefined][] = [
    ["id", e.id],
    ["type", e.type],
    ["category", e.category],
    ["recordedAt", shownTime(e.recordedAt, localTime)],
    ["occurredAt", shownTime(e.occurredAt, localTime)],
    ["actor.type", e.actor.type],
    ["actor.id", actorLabel(e)],
    ["actor.name", e.actor.name],
    ["node.id", e.node?.id],
    ["node.name", e.node?.name],
    ["resource.type", e.resource?.type],
    ["resource.id", e.resource?.id],
    ["sourceIp", e.sourceIp],
    ["userAgent", e.userAgent],
    ["outcome", e.outcome],
  ];
  return rows.filter((r): r is [string, string] => r[1] !== undefined);
}

function VerifyPanel({ event }: { event: StoredEvent }) {
  const [state, setState] = useState<{ busy: boolean; result?: VerifyResult }>({ busy: false });
  const run = async () => {
    setState({ busy: true });
    setState({ busy: false, result: await verifyEvent(event, new Date()) });
  };
  const trustNew = () => {
    const r = state.result;
    if (r?.key?.kind !== "changed" || !r.origin) return;
    pinKey(r.origin, r.key.servedKey, new Date());
    void run();
  };
  const r = state.result;
  return html`
    <section class="verify" aria-labelledby="verify-h">
      <h3 id="verify-h">Integrity</h3>
      <p class="help">
        Checks in this browser that the event is in the log's signed Merkle tree: its leaf is hashed
        here from the event's canonical JSON, and the checkpoint must be signed by the key pinned in
        this browser.
      </p>
      <button type="button" class="primary" onClick=${run} disabled=${state.busy}>
        ${state.busy ? "Verifying…" : "Verify"}
      </button>
      <div class="verify-result" role="status" aria-live="polite">
        ${
          r?.ok === true &&
          html`<p class="ok"><strong>Verified:</strong> included in checkpoint of size ${r.size}, signed by ${r.keyName}</p>
            <dl class="kv small">
              <dt>Leaf index</dt><dd>${r.index}</dd>
              <dt>Root</dt><dd><code>${r.root}</code></dd>
              ${r.latestSize > r.size && html`<dt>Latest checkpoint</dt><dd>size ${r.latestSize}, consistent with it</dd>`}
            </dl>`
        }
        ${r?.ok === false && html`<p class="bad"><strong>Verification failed:</strong> ${r.reason}</p>`}
        ${
          r?.fingerprint &&
          html`<p class="small">
            Log <code>${r.origin}</code>, key fingerprint (SHA-256) <code class="fp">${r.fingerprint}</code>
            ${r.key?.kind === "first-use" && " — pinned in this browser now (trust on first use): compare it with the fingerprint your administrator publishes."}
            ${r.key?.kind === "pinned" && ` — pinned since ${r.key.pinnedAt}.`}
          </p>`
        }
        ${
          r?.key?.kind === "changed" &&
          html`<div class="warn" role="alert">
            <p>
              <strong>Warning: the log's signing key changed</strong> since you pinned it on ${r.key.pinnedAt}. The
              service now serves a key with fingerprint <code class="fp">${r.key.servedFingerprint}</code>. Only
              trust it if your administrator announced a key rotation.
            </p>
            <button type="button" onClick=${trustNew}>Trust the new key</button>
          </div>`
        }
      </div>
    </section>
  `;
}

/** The event detail: a modal dialog (Esc closes it, focus returns to the row). */
export function EventDetail({ event, id, loadError, localTime, permalink, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [copied, setCopied] = useState("");
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(permalink);
      setCopied("Link copied");
    } catch {
      setCopied("Copy the link from the field above");
    }
  };
  return html`
    <dialog ref=${dialog} class="detail" aria-labelledby="detail-h" onClose=${onClose}>
      <div class="detail-head">
        <h2 id="detail-h">${event ? event.type : "Event"} <span class="muted">${id}</span></h2>
        <button type="button" class="close" onClick=${() => dialog.current?.close()} aria-label="Close event detail">
          Close
        </button>
      </div>
      ${loadError && html`<p class="bad" role="alert">${loadError}</p>`}
      ${!event && !loadError && html`<p role="status">Loading event…</p>`}
      ${
        event &&
        html`
          <dl class="kv">
            ${fields(event, localTime).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
            <dt>hash</dt><dd><code class="hash">${event.hash}</code></dd>
          </dl>
          <div class="permalink">
            <label for="permalink">Permalink</label>
            <div class="query-row">
              <input id="permalink" readonly value=${permalink} onFocus=${(e: Event) => (e.currentTarget as HTMLInputElement).select()} />
              <button type="button" onClick=${copy}>Copy link</button>
            </div>
            <p class="small" role="status">${copied}</p>
          </div>
          <h3>Context</h3>
          <pre class="json" tabindex="0" aria-label="Context JSON">${JSON.stringify(event.context, null, 2)}</pre>
          <h3>Raw stored event</h3>
          <pre class="json raw" tabindex="0" aria-label="Raw stored event JSON">${JSON.stringify(event, null, 2)}</pre>
          <${VerifyPanel} event=${event} />
        `
      }
    </dialog>
  `;
}
