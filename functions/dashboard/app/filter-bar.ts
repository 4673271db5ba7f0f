/// <reference lib="dom" />
import { useState } from "preact/hooks";
import { CATALOGUE, typesOf } from "./catalogue.js";
import {
  EMPTY_FILTERS,
  FilterError,
  type Filters,
  instantOf,
  parseQuery,
  queryText,
  RANGE_LABELS,
  RANGES,
  type Range,
} from "./filters.js";
import { html } from "./html.js";

interface Props {
  filters: Filters;
  onApply: (filters: Filters) => void;
}

/**
 * The query box and the filter form. Both apply on submit (Enter or the button), not on every
 * keystroke: each query is itself recorded in the log as `audit.queried`.
 */
export function FilterBar({ filters, onApply }: Props) {
  const [draft, setDraft] = useState<Filters>(filters);
  const [text, setText] = useState(queryText(filters));
  const [queryError, setQueryError] = useState("");
  const [formError, setFormError] = useState("");

  const set = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.currentTarget as HTMLInputElement).value });

  const submitQuery = (e: Event) => {
    e.preventDefault();
    try {
      const parsed = parseQuery(text);
      setQueryError("");
      onApply(parsed);
    } catch (err: unknown) {
      if (!(err instanceof FilterError)) throw err;
      setQueryError(err.message);
    }
  };

  const submitForm = (e: Event) => {
    e.preventDefault();
    const next: Filters = {
      ...draft,
      actor: draft.actor.trim(),
      node: draft.node.trim(),
      sourceIp: draft.sourceIp.trim(),
      since: draft.range === "custom" ? draft.since.trim() : "",
      until: draft.range === "custom" ? draft.until.trim() : "",
    };
    try {
      if (next.since) instantOf(next.since, "since");
      if (next.until) instantOf(next.until, "until");
      if (next.since && next.until && instantOf(next.since, "since") >= instantOf(next.until, "until")) {
        throw new FilterError("until must be later than since");
      }
    } catch (err: unknown) {
      if (!(err instanceof FilterError)) throw err;
      setFormError(err.message);
      return;
    }
    setFormError("");
    onApply(next);
  };

  return html`
    <div class="filters" role="search" aria-label="Filter events">
      <form class="query" onSubmit=${submitQuery} novalidate>
        <label for="q">Query</label>
        <div class="query-row">
          <input
            id="q"
            name="q"
            type="search"
            value=${text}
            onInput=${(e: Event) => setText((e.currentTarget as HTMLInputElement).value)}
            placeholder="type:pcap.download since:2026-03-02"
            autocomplete="off"
            spellcheck=${false}
            aria-describedby="q-help ${queryError ? "q-error" : ""}"
            aria-invalid=${queryError ? "true" : undefined}
          />
          <button type="submit">Search</button>
        </div>
        <p id="q-help" class="help">
          ${"Qualifiers: "}<code>type:</code>${" (exact, or a category such as "}<code>pcap.*</code>${"), "}
          <code>actor:</code>${", "}<code>node:</code>${", "}<code>ip:</code>${", "}<code>outcome:</code>${", "}
          <code>since:</code>${" (a day, a time with Z, or 24h, 7d, 30d, 90d), "}<code>until:</code>
        </p>
        ${queryError && html`<p id="q-error" class="error-text" role="alert">${queryError}</p>`}
      </form>

      <form class="fields" onSubmit=${submitForm} novalidate>
        <div class="field">
          <label for="f-type">Event type</label>
          <select id="f-type" name="type" value=${draft.type} onChange=${set("type")}>
            <option value="">All events</option>
            ${
              draft.type &&
              !CATALOGUE.types.some((t) => t.type === draft.type) &&
              !CATALOGUE.categories.some((c) => `${c}.*` === draft.type) &&
              html`<option value=${draft.type}>${draft.type}</option>`
            }
            ${CATALOGUE.categories.map(
              (c) => html`
                <optgroup label=${c}>
                  <option value=${`${c}.*`}>${c}.* (every ${c} event)</option>
                  ${typesOf(c).map((t) => html`<option value=${t.type} title=${t.description}>${t.type}</option>`)}
                </optgroup>
              `,
            )}
          </select>
        </div>
        <div class="field">
          <label for="f-actor">Actor</label>
          <input
            id="f-actor"
            name="actor"
            value=${draft.actor}
            onInput=${set("actor")}
            placeholder="alice@acme.example"
            autocomplete="off"
          />
        </div>
        <div class="field">
          <label for="f-node">Node</label>
          <input id="f-node" name="node" value=${draft.node} onInput=${set("node")} placeholder="nyc-edge-01" autocomplete="off" />
        </div>
        <div class="field">
          <label for="f-ip">Source IP</label>
          <input
            id="f-ip"
            name="sourceIp"
            value=${draft.sourceIp}
            onInput=${set("sourceIp")}
            placeholder="203.0.113.42"
            autocomplete="off"
            inputmode="text"
          />
        </div>
        <div class="field">
          <label for="f-outcome">Outcome</label>
          <select id="f-outcome" name="outcome" value=${draft.outcome} onChange=${set("outcome")}>
            <option value="">Any outcome</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
          </select>
        </div>
        <div class="field">
          <label for="f-range">Time range</label>
          <select
            id="f-range"
            name="range"
            value=${draft.range}
            onChange=${(e: Event) => setDraft({ ...draft, range: (e.currentTarget as HTMLSelectElement).value as Range })}
          >
            ${RANGES.map((r) => html`<option value=${r}>${RANGE_LABELS[r]}</option>`)}
          </select>
        </div>
        ${
          draft.range === "custom" &&
          html`
            <div class="field">
              <label for="f-since">Since (UTC, inclusive)</label>
              <input
                id="f-since"
                name="since"
                value=${draft.since}
                onInput=${set("since")}
                placeholder="2026-03-02"
                autocomplete="off"
                aria-describedby="time-help"
              />
            </div>
            <div class="field">
              <label for="f-until">Until (UTC)</label>
              <input
                id="f-until"
                name="until"
                value=${draft.until}
                onInput=${set("until")}
                placeholder="2026-03-09"
                autocomplete="off"
                aria-describedby="time-help"
              />
            </div>
            <p id="time-help" class="help wide">
              A day (2026-03-02) or a time with an offset (2026-03-02T09:00:00Z). A day as "until"
              includes that whole day; a time is exclusive.
            </p>
          `
        }
        <div class="actions wide">
          <button type="submit" class="primary">Apply filters</button>
          <button type="button" onClick=${() => onApply({ ...EMPTY_FILTERS })}>Clear</button>
        </div>
        ${formError && html`<p class="error-text wide" role="alert">${formError}</p>`}
      </form>
    </div>
  `;
}
