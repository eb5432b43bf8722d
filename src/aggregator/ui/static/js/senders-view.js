// "Top senders": who sent the most resets in a time window, from the server's
// aggregate (GET /api/v1/top-senders), refreshed while the view is open.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { getJson } from './api.js';
import { causeText, endpointDetail, endpointName } from './format.js';

const WINDOWS = [
  { value: '15m', text: 'last 15 minutes', ms: 15 * 60_000 },
  { value: '1h', text: 'last hour', ms: 3600_000 },
  { value: '24h', text: 'last 24 hours', ms: 86400_000 },
  { value: '7d', text: 'last 7 days', ms: 7 * 86400_000 },
];
const REFRESH_MS = 5000;
const LIMIT = 25;

/** A sender as the API names it: an Endpoint, or just the fields that identify one. */
function senderOf(item) {
  return item.sender ?? item.endpoint ?? item.src ?? item;
}

function SenderName({ sender }) {
  if (typeof sender.ip !== 'string') {
    const text = sender.pod ? `${sender.pod.namespace}/${sender.pod.name}` : (sender.namespace && sender.name ? `${sender.namespace}/${sender.name}` : JSON.stringify(sender));
    return html`<span class="name">${text}</span>`;
  }
  const endpoint = { port: 0, kind: 'external', pod: null, node: null, process: null, ...sender };
  const detail = endpointDetail(endpoint);
  return html`<span class="endpoint"><span class="name">${endpointName(endpoint)}</span>${detail && html`<span class="detail">${detail}</span>`}</span>`;
}

function causesText(item) {
  if (Array.isArray(item.causes)) return item.causes.map((entry) => (typeof entry === 'string' ? causeText(entry) : `${causeText(entry.cause)} ×${entry.count}`)).join(', ');
  if (item.causes && typeof item.causes === 'object') return Object.entries(item.causes).map(([cause, count]) => `${causeText(cause)} ×${count}`).join(', ');
  return item.cause ? causeText(item.cause) : '—';
}

export function SendersView({ version }) {
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
  }, [windowValue, version]);
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
            <thead><tr><th scope="col">Sender</th><th scope="col" class="num">Resets</th><th scope="col">Causes</th></tr></thead>
            <tbody>
              ${items.map(
                (item) => html`<tr>
                  <th scope="row"><${SenderName} sender=${senderOf(item)} /></th>
                  <td class="num">${item.count ?? item.resets ?? item.total ?? '—'}</td>
                  <td>${causesText(item)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>`;
}
