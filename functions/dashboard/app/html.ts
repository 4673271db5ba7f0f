/// <reference lib="dom" />
export { html } from "htm/preact";

/*
 * Preact's `h` through htm's tagged templates (`htm/preact`): components without a JSX build step,
 * and nothing that needs `eval` or inline script, so the page runs under `script-src 'self'`. Text
 * is always set as text: event fields (actor ids, context strings) are whatever producers sent.
 */
