// The path-MTU matrix: one row per measuring node, one column per target node, the
// latest measurement in each cell; mismatches and black holes (ICMP "fragmentation
// needed" filtered, RFC 2923 §2.1) are marked, and a cell opens to its advice.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { durationText, localTime, timeAgo } from './format.js';

function targetName(finding) {
  return finding.to.node ?? (finding.to.pod ? `${finding.to.pod.namespace}/${finding.to.pod.name}` : finding.to.ip);
}

/** The latest pmtu finding per from-node → target pair. */
export function latestPairs(findings) {
  const pairs = new Map();
  for (const finding of findings.values()) {
    if (finding.kind !== 'pmtu') continue;
    const key = `${finding.from.node}\u0000${targetName(finding)}`;
    const current = pairs.get(key);
    if (current === undefined || current.lastSeen < finding.lastSeen) pairs.set(key, finding);
  }
  return pairs;
}

function cellState(finding) {
  if (finding.blackHole) return { className: 'black-hole', text: 'black hole' };
  if (finding.mismatch) return { className: 'mismatch', text: 'mismatch' };
  return { className: 'ok', text: 'ok' };
}

function PairDetails({ finding, nowMs }) {
  return html`
    <section class="pair-details" aria-live="polite" aria-label="Selected path">
      <h3>${finding.from.node} (${finding.from.ip}) → ${targetName(finding)}${targetName(finding) === finding.to.ip ? '' : ` (${finding.to.ip})`}</h3>
      <p class="advice">${finding.advice || 'No advice: the path carries full-size packets.'}</p>
      <dl class="facts">
        <dt>Path MTU</dt><dd>${finding.pmtu} bytes</dd>
        <dt>Local interface MTU</dt><dd>${finding.localMtu} bytes</dd>
        <dt>ICMP "too big" seen</dt><dd>${finding.icmpSeen ? 'yes' : 'no'}</dd>
        <dt>Probes</dt><dd>${finding.probes} in ${durationText(finding.durationMs)}</dd>
        <dt>Measured</dt><dd><time datetime=${finding.lastSeen} title=${localTime(finding.lastSeen)}>${timeAgo(finding.lastSeen, nowMs)}</time> (${finding.count}×)</dd>
      </dl>
    </section>`;
}

export function MtuView({ findings, nowMs }) {
  const [selected, setSelected] = useState(null);
  const pairs = latestPairs(findings);
  const fromNodes = [...new Set([...pairs.values()].map((finding) => finding.from.node))].sort();
  const targets = [...new Set([...pairs.values()].map(targetName))].sort();
  const selectedFinding = selected === null ? undefined : pairs.get(selected);
  if (pairs.size === 0) {
    return html`
      <section aria-labelledby="mtu-title">
        <h2 id="mtu-title">Path MTU between nodes</h2>
        <div class="empty" role="status">
          <p><strong>No path-MTU measurement yet.</strong> Agents measure the path MTU to other nodes and to <code>--pmtu-targets</code>; results appear here.</p>
          <p>For a one-off measurement from a shell: <code>rstprobe pmtu 10.0.0.12</code>.</p>
        </div>
      </section>`;
  }
  return html`
    <section aria-labelledby="mtu-title">
      <h2 id="mtu-title">Path MTU between nodes</h2>
      <p class="legend"><span class="swatch ok"></span> carries full-size packets <span class="swatch mismatch"></span> path MTU below the local MTU <span class="swatch black-hole"></span> black hole: large packets vanish without an ICMP error</p>
      <table class="mtu">
        <caption class="visually-hidden">Path MTU in bytes from each node (rows) to each target (columns)</caption>
        <thead><tr><th scope="col">from \\ to</th>${targets.map((target) => html`<th scope="col">${target}</th>`)}</tr></thead>
        <tbody>
          ${fromNodes.map(
            (from) => html`
              <tr>
                <th scope="row">${from}</th>
                ${targets.map((target) => {
                  const key = `${from}\u0000${target}`;
                  const finding = pairs.get(key);
                  if (finding === undefined) return html`<td class="none">—</td>`;
                  const state = cellState(finding);
                  return html`
                    <td class=${`cell ${state.className}`}>
                      <button type="button" title=${finding.advice} aria-pressed=${selected === key ? 'true' : 'false'}
                        onClick=${() => setSelected(selected === key ? null : key)}>
                        ${finding.pmtu}<span class="state">${state.text}</span>
                      </button>
                    </td>`;
                })}
              </tr>`,
          )}
        </tbody>
      </table>
      ${selectedFinding && html`<${PairDetails} finding=${selectedFinding} nowMs=${nowMs} />`}
    </section>`;
}
