// The page: a header with the live-connection state, three views (resets, top
// senders, path MTU) and the filters, all kept in the URL.
import { useEffect, useErrorBoundary, useState } from 'preact/hooks';
import { html } from './html.js';
import { useFindings } from './findings-store.js';
import { useUrlState } from './url-state.js';
import { ResetsView } from './resets-view.js';
import { SendersView } from './senders-view.js';
import { MtuView } from './mtu-view.js';

const STREAM_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };
const TABS = [
  { view: 'resets', text: 'Resets' },
  { view: 'senders', text: 'Top senders' },
  { view: 'mtu', text: 'Path MTU' },
];
/** "12 s ago" labels refresh this often: often enough to read, rare enough not to redraw 500 rows every second. */
const CLOCK_MS = 5000;

function useNow(intervalMs) {
  const [nowMs, setNowMs] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNowMs(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return nowMs;
}

/** One malformed finding must not blank the page: the view says what failed and the rest keeps working. */
function ViewBoundary({ children }) {
  const [error, resetError] = useErrorBoundary((err) => console.error('rstprobe view failed', err));
  if (error) {
    return html`<div class="error" role="alert"><p>This view failed to draw: ${String(error.message ?? error)}.</p>
      <p><button type="button" onClick=${resetError}>Try again</button></p></div>`;
  }
  return children;
}

export function App() {
  const [route, update] = useUrlState();
  const filters = { namespace: route.namespace, node: route.node, cause: route.cause };
  const { findings, stream, error, loaded } = useFindings(filters);
  const nowMs = useNow(CLOCK_MS);
  const view = route.view;
  const tabHref = (target) => {
    const query = new URLSearchParams(window.location.search);
    if (target === 'resets') query.delete('view');
    else query.set('view', target);
    const search = query.toString();
    return search ? `?${search}` : window.location.pathname;
  };
  return html`
    <header class="top">
      <h1>rstprobe</h1>
      <p class="tagline">who sent each TCP reset, and why</p>
      <p class=${`stream ${stream}`} role="status" aria-live="polite"><span class="dot" aria-hidden="true"></span> ${STREAM_TEXT[stream] ?? stream}</p>
    </header>
    <nav class="tabs" aria-label="Views">
      ${TABS.map(
        (tab) => html`<a href=${tabHref(tab.view)} aria-current=${view === tab.view ? 'page' : undefined}
          onClick=${(event) => {
            event.preventDefault();
            update({ view: tab.view });
          }}>${tab.text}</a>`,
      )}
    </nav>
    <main>
      ${error && html`<p class="error" role="alert">Could not load findings: ${error}</p>`}
      <${ViewBoundary} key=${view}>
        ${view === 'resets' && html`<${ResetsView} findings=${findings} loaded=${loaded} filters=${filters} onFilters=${update} nowMs=${nowMs} />`}
        ${view === 'senders' && html`<${SendersView} />`}
        ${view === 'mtu' && html`<${MtuView} findings=${findings} nowMs=${nowMs} />`}
      </${ViewBoundary}>
    </main>`;
}
