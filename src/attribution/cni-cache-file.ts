import { isIP } from 'node:net';

/**
 * Pure parsers for the two kinds of file a node's CNI state directory holds
 * (default /var/lib/cni; DESIGN.md, "CNI result cache"):
 *
 * - `results/<network>-<containerId>-<ifName>`: libcni's cached ADD result
 *   (containernetworking/cni libcni/api.go, `cachedInfo`): `kind: "cniCacheV1"`,
 *   `containerId` (the pod sandbox), `networkName`, `ifName`, `netns`, `cniArgs`
 *   (pairs; the kubelet's runtime passes K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID),
 *   and `result` (the plugin's Result: `ips[].address` as CIDR, `interfaces[]`, where
 *   the entry without a `sandbox` is the host side of the veth).
 * - `networks/<network>/<ip>`: host-local IPAM's reservation
 *   (containernetworking/plugins plugins/ipam/host-local/backend/disk/backend.go):
 *   the container ID, then the ifName on a second line (`\r\n`-separated).
 *   `last_reserved_ip.<range>` and `lock` in that directory are not reservations.
 */

/** What one cached CNI ADD result says about a pod's network. */
export interface CniPodNetwork {
  networkName: string;
  /** The pod sandbox's container ID (the "pause" container). */
  containerId: string;
  ifName: string;
  /** Path of the pod's network namespace, e.g. /var/run/netns/cni-… */
  netnsPath: string | null;
  namespace: string | null;
  name: string | null;
  podUid: string | null;
  /** Addresses without prefix length. */
  ips: string[];
  /** The veth end on the node (the result interface without a sandbox). */
  hostIfname: string | null;
}

export interface IpamReservation {
  networkName: string;
  ip: string;
  containerId: string;
  ifName: string | null;
}

export type CniParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const CACHE_KIND = 'cniCacheV1';

export function parseCniResultFile(text: string): CniParseResult<CniPodNetwork> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON (${(err as Error).message}); half-written or not a CNI cache file` };
  }
  if (!isRecord(document)) return { ok: false, reason: 'not a JSON object' };
  if (document.kind !== CACHE_KIND) return { ok: false, reason: `kind is ${JSON.stringify(document.kind)}, not ${CACHE_KIND}` };
  const containerId = stringField(document, 'containerId');
  if (containerId === null || containerId === '') return { ok: false, reason: 'no containerId' };
  const result = document.result;
  if (!isRecord(result)) return { ok: false, reason: 'no result object' };
  const args = new Map<string, string>();
  if (Array.isArray(document.cniArgs)) {
    for (const pair of document.cniArgs) {
      if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string') args.set(pair[0], pair[1]);
    }
  }
  const ips: string[] = [];
  if (Array.isArray(result.ips)) {
    for (const entry of result.ips) {
      const address = isRecord(entry) ? stringField(entry, 'address') : null;
      const ip = address?.split('/')[0] ?? '';
      if (isIP(ip) === 0) return { ok: false, reason: `result.ips has ${JSON.stringify(address)}, not an address/prefix` };
      ips.push(ip);
    }
  }
  let hostIfname: string | null = null;
  if (Array.isArray(result.interfaces)) {
    for (const entry of result.interfaces) {
      if (!isRecord(entry) || typeof entry.name !== 'string') continue;
      const sandbox = entry.sandbox;
      if ((sandbox === undefined || sandbox === '') && hostIfname === null) hostIfname = entry.name;
    }
  }
  return {
    ok: true,
    value: {
      networkName: stringField(document, 'networkName') ?? '',
      containerId,
      ifName: stringField(document, 'ifName') ?? '',
      netnsPath: stringField(document, 'netns'),
      namespace: args.get('K8S_POD_NAMESPACE') ?? null,
      name: args.get('K8S_POD_NAME') ?? null,
      podUid: args.get('K8S_POD_UID') ?? null,
      ips,
      hostIfname,
    },
  };
}

/** Whether a file name in `networks/<net>/` can be a reservation (its name is an address). */
export function isReservationFileName(fileName: string): boolean {
  return isIP(fileName) !== 0;
}

export function parseIpamReservation(networkName: string, fileName: string, text: string): CniParseResult<IpamReservation> {
  if (!isReservationFileName(fileName)) return { ok: false, reason: `${fileName} is not an address` };
  const [containerId, ifName] = text.split(/\r?\n/).map((line) => line.trim());
  if (containerId === undefined || containerId === '') return { ok: false, reason: 'empty reservation (half-written?)' };
  if (!/^[0-9A-Za-z][0-9A-Za-z_.-]*$/.test(containerId)) return { ok: false, reason: `container ID ${JSON.stringify(containerId.slice(0, 80))} is malformed` };
  return { ok: true, value: { networkName, ip: fileName, containerId, ifName: ifName === undefined || ifName === '' ? null : ifName } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(record: Record<string, unknown>, key: string): string | null {
  const value = record[key];
  return typeof value === 'string' ? value : null;
}
