// Filters by namespace, node and cause: applied to everything the page holds (the
// stream pushes all findings), and passed to the API so a load fetches the right ones.
import { html } from './html.js';
import { CAUSES, causeText } from './format.js';

export function findingNamespaces(finding) {
  return [finding.src?.pod?.namespace, finding.dst?.pod?.namespace].filter(Boolean);
}

/** The node that reported it, or the node of either end. */
export function findingNodes(finding) {
  return [finding.node, finding.src?.node, finding.dst?.node].filter(Boolean);
}

export function matchesFilters(finding, filters) {
  if (filters.namespace && !findingNamespaces(finding).includes(filters.namespace)) return false;
  if (filters.node && !findingNodes(finding).includes(filters.node)) return false;
  if (filters.cause && finding.cause !== filters.cause) return false;
  return true;
}

function sortedValues(findings, valuesOf, current) {
  const values = new Set(current ? [current] : []);
  for (const finding of findings) for (const value of valuesOf(finding)) values.add(value);
  return [...values].sort();
}

function FilterSelect({ id, label, value, options, onChange }) {
  return html`
    <div class="filter">
      <label for=${id}>${label}</label>
      <select id=${id} name=${id} value=${value} onChange=${(event) => onChange(event.currentTarget.value)}>
        <option value="">all</option>
        ${options.map((option) => html`<option value=${option.value}>${option.text}</option>`)}
      </select>
    </div>`;
}

/** Three labelled selects and a reset button; options come from the findings seen so far. */
export function FilterBar({ findings, filters, onChange }) {
  const namespaces = sortedValues(findings, findingNamespaces, filters.namespace);
  const nodes = sortedValues(findings, findingNodes, filters.node);
  const active = filters.namespace || filters.node || filters.cause;
  return html`
    <form class="filters" role="search" aria-label="Filter resets" onSubmit=${(event) => event.preventDefault()}>
      <${FilterSelect} id="filter-namespace" label="Namespace" value=${filters.namespace}
        options=${namespaces.map((value) => ({ value, text: value }))}
        onChange=${(namespace) => onChange({ namespace })} />
      <${FilterSelect} id="filter-node" label="Node" value=${filters.node}
        options=${nodes.map((value) => ({ value, text: value }))}
        onChange=${(node) => onChange({ node })} />
      <${FilterSelect} id="filter-cause" label="Cause" value=${filters.cause}
        options=${CAUSES.map((value) => ({ value, text: causeText(value) }))}
        onChange=${(cause) => onChange({ cause })} />
      <button type="button" class="clear" disabled=${!active} onClick=${() => onChange({ namespace: '', node: '', cause: '' })}>Clear filters</button>
    </form>`;
}
