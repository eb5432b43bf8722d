// The live table of resets and unanswered SYNs: who → whom, cause, who really sent
// it, the kernel's reason, how often and when; a row opens to its evidence and advice.
import { useEffect, useErrorBoundary, useState } from 'preact/hooks';
import { html } from './html.js';
import { FilterBar, matchesFilters } from './filters.js';
import { causeText, durationText, endpointDetail, endpointName, kindText, localTime, timeAgo } from './format.js';
import { arrivedLive, byLastSeenDesc } from './findings-store.js';

/** Rows drawn at most: the newest; filters reach the rest (a table of thousands helps no one and re-renders slowly). */
export const MAX_ROWS = 500;
const SENT_BY_TEXT = { endpoint: 'the endpoint', middlebox: 'a middlebox', unknown: 'unknown' };

function Endpoint({ endpoint }) {
  const detail = endpointDetail(endpoint);
  return html`<span class="endpoint"><span class="name">${endpointName(endpoint)}</span>${detail && html`<span class="detail">${detail}</span>`}</span>`;
}

/** The evidence pcapng, when the agent kept one: asked with HEAD when the row opens. */
function PcapLink({ href, id }) {
  const [state, setState] = useState('checking');
  useEffect(() => {
    let current = true;
    fetch(href, { method: 'HEAD' })
      .then((response) => current && setState(response.ok ? 'available' : 'missing'))
      .catch(() => current && setState('missing'));
    return () => {
      current = false;
    };
  }, [href]);
  if (state === 'available') return html`<a class="pcap" href=${href} download=${`rstprobe-${id}.pcapng`}>download pcapng</a> (open with Wireshark or tshark)`;
  return html`<span class="pcap-${state}">${state === 'checking' ? 'checking…' : 'none kept for this finding'}</span>`;
}

function Details({ finding }) {
  const ttl = finding.expectedTtl === null ? `${finding.ttl}` : `${finding.ttl} (expected ${finding.expectedTtl})`;
  const pcapHref = `api/v1/findings/${encodeURIComponent(finding.id)}/pcap`;
  return html`
    <div class="details">
      <section aria-label="Evidence">
        <h3>Evidence</h3>
        ${(finding.evidence ?? []).length === 0
          ? html`<p>No evidence sentences.</p>`
          : html`<ul class="evidence">${finding.evidence.map((line) => html`<li>${line}</li>`)}</ul>`}
        <h3>Advice</h3>
        <p class="advice">${finding.advice || '—'}</p>
      </section>
      <dl class="facts">
        <dt>TTL on arrival</dt><dd>${ttl}</dd>
        <dt>Idle before the reset</dt><dd>${durationText(finding.idleMs)}</dd>
        <dt>Socket state</dt><dd>${finding.state ?? '—'}</dd>
        <dt>Kernel reason</dt><dd>${finding.kernelReason ?? '— (no kernel event)'}</dd>
        <dt>Seen by node</dt><dd>${finding.node}</dd>
        <dt>First seen</dt><dd><time datetime=${finding.time}>${localTime(finding.time)}</time></dd>
        <dt>Last seen</dt><dd><time datetime=${finding.lastSeen}>${localTime(finding.lastSeen)}</time></dd>
        <dt>Evidence capture</dt><dd><${PcapLink} href=${pcapHref} id=${finding.id} /></dd>
        <dt>Finding id</dt><dd><code>${finding.id}</code></dd>
      </dl>
    </div>`;
}

/**
 * A row is keyed by its id and lastSeen, so a rolled-up update mounts it afresh and
 * its highlight animation (app.css, tr.arrived) plays again: a live change is seen.
 */
function rowKey(finding) {
  return `${finding.id}@${finding.lastSeen}`;
}

function ResetRow({ finding, open, onToggle, nowMs }) {
  const detailsId = `details-${finding.id}`;
  return html`
    <tr class=${`finding${open ? ' open' : ''}${arrivedLive(finding) ? ' arrived' : ''}`} data-id=${finding.id}>
      <td>
        <button type="button" class="expand" aria-expanded=${open ? 'true' : 'false'} aria-controls=${detailsId}
          onClick=${() => onToggle(finding.id)}>
          <span aria-hidden="true">${open ? '▾' : '▸'}</span><span class="visually-hidden">${open ? 'Hide' : 'Show'} evidence</span>
        </button>
      </td>
      <th scope="row"><${Endpoint} endpoint=${finding.src} /></th>
      <td><${Endpoint} endpoint=${finding.dst} /></td>
      <td class="cause">
        ${finding.kind === 'syn-timeout' && html`<span class="badge kind">${kindText(finding.kind)}</span> `}
        <span class=${`badge cause-${finding.cause}`}>${causeText(finding.cause)}</span>
      </td>
      <td class=${`sent-by-${finding.sentBy}`}>${SENT_BY_TEXT[finding.sentBy] ?? finding.sentBy}</td>
      <td><code>${finding.kernelReason ?? '—'}</code></td>
      <td class="num">${finding.count}</td>
      <td><time datetime=${finding.lastSeen} title=${localTime(finding.lastSeen)}>${timeAgo(finding.lastSeen, nowMs)}</time></td>
      <td>${finding.node}</td>
    </tr>
    <tr id=${detailsId} class="details-row" hidden=${!open}>
      <td colspan="9">${open && html`<${Details} finding=${finding} />`}</td>
    </tr>`;
}

/** A finding that cannot be drawn becomes one line saying so; the other rows stay. */
function SafeRow(props) {
  const [error] = useErrorBoundary((err) => console.error('rstprobe row failed', props.finding?.id, err));
  if (error) {
    return html`<tr class="finding broken" data-id=${props.finding?.id}><td colspan="9" class="error">Finding ${props.finding?.id ?? '?'} could not be drawn: ${String(error.message ?? error)}</td></tr>`;
  }
  return html`<${ResetRow} ...${props} />`;
}

function EmptyState({ total, filtered, onClear }) {
  if (total > 0 && filtered) {
    return html`
      <div class="empty" role="status">
        <p><strong>No reset matches these filters</strong> (${total} in all).</p>
        <p><button type="button" onClick=${onClear}>Clear filters</button></p>
      </div>`;
  }
  return html`
    <div class="empty" role="status">
      <p><strong>No resets seen yet.</strong> A row appears here, live, as soon as a node's agent sees a TCP RST or a SYN nobody answers.</p>
      <ul>
        <li>Check the agents run: each node's <code>/healthz</code> answers 200, and its <code>/metrics</code> shows <code>rstprobe_packets_captured_total</code> growing.</li>
        <li>To see one now, connect to a closed port on a captured host, e.g. <code>curl http://127.0.0.1:9</code>, or run <code>rstprobe demo</code> for a lab with every failure mode.</li>
        <li>Resets that crossed no captured interface are not seen: the agent captures <code>--interfaces any</code> unless told otherwise.</li>
      </ul>
    </div>`;
}

export function ResetsView({ findings, loaded, filters, onFilters, nowMs }) {
  const [openIds, setOpenIds] = useState(() => new Set());
  const all = [...findings.values()].filter((finding) => finding.kind === 'reset' || finding.kind === 'syn-timeout');
  const shown = all.filter((finding) => matchesFilters(finding, filters)).sort(byLastSeenDesc);
  const filtered = Boolean(filters.namespace || filters.node || filters.cause);
  const toggle = (id) =>
    setOpenIds((previous) => {
      const next = new Set(previous);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return html`
    <section aria-labelledby="resets-title">
      <h2 id="resets-title">Resets</h2>
      <${FilterBar} findings=${all} filters=${filters} onChange=${onFilters} />
      <p class="summary" aria-live="polite">
        ${shown.length > MAX_ROWS
          ? `newest ${MAX_ROWS} of ${shown.length} matching (${all.length} in all): filter to see the others`
          : `${shown.length} of ${all.length} shown`}
      </p>
      ${shown.length === 0 && !loaded
        ? html`<p class="loading" role="status">Loading findings…</p>`
        : shown.length === 0
        ? html`<${EmptyState} total=${all.length} filtered=${filtered} onClear=${() => onFilters({ namespace: '', node: '', cause: '' })} />`
        : html`
          <div class="table-scroll">
          <table class="resets">
            <caption class="visually-hidden">Resets and unanswered SYNs, most recent first; open a row for its evidence</caption>
            <thead>
              <tr>
                <th scope="col"><span class="visually-hidden">Details</span></th>
                <th scope="col">From (RST source)</th>
                <th scope="col">To</th>
                <th scope="col">Cause</th>
                <th scope="col">Sent by</th>
                <th scope="col">Kernel reason</th>
                <th scope="col" class="num">Count</th>
                <th scope="col">Last seen</th>
                <th scope="col">Seen on node</th>
              </tr>
            </thead>
            <tbody>
              ${shown.slice(0, MAX_ROWS).map((finding) => html`<${SafeRow} key=${rowKey(finding)} finding=${finding} open=${openIds.has(finding.id)} onToggle=${toggle} nowMs=${nowMs} />`)}
            </tbody>
          </table>
          </div>`}
    </section>`;
}
