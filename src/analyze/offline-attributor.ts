import type { Attributor } from '../attribution/attributor';
import type { IpOwnershipMap } from '../attribution/ip-map';
import type { ClusterView } from '../attribution/kubernetes/types';
import type { Endpoint } from '../protocol/finding';

/**
 * Attribution for a capture file: only what the user's files say (--ip-map,
 * --cni-cache-dir), looked up at the packet's own time. Offline there is no
 * "this kernel": the capture was taken on another machine, and its kernel's
 * reset events were not recorded, so `isOnThisKernel` is always false.
 */
export class OfflineAttributor implements Attributor {
  constructor(
    private readonly ipMap: IpOwnershipMap,
    /** The cluster as read by --kubeconfig, for service addresses. */
    private readonly cluster: ClusterView | null = null,
  ) {}

  endpoint(ip: string, port: number, timeMs: number): Endpoint {
    const owner = this.ipMap.lookup(ip, timeMs);
    if (owner === null) {
      const service = this.cluster?.serviceByIp(ip) ?? null;
      return { ip, port, kind: service === null ? 'external' : 'service', pod: null, node: null, process: null };
    }
    if (owner.kind === 'pod' && owner.pod !== null) {
      return { ip, port, kind: 'pod', pod: { ...owner.pod, container: null }, node: owner.node, process: null };
    }
    return { ip, port, kind: owner.kind, pod: null, node: owner.node, process: null };
  }

  isOnThisKernel(_ip: string, _timeMs: number): boolean {
    return false;
  }
}
