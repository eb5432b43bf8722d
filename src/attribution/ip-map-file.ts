import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { UsageError } from '../common/errors';
import type { IpOwner, IpOwnershipMap } from './ip-map';

/**
 * `rstprobe analyze --ip-map FILE`: who owned which address, for captures taken
 * away from the cluster. A small file, either CSV
 *
 *   ip,namespace,pod,node          (header optional; '#' starts a comment)
 *   10.244.2.20,default,reviews-0,node-b
 *   10.210.0.12,,,node-b           (no pod: the node's own address)
 *
 * or JSON: `{"10.244.2.20": {"namespace": "default", "pod": "reviews-0", "node": "node-b"}}`
 * or an array of `{ip, namespace, pod, node}` objects. A bad row is a UsageError
 * naming the file and line.
 */
export interface IpMapEntry {
  ip: string;
  namespace: string | null;
  pod: string | null;
  node: string | null;
}

export function parseIpMapFile(path: string, text: string): IpMapEntry[] {
  const trimmed = text.trimStart();
  return trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJson(path, text) : parseCsv(path, text);
}

export function loadIpMapFile(path: string): IpMapEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --ip-map ${path}: ${(err as Error).message}; give a CSV (ip,namespace,pod,node) or JSON file`, { cause: err });
  }
  return parseIpMapFile(path, text);
}

/** Claims every entry in `map` for all of time (source 'static'). */
export function claimIpMapEntries(map: IpOwnershipMap, entries: readonly IpMapEntry[]): void {
  for (const entry of entries) map.claim(entry.ip, ownerOf(entry), 0, 'static');
}

function ownerOf(entry: IpMapEntry): IpOwner {
  if (entry.pod !== null) {
    const namespace = entry.namespace ?? 'default';
    return {
      kind: 'pod',
      key: `pod/${namespace}/${entry.pod}`,
      pod: { namespace, name: entry.pod, uid: '' },
      node: entry.node,
      service: null,
    };
  }
  return { kind: 'node', key: `node/${entry.node}`, pod: null, node: entry.node, service: null };
}

const CSV_COLUMNS = ['ip', 'namespace', 'pod', 'node'] as const;

function parseCsv(path: string, text: string): IpMapEntry[] {
  const entries: IpMapEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(',').map((cell) => cell.trim());
    if (entries.length === 0 && cells[0].toLowerCase() === 'ip') continue; // header row
    const where = `${path}:${index + 1}`;
    if (cells.length !== CSV_COLUMNS.length) {
      throw new UsageError(`${where}: expected 4 columns (ip,namespace,pod,node), found ${cells.length} in "${line}"`);
    }
    entries.push(checkedEntry(where, cells[0], cells[1], cells[2], cells[3]));
  }
  return entries;
}

function parseJson(path: string, text: string): IpMapEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message}); give {"ip": {"namespace", "pod", "node"}} or an array`, { cause: err });
  }
  const rows: Array<[string, unknown]> = Array.isArray(parsed)
    ? parsed.map((row) => [typeof row === 'object' && row !== null ? String((row as { ip?: unknown }).ip ?? '') : '', row])
    : Object.entries(parsed as Record<string, unknown>);
  return rows.map(([ip, row], index) => {
    const where = `${path}:${lineOf(text, ip, index)}`;
    if (typeof row !== 'object' || row === null) throw new UsageError(`${where}: entry for "${ip}" is not an object with namespace, pod and node`);
    const fields = row as Record<string, unknown>;
    for (const key of ['namespace', 'pod', 'node']) {
      if (fields[key] !== undefined && fields[key] !== null && typeof fields[key] !== 'string') {
        throw new UsageError(`${where}: "${key}" of "${ip}" must be a string`);
      }
    }
    return checkedEntry(where, ip, fields.namespace as string | undefined, fields.pod as string | undefined, fields.node as string | undefined);
  });
}

function checkedEntry(where: string, ip: string, namespace: string | undefined | null, pod: string | undefined | null, node: string | undefined | null): IpMapEntry {
  if (isIP(ip) === 0) throw new UsageError(`${where}: "${ip}" is not an IPv4 or IPv6 address`);
  const text = (value: string | undefined | null): string | null => (value === undefined || value === null || value === '' ? null : value);
  const entry: IpMapEntry = { ip: normaliseIp(ip), namespace: text(namespace), pod: text(pod), node: text(node) };
  if (entry.pod === null && entry.node === null) throw new UsageError(`${where}: "${ip}" names neither a pod nor a node`);
  return entry;
}

/** IPv6 in the decoder's RFC 5952 form (lowercase, zeros compressed), so lookups by decoded address match. */
function normaliseIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** Line (1-based) of the JSON entry for `ip`, found by its first quoted occurrence; else of the array index. */
function lineOf(text: string, ip: string, index: number): number {
  const at = ip === '' ? -1 : text.indexOf(`"${ip}"`);
  if (at >= 0) return text.slice(0, at).split('\n').length;
  return index + 1;
}
