/**
 * This node's interfaces as the MTU comparison needs them: MTU, and what each is —
 * a pod veth, an overlay tunnel (vxlan, geneve, ipip, wireguard, …) or anything else.
 *
 * The kind comes from the kernel's link info (`ip -d -j link show`: `linkinfo.info_kind`,
 * the rtnl_link_ops kind name), else from sysfs (`/sys/class/net/<if>/uevent`
 * DEVTYPE=vxlan|geneve|wireguard, `type` 768 = ARPHRD_TUNNEL for ipip), else from
 * the names CNIs give their devices (flannel.1, cilium_vxlan, genev_sys_6081, tunl0,
 * wg0, vxlan.calico), so a kernel that hides link info still gets a sensible answer.
 */
import { readFileSync } from 'node:fs';
import { ipJson, isRecord } from './ip-command';

export type OverlayKind = 'vxlan' | 'geneve' | 'ipip' | 'wireguard' | 'gre' | 'sit' | 'ip6tnl';

export interface NodeInterface {
  ifname: string;
  mtuBytes: number;
  /** The kernel's link kind (veth, vxlan, …), null for plain devices. */
  linkKind: string | null;
  overlay: OverlayKind | null;
  up: boolean;
}

/** linux/if_arp.h */
const ARPHRD_TUNNEL = 768;
const ARPHRD_SIT = 776;
const ARPHRD_TUNNEL6 = 769;
const ARPHRD_NONE = 65534; // wireguard

const OVERLAY_KINDS: ReadonlySet<string> = new Set(['vxlan', 'geneve', 'ipip', 'wireguard', 'gre', 'gretap', 'sit', 'ip6tnl']);

const NAME_PATTERNS: Array<[RegExp, OverlayKind]> = [
  [/^(flannel\.\d+|vxlan[.\-_]|cilium_vxlan|vxlan\d*$|weave-vxlan|vxlan-v6)/, 'vxlan'],
  [/^(genev_sys_|cilium_geneve|geneve\d*$|antrea-gw-tun|ovn-k8s-mp)/, 'geneve'],
  [/^(tunl\d+|ipip\d*)$/, 'ipip'],
  [/^(wg\d*|cilium_wg\d*|flannel-wg|wireguard\.cali|wg-v6\.cali)$/, 'wireguard'],
];

/**
 * Bytes an overlay adds to each packet, by the underlay's address family:
 * VXLAN 50/70 (RFC 7348: outer Ethernet 14 + IP 20/40 + UDP 8 + VXLAN 8), Geneve the
 * same without options (RFC 8926; options add more, which we cannot see), IPIP 20
 * (RFC 2003), IPv6-in-IPv6 40, GRE 24/44 (RFC 2784 with key), WireGuard 60/80
 * (IP 20/40 + UDP 8 + header 16 + tag 16, wireguard.com/papers).
 */
export function overlayOverheadBytes(kind: OverlayKind, underlayFamily: 4 | 6): number {
  const ipBytes = underlayFamily === 4 ? 20 : 40;
  switch (kind) {
    case 'vxlan':
    case 'geneve':
      return 14 + ipBytes + 8 + 8;
    case 'ipip':
    case 'sit':
      return 20;
    case 'ip6tnl':
      return 40;
    case 'gre':
      return ipBytes + 4;
    case 'wireguard':
      return ipBytes + 8 + 32;
  }
}

export function overlayKindOf(ifname: string, linkKind: string | null, sysfs: { devtype: string | null; arphrd: number | null } | null): OverlayKind | null {
  if (linkKind !== null && OVERLAY_KINDS.has(linkKind)) return linkKind === 'gretap' ? 'gre' : (linkKind as OverlayKind);
  if (linkKind !== null) return null; // the kernel named it (veth, bridge, …): not a tunnel
  const devtype = sysfs?.devtype ?? null;
  if (devtype !== null && OVERLAY_KINDS.has(devtype)) return devtype as OverlayKind;
  if (sysfs?.arphrd === ARPHRD_TUNNEL) return 'ipip';
  if (sysfs?.arphrd === ARPHRD_SIT) return 'sit';
  if (sysfs?.arphrd === ARPHRD_TUNNEL6) return 'ip6tnl';
  for (const [pattern, kind] of NAME_PATTERNS) if (pattern.test(ifname)) return kind;
  if (sysfs?.arphrd === ARPHRD_NONE && /^wg/.test(ifname)) return 'wireguard';
  return null;
}

function readSysfs(ifname: string, sysClassNet: string): { devtype: string | null; arphrd: number | null } | null {
  try {
    const uevent = readFileSync(`${sysClassNet}/${ifname}/uevent`, 'utf8');
    const devtype = /^DEVTYPE=(.+)$/m.exec(uevent)?.[1]?.trim() ?? null;
    const arphrd = Number(readFileSync(`${sysClassNet}/${ifname}/type`, 'utf8').trim());
    return { devtype, arphrd: Number.isFinite(arphrd) ? arphrd : null };
  } catch {
    return null;
  }
}

/** Parses `ip -d -j link show` output (pure, for tests). */
export function parseLinks(links: unknown, sysfs: (ifname: string) => { devtype: string | null; arphrd: number | null } | null = () => null): NodeInterface[] {
  if (!Array.isArray(links)) return [];
  const interfaces: NodeInterface[] = [];
  for (const link of links) {
    if (!isRecord(link) || typeof link.ifname !== 'string' || typeof link.mtu !== 'number') continue;
    if (link.link_type === 'loopback') continue;
    const linkKind = isRecord(link.linkinfo) && typeof link.linkinfo.info_kind === 'string' ? link.linkinfo.info_kind : null;
    const flags = Array.isArray(link.flags) ? link.flags : [];
    interfaces.push({
      ifname: link.ifname,
      mtuBytes: link.mtu,
      linkKind,
      overlay: overlayKindOf(link.ifname, linkKind, linkKind === null ? sysfs(link.ifname) : null),
      up: flags.includes('UP'),
    });
  }
  return interfaces;
}

/** This network namespace's interfaces (sysfs fallback read from `sysClassNet`). */
export async function readNodeInterfaces(sysClassNet = '/sys/class/net'): Promise<NodeInterface[]> {
  return parseLinks(await ipJson(['-d', 'link', 'show']), (ifname) => readSysfs(ifname, sysClassNet));
}
