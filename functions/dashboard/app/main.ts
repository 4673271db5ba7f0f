/// <reference lib="dom" />
import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError,
  adoptTokenFromFragment,
  clearToken,
  type EventPage,
  getJson,
  getToken,
  NoTokenError,
  query,
  type StoredEvent,
  setToken,
} from "./api.js";
import { EventDetail } from "./detail.js";
import { ExportPanel } from "./exports.js";
import { FilterBar } from "./filter-bar.js";
import { apiFilters, FilterError, searchOfView, type View, viewFromSearch } from "./filters.js";
import { actorLabel, nodeResource, plural, shownTime } from "./format.js";
import { html } from "./html.js";

/**
 * The Audit Log page (GET /dashboard/audit): filters in the URL, the events newest first with
 * "Load more" by cursor, the event detail with Verify, and exports of the current filter.
 */

type Auth = "ok" | "none" | "expired" | "forbidden";

const LOCAL_TIME_KEY = "audit-log.local-time";

interface Listing {
  status: "idle" | "loading" | "ready" | "error";
  events: StoredEvent[];
  nextCursor: string | null;
  /** The parameters the first page was read with; later pages and exports reuse them. */
  params?: Record<string, string>;
  error?: string;
  loadingMore?: boolean;
  moreError?: string;
}

const readLocalTime = () => {
  try {
    return localStorage.getItem(LOCAL_TIME_KEY) === "1";
  } catch {
    return false;
  }
};

function describe(err: ApiError): string {
  switch (err.status) {
    case 0:
      return `${err.message}.`;
    case 400:
      return `The service refused the filters: ${err.message}. Fix the filter and apply it again.`;
    case 429:
      return `Too many failed sign-ins from your address. Wait ${err.retryAfter ?? 60} seconds, then retry.`;
    case 503:
      return `The log's storage is unavailable right now (${err.message}). Nothing is wrong with your filters: retry in a few seconds.`;
    default:
      return `The service answered ${err.status}: ${err.message}. Retry; if it persists, tell your administrator.`;
  }
}

function SignIn({ auth, onToken }: { auth: Auth; onToken: (t: string) => void }) {
  const [value, setValue] = useState("");
  const heading =
    auth === "expired"
      ? "Session expired or invalid — sign in again"
      : auth === "forbidden"
        ? "This session cannot read the audit log"
        : "Sign in to view the audit log";
  const text =
    auth === "expired"
      ? "The service no longer accepts this session's token: it expired or was revoked. Open the Audit Log again from your platform dashboard to get a new session, or paste a read-only token below."
      : auth === "forbidden"
        ? "The token is valid but lacks the events:read scope. Ask an administrator for a viewer session or a reader key."
        : "Open the Audit Log from your platform dashboard, which signs you in, or paste a read-only token below. It is kept in this tab only.";
  return html`
    <section class="signin" aria-labelledby="signin-h">
      <h2 id="signin-h">${heading}</h2>
      <p>${text}</p>
      <form
        onSubmit=${(e: Event) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <label for="token">Access token</label>
        <div class="query-row">
          <input
            id="token"
            type="password"
            autocomplete="off"
            spellcheck=${false}
            value=${value}
            onInput=${(e: Event) => setValue((e.currentTarget as HTMLInputElement).value)}
          />
          <button type="submit" class="primary">Sign in</button>
        </div>
      </form>
    </section>
  `;
}

function EventTable({
  events,
  localTime,
  hrefOf,
  onOpen,
}: {
  events: StoredEvent[];
  localTime: boolean;
  hrefOf: (id: string) => string;
  onOpen: (e: StoredEvent) => void;
}) {
  return html`
    <div class="table-wrap">
      <table class="events">
        <caption class="visually-hidden">Audit events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Timestamp (${localTime ? "local" : "UTC"})</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">Node · Resource</th>
            <th scope="col">IP</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          ${events.map(
            (e) => html`
              <tr key=${e.id} data-event-id=${e.id} onClick=${() => onOpen(e)}>
                <td data-label="Timestamp">
                  <a
                    href=${hrefOf(e.id)}
                    onClick=${(ev: MouseEvent) => {
                      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) {
                        ev.stopPropagation();
                        return;
                      }
                      ev.preventDefault();
                      ev.stopPropagation();
                      onOpen(e);
                    }}
                    ><time datetime=${e.recordedAt}>${shownTime(e.recordedAt, localTime)}</time></a
                  >
                </td>
                <td data-label="Event"><code>${e.type}</code></td>
                <td data-label="Actor">${actorLabel(e)}</td>
                <td data-label="Node · Resource">${nodeResource(e) || html`<span class="muted">—</span>`}</td>
                <td data-label="IP">${e.sourceIp ?? html`<span class="muted">—</span>`}</td>
                <td data-label="Outcome"><span class=${`outcome ${e.outcome}`}>${e.outcome}</span></td>
              </tr>
            `,
          )}
        </tbody>
      </table>
    </div>
  `;
}

function App() {
  const [auth, setAuth] = useState<Auth>(getToken() ? "ok" : "none");
  const [view, setView] = useState<View>(() => viewFromSearch(location.search));
  const [listing, setListing] = useState<Listing>({ status: "idle", events: [], nextCursor: null });
  const [localTime, setLocalTime] = useState(readLocalTime);
  const [detail, setDetail] = useState<{ event?: StoredEvent; error: string }>({ error: "" });
  const seq = useRef(0);
  /** Bumped by Retry: reads the same view again. */
  const [attempt, setAttempt] = useState(0);
  // The list depends on the filters and page size only, not on which event is open.
  const listKey = searchOfView({ ...view, event: "" });

  const onApiError = useCallback((err: unknown): string | undefined => {
    if (err instanceof NoTokenError) {
      setAuth("none");
      return undefined;
    }
    if (err instanceof ApiError && err.status === 401) {
      clearToken();
      setAuth("expired");
      return undefined;
    }
    if (err instanceof ApiError && err.status === 403) {
      setAuth("forbidden");
      return undefined;
    }
    if (err instanceof ApiError) return describe(err);
    if (err instanceof FilterError) return `${err.message}. Fix the filter and apply it again.`;
    return `Something went wrong in this page: ${String(err)}. Reload the page.`;
  }, []);

  // The first page of the current view: listKey stands for view.filters and view.limit, attempt for Retry.
  useEffect(() => {
    if (auth !== "ok") return;
    const mine = ++seq.current;
    let params: Record<string, string>;
    try {
      params = apiFilters(view.filters, Date.now());
    } catch (err: unknown) {
      setListing({ status: "error", events: [], nextCursor: null, error: onApiError(err) });
      return;
    }
    setListing({ status: "loading", events: [], nextCursor: null, params });
    getJson<EventPage>(`v1/events${query({ ...params, limit: String(view.limit) })}`).then(
      (page) => {
        if (seq.current === mine)
          setListing({ status: "ready", events: page.events, nextCursor: page.nextCursor, params });
      },
      (err: unknown) => {
        if (seq.current !== mine) return;
        setListing({ status: "error", events: [], nextCursor: null, params, error: onApiError(err) });
      },
    );
  }, [auth, listKey, attempt, onApiError]);

  // The open event: from the table if it is there, else by id (a permalink).
  useEffect(() => {
    if (auth !== "ok" || !view.event) {
      setDetail({ error: "" });
      return;
    }
    const shown = listing.events.find((e) => e.id === view.event);
    if (shown) {
      setDetail({ event: shown, error: "" });
      return;
    }
    if (detail.event?.id === view.event) return;
    let live = true;
    setDetail({ error: "" });
    getJson<StoredEvent>(`v1/events/${encodeURIComponent(view.event)}`).then(
      (event) => live && setDetail({ event, error: "" }),
      (err: unknown) => {
        if (!live) return;
        const shownError =
          err instanceof ApiError && err.status === 404
            ? `There is no event ${view.event} in this workspace (or it has expired).`
            : onApiError(err);
        setDetail({ error: shownError ?? "" });
      },
    );
    return () => {
      live = false;
    };
  }, [auth, view.event, listing.events, onApiError, detail.event?.id]);

  useEffect(() => {
    const onPop = () => setView(viewFromSearch(location.search));
    // A new session handed to an open tab (`#token=…` on the same URL loads no new page).
    const onHash = () => {
      if (!new URLSearchParams(location.hash.slice(1)).has("token")) return;
      adoptTokenFromFragment();
      if (getToken()) {
        setAuth("ok");
        setAttempt((n) => n + 1);
      }
    };
    addEventListener("popstate", onPop);
    addEventListener("hashchange", onHash);
    return () => {
      removeEventListener("popstate", onPop);
      removeEventListener("hashchange", onHash);
    };
  }, []);

  const navigate = (next: View, mode: "push" | "replace" = "push") => {
    const url = `${location.pathname}${searchOfView(next)}`;
    // An opened detail is its own history entry (Back closes it); the state marks it as ours.
    const state = next.event ? { detail: true } : null;
    if (mode === "push") history.pushState(state, "", url);
    else history.replaceState(state, "", url);
    setView(next);
  };

  const closeDetail = () => {
    if ((history.state as { detail?: boolean } | null)?.detail && history.length > 1) history.back();
    else navigate({ ...view, event: "" }, "replace");
  };

  const loadMore = async () => {
    if (!listing.nextCursor || !listing.params || listing.loadingMore) return;
    const mine = seq.current;
    setListing({ ...listing, loadingMore: true, moreError: undefined });
    try {
      const page = await getJson<EventPage>(
        `v1/events${query({ ...listing.params, limit: String(view.limit), cursor: listing.nextCursor })}`,
      );
      if (seq.current !== mine) return;
      setListing((l) => ({
        ...l,
        events: [...l.events, ...page.events],
        nextCursor: page.nextCursor,
        loadingMore: false,
      }));
    } catch (err: unknown) {
      if (seq.current !== mine) return;
      setListing((l) => ({ ...l, loadingMore: false, moreError: onApiError(err) }));
    }
  };

  const toggleTime = () => {
    const next = !localTime;
    setLocalTime(next);
    try {
      localStorage.setItem(LOCAL_TIME_KEY, next ? "1" : "0");
    } catch {
      // A browser without storage keeps the choice for this page only.
    }
  };

  const hrefOf = (id: string) => `${location.pathname}${searchOfView({ ...view, event: id })}`;
  const permalink = `${location.origin}${location.pathname}${searchOfView({ ...view, event: view.event })}`;

  const signOut = () => {
    clearToken();
    setAuth("none");
  };

  const body =
    auth !== "ok"
      ? html`<${SignIn}
          auth=${auth}
          onToken=${(t: string) => {
            setToken(t);
            setAuth("ok");
          }}
        />`
      : html`
          <${FilterBar}
            key=${searchOfView({ ...view, event: "" })}
            filters=${view.filters}
            onApply=${(filters: View["filters"]) => navigate({ ...view, filters, event: "" })}
          />
          <div class="toolbar">
            <p class="count" role="status" aria-live="polite">
              ${listing.status === "loading" && "Loading events…"}
              ${
                listing.status === "ready" &&
                `${plural(listing.events.length, "event")}${listing.nextCursor ? " shown, more available" : ""}`
              }
            </p>
            <button type="button" aria-pressed=${localTime} onClick=${toggleTime}>
              ${localTime ? "Show UTC" : "Show local time"}
            </button>
            <${ExportPanel}
              params=${listing.status === "ready" ? listing.params : undefined}
              onAuthError=${onApiError}
            />
          </div>
          ${
            listing.status === "error" &&
            html`<div class="state error" role="alert">
              <h2>Could not load events</h2>
              <p>${listing.error}</p>
              <button type="button" onClick=${() => setAttempt((n) => n + 1)}>Retry</button>
            </div>`
          }
          ${
            listing.status === "ready" &&
            listing.events.length === 0 &&
            html`<div class="state empty">
              <h2>No events match these filters</h2>
              <p>Widen the time range, or clear a filter. New events show up here within seconds of being recorded.</p>
              <button type="button" onClick=${() => navigate({ ...view, filters: viewFromSearch("").filters, event: "" })}>
                Clear filters
              </button>
            </div>`
          }
          ${
            listing.events.length > 0 &&
            html`<${EventTable}
              events=${listing.events}
              localTime=${localTime}
              hrefOf=${hrefOf}
              onOpen=${(e: StoredEvent) => navigate({ ...view, event: e.id })}
            />`
          }
          ${
            listing.nextCursor &&
            html`<div class="more">
              <button type="button" onClick=${loadMore} disabled=${listing.loadingMore}>
                ${listing.loadingMore ? "Loading…" : "Load more"}
              </button>
            </div>`
          }
          ${listing.moreError && html`<p class="bad" role="alert">${listing.moreError}</p>`}
          ${
            view.event &&
            html`<${EventDetail}
              key=${view.event}
              id=${view.event}
              event=${detail.event?.id === view.event ? detail.event : undefined}
              loadError=${detail.error}
              localTime=${localTime}
              permalink=${permalink}
              onClose=${closeDetail}
            />`
          }
        `;

  return html`
    <header class="top">
      <h1>Audit Log</h1>
      ${auth === "ok" && html`<button type="button" class="link" onClick=${signOut}>Sign out</button>`}
    </header>
    <main id="main">${body}</main>
  `;
}

adoptTokenFromFragment();
const root = document.getElementById("app");
if (root) render(html`<${App} />`, root);
