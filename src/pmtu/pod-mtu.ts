/**
 * The MTU pods on this node see on their own interface (eth0 inside the pod's
 * network namespace), found through the CNI result cache (DESIGN.md, "CNI result
 * cache": `netns` and `ifName` of each pod, and the host-side veth).
 *
 * Choice: read the MTU inside the pod's netns with `nsenter --net=<netns path> ip -j
 * link show dev <ifName>` (util-linux + iproute2 are in the image; needs CAP_SYS_ADMIN
 * to setns). When that fails (no privilege, netns gone, nsenter missing) fall back
 * to the host-side veth's MTU: a veth pair is created with one MTU on both ends by
 * every common CNI (ptp, bridge, Calico, Cilium), so it is the pod's MTU unless
 * someone changed one end by hand — the `source` field says which was read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCniResultFile } from '../attribution/cni-cache-file';
import { commandJson, isRecord } from './ip-command';

export interface PodInterfaceMtu {
  namespace: string | null;
  name: string | null;
  ips: string[];
  ifname: string;
  hostIfname: string | null;
  mtuBytes: number;
  source: 'pod-netns' | 'host-veth';
}

export interface PodMtuOptions {
  cniDirs: readonly string[];
  /** MTU of host interfaces by name (for the veth fallback). */
  hostMtus: ReadonlyMap<string, number>;
  /** Reads the MTU of `ifname` inside the netns at `netnsPath` (tests may replace it). */
  readNetnsMtu?: (netnsPath: string, ifname: string) => Promise<number | null>;
  /** At most this many pods are read (a node has ≤ 110 pods by default; a cap keeps a strange node cheap). */
  maxPods?: number;
}

export async function nsenterLinkMtu(netnsPath: string, ifname: string): Promise<number | null> {
  const links = await commandJson('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show', 'dev', ifname], 3_000);
  const link = Array.isArray(links) && isRecord(links[0]) ? links[0] : null;
  return link !== null && typeof link.mtu === 'number' ? link.mtu : null;
}

export async function readPodInterfaceMtus(options: PodMtuOptions): Promise<PodInterfaceMtu[]> {
  const readNetnsMtu = options.readNetnsMtu ?? nsenterLinkMtu;
  const maxPods = options.maxPods ?? 512;
  const pods: PodInterfaceMtu[] = [];
  for (const dir of options.cniDirs) {
    const resultsDir = path.join(dir, 'results');
    let names: string[];
    try {
      names = readdirSync(resultsDir);
    } catch {
      continue;
    }
    for (const fileName of names) {
      if (pods.length >= maxPods) return pods;
      let text: string;
      try {
        text = readFileSync(path.join(resultsDir, fileName), 'utf8');
      } catch {
        continue;
      }
      const parsed = parseCniResultFile(text);
      if (!parsed.ok) continue;
      const network = parsed.value;
      const ifname = network.ifName || 'eth0';
      let mtuBytes: number | null = null;
      let source: PodInterfaceMtu['source'] = 'pod-netns';
      if (network.netnsPath !== null && network.netnsPath !== '') mtuBytes = await readNetnsMtu(network.netnsPath, ifname).catch(() => null);
      if (mtuBytes === null && network.hostIfname !== null) {
        mtuBytes = options.hostMtus.get(network.hostIfname) ?? null;
        source = 'host-veth';
      }
      if (mtuBytes === null) continue; // the pod is gone (stale cache file)
      pods.push({ namespace: network.namespace, name: network.name, ips: network.ips, ifname, hostIfname: network.hostIfname, mtuBytes, source });
    }
  }
  return pods;
}
