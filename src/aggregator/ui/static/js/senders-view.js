// "Top senders": who sent the most resets in a time window, from the server's
// aggregate (GET /api/v1/top-senders), refreshed while the view is open.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getJson } from './api.js';
import { causeText } from './format.js';

const WINDOWS = [
  { value: '15m', text: 'last 15 minutes', ms: 15 * 60_000 },
  { value: '1h', text: 'last hour', ms: 3600_000 },
  { value: '24h', text: 'last 24 hours', ms: 86400_000 },
  { value: '7d', text: 'last 7 days', ms: 7 * 86400_000 },
];
const REFRESH_MS = 5000;
const LIMIT = 25;

/** One row of GET /api/v1/top-senders: { ip, pod: { namespace, name } | null, node, count, findings, causes }. */
function SenderName({ sender }) {
  if (sender.pod) {
    return html`<span class="endpoint"><span class="name">${sender.pod.namespace}/${sender.pod.name}</span><span class="detail">${sender.ip}</span></span>`;
  }
  return html`<span class="endpoint"><span class="name">${sender.ip}</span></span>`;
}

export function SendersView() {
  const [windowValue, setWindowValue] = useState('1h');
  const [state, setState] = useState({ items: null, error: null });
  useEffect(() => {
    let current = true;
    const windowMs = WINDOWS.find((entry) => entry.value === windowValue).ms;
    const load = () =>
      getJson('api/v1/top-senders', { since: new Date(Date.now() - windowMs).toISOString(), limit: LIMIT })
        .then((body) => current && setState({ items: body.items ?? [], error: null }))
        .catch((err) => current && setState((previous) => ({ items: previous.items, error: err.message })));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [windowValue]);
  const items = state.items ?? [];
  return html`
    <section aria-labelledby="senders-title">
      <h2 id="senders-title">Top senders</h2>
      <form class="filters" onSubmit=${(event) => event.preventDefault()}>
        <div class="filter">
          <label for="senders-window">Window</label>
          <select id="senders-window" value=${windowValue} onChange=${(event) => setWindowValue(event.currentTarget.value)}>
            ${WINDOWS.map((entry) => html`<option value=${entry.value}>${entry.text}</option>`)}
          </select>
        </div>
      </form>
      ${state.error && html`<p class="error" role="alert">${state.error}</p>`}
      ${state.items !== null && items.length === 0
        ? html`<div class="empty" role="status"><p><strong>No resets in this window.</strong> Pick a longer window, or see the Resets view for what is arriving now.</p></div>`
        : html`
          <table class="senders">
            <caption class="visually-hidden">Endpoints that sent the most resets in the window</caption>
            <thead><tr><th scope="col">Sender</th><th scope="col">Node</th><th scope="col" class="num">Resets</th><th scope="col" class="num">Findings</th><th scope="col">Causes</th></tr></thead>
            <tbody>
              ${items.map(
                (item) => html`<tr>
                  <th scope="row"><${SenderName} sender=${item} /></th>
                  <td>${item.node ?? '—'}</td>
                  <td class="num">${item.count}</td>
                  <td class="num">${item.findings}</td>
                  <td>${(item.causes ?? []).map(causeText).join(', ') || '—'}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>`;
}
