/**
 * Is any interface of this node larger than the path it sends over? Pure: the
 * measured path and this node's interfaces in, the verdict and its words out.
 *
 * What each interface may be at most, for a path of `pmtu` bytes:
 * - the device the probes left by (uplink, or the overlay when the target is a pod
 *   address behind a tunnel): `pmtu`;
 * - another overlay device carrying pod traffic over that underlay: `pmtu` minus the
 *   overlay's overhead (interfaces.ts, overlayOverheadBytes);
 * - pod interfaces (eth0 inside pods, and the host-side veths): the overlay's
 *   allowance when pods go through an overlay, else `pmtu` (routed pod networks).
 * An interface above its allowance makes packets the path cannot carry: with ICMP
 * coming back the kernel learns and retransmits smaller; in a black hole they vanish.
 */
import { overlayOverheadBytes, type NodeInterface, type OverlayKind } from './interfaces';
import type { PathMeasurement } from './path-prober';
import type { PodInterfaceMtu } from './pod-mtu';

export interface PathFacts {
  targetIp: string;
  family: 4 | 6;
  pmtuBytes: number;
  blackHole: boolean;
  icmpSeen: boolean;
  routeIfname: string;
  localMtuBytes: number;
}

export interface Offender {
  /** Human words for the interface(s): "uplink eth0", "eth0 of 3 pods (default/web-0, …)". */
  what: string;
  mtuBytes: number;
  allowedBytes: number;
  /** Why the allowance is lower than the path MTU, when it is ("vxlan overhead 50"). */
  overheadNote: string | null;
}

export interface MtuComparison {
  mismatch: boolean;
  offenders: Offender[];
  advice: string;
  evidence: string[];
}

const MAX_NAMED_PODS = 3;

/** compareMtus for a path measurement that found an MTU (the one-shot command and the agent's scheduler). */
export function compareMeasuredPath(
  targetIp: string,
  measurement: PathMeasurement & { pmtuBytes: number },
  interfaces: readonly NodeInterface[],
  pods: readonly PodInterfaceMtu[],
): MtuComparison {
  const path: PathFacts = {
    targetIp,
    family: measurement.family,
    pmtuBytes: measurement.pmtuBytes,
    blackHole: measurement.blackHole,
    icmpSeen: measurement.icmpSeen,
    routeIfname: measurement.route.ifname,
    localMtuBytes: measurement.route.localMtuBytes,
  };
  return compareMtus(path, interfaces, pods);
}

export function compareMtus(path: PathFacts, interfaces: readonly NodeInterface[], pods: readonly PodInterfaceMtu[]): MtuComparison {
  const pmtu = path.pmtuBytes;
  const routeDevice = interfaces.find((link) => link.ifname === path.routeIfname) ?? null;
  const routeOverlay = routeDevice?.overlay ?? null;
  const offenders: Offender[] = [];
  const evidence: string[] = [];

  if (path.localMtuBytes > pmtu) {
    offenders.push({
      what: routeOverlay !== null ? `${routeOverlay} device ${path.routeIfname}` : `uplink ${path.routeIfname}`,
      mtuBytes: path.localMtuBytes,
      allowedBytes: pmtu,
      overheadNote: null,
    });
  }

  let podAllowance = pmtu;
  let podNote: string | null = null;
  if (routeOverlay === null) {
    for (const link of interfaces) {
      if (link.overlay === null || !link.up || link.ifname === path.routeIfname) continue;
      const overhead = overlayOverheadBytes(link.overlay, path.family);
      const allowed = pmtu - overhead;
      const note = overheadNote(link.overlay, overhead);
      evidence.push(`overlay ${link.ifname} (${link.overlay}) has MTU ${link.mtuBytes}; over this path it can carry ${allowed}`);
      if (link.mtuBytes > allowed) offenders.push({ what: `${link.overlay} device ${link.ifname}`, mtuBytes: link.mtuBytes, allowedBytes: allowed, overheadNote: note });
      if (allowed < podAllowance) {
        podAllowance = allowed;
        podNote = note;
      }
    }
  }

  const podsOver = pods.filter((pod) => pod.mtuBytes > podAllowance);
  for (const [mtuBytes, group] of groupBy(podsOver, (pod) => pod.mtuBytes)) {
    const names = group.slice(0, MAX_NAMED_PODS).map((pod) => (pod.name === null ? (pod.ips[0] ?? pod.hostIfname ?? '?') : `${pod.namespace}/${pod.name}`));
    const more = group.length > MAX_NAMED_PODS ? `, and ${group.length - MAX_NAMED_PODS} more` : '';
    const fromHost = group.every((pod) => pod.source === 'host-veth') ? ', read from the host-side veth' : '';
    offenders.push({
      what: `${group[0]!.ifname} of ${group.length} pod${group.length === 1 ? '' : 's'} (${names.join(', ')}${more}${fromHost})`,
      mtuBytes,
      allowedBytes: podAllowance,
      overheadNote: podNote,
    });
  }
  const podHostVeths = new Set(pods.map((pod) => pod.hostIfname));
  const vethsOver = interfaces.filter(
    (link) => link.linkKind === 'veth' && link.ifname !== path.routeIfname && !podHostVeths.has(link.ifname) && link.mtuBytes > podAllowance,
  );
  for (const [mtuBytes, group] of groupBy(vethsOver, (link) => link.mtuBytes)) {
    const names = group.slice(0, MAX_NAMED_PODS).map((link) => link.ifname);
    const more = group.length > MAX_NAMED_PODS ? `, and ${group.length - MAX_NAMED_PODS} more` : '';
    offenders.push({ what: `host-side veth${group.length === 1 ? '' : 's'} ${names.join(', ')}${more}`, mtuBytes, allowedBytes: podAllowance, overheadNote: podNote });
  }

  evidence.unshift(`${path.routeIfname} (towards ${path.targetIp}) lets out ${path.localMtuBytes}-byte packets; the path carries ${pmtu}`);
  if (pods.length > 0) evidence.push(`pod interfaces on this node: ${describeMtus(pods.map((pod) => pod.mtuBytes))}`);
  return { mismatch: offenders.length > 0, offenders, advice: adviceFor(path, offenders), evidence };
}

function adviceFor(path: PathFacts, offenders: readonly Offender[]): string {
  const pmtu = path.pmtuBytes;
  const mssBytes = pmtu - (path.family === 4 ? 40 : 60);
  const consequence = path.blackHole
    ? `ICMP "${path.family === 4 ? 'fragmentation needed' : 'packet too big'}" does not come back on this path, so larger packets vanish and connections stall after the handshake: allow ICMP ${path.family === 4 ? 'type 3 code 4' : 'type 2 (ICMPv6)'} through firewalls and security groups, or clamp TCP MSS to ${mssBytes}.`
    : path.icmpSeen
      ? 'Routers report the limit (ICMP seen), so PMTU discovery copes, at the cost of a lost first large packet per connection and fragmented UDP; fix the MTU anyway.'
      : '';
  if (offenders.length === 0) {
    const base = `Path MTU to ${path.targetIp} is ${pmtu} bytes; no interface on this node is larger than the path allows.`;
    return path.blackHole ? `${base} ${consequence}` : base;
  }
  const sentences = offenders.map((offender) => {
    const excess = offender.mtuBytes - offender.allowedBytes;
    const note = offender.overheadNote === null ? '' : ` (path MTU ${pmtu} minus ${offender.overheadNote})`;
    return `${offender.what} has MTU ${offender.mtuBytes}, ${excess} bytes more than the path to ${path.targetIp} carries: set it to ${offender.allowedBytes}${note}`;
  });
  const podTarget = offenders.find((offender) => offender.what.includes(' pod') || offender.what.startsWith('host-side veth'));
  const cni = podTarget === undefined ? '' : ` For pods, set the CNI's MTU (e.g. Calico veth_mtu, Cilium --mtu, flannel's network MTU) to ${podTarget.allowedBytes} and recreate the pods.`;
  return `${sentences.join('; ')}.${cni}${consequence === '' ? '' : ` ${consequence}`}`;
}

function overheadNote(kind: OverlayKind, overhead: number): string {
  return `${kind} overhead ${overhead}`;
}

function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return new Map([...groups].sort((a, b) => b[0] - a[0]));
}

function describeMtus(mtus: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const mtu of mtus) counts.set(mtu, (counts.get(mtu) ?? 0) + 1);
  return [...counts].map(([mtu, count]) => `${count} with MTU ${mtu}`).join(', ');
}
