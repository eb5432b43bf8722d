import { networkInterfaces } from 'node:os';
import type { Endpoint } from '../protocol/finding';

/**
 * Turns an address into an Endpoint as of a moment. This is the seam the
 * attribution sources (CNI cache, Kubernetes, processes) plug into; the base
 * implementation knows only the addresses of this network namespace.
 */
export interface Attributor {
  endpoint(ip: string, port: number, timeMs: number): Endpoint;
  /** The address belongs to this kernel: the node itself or one of its pods. */
  isOnThisKernel(ip: string, timeMs: number): boolean;
  /**
   * Completes `endpoint` in place from the process a kernel event named as its
   * sender: comm, and the container and pod the process runs in when known.
   */
  completeProcess?(endpoint: Endpoint, process: { pid: number; comm: string | null }, timeMs: number): void;
}

export class LocalAddressAttributor implements Attributor {
  private addresses = new Set<string>();
  private readAtMs = 0;

  constructor(
    private readonly nodeName: string,
    private readonly refreshMs = 10_000,
  ) {}

  endpoint(ip: string, port: number, timeMs: number): Endpoint {
    const local = this.isOnThisKernel(ip, timeMs);
    return { ip, port, kind: local ? 'node' : 'external', pod: null, node: local ? this.nodeName : null, process: null };
  }

  isOnThisKernel(ip: string, _timeMs: number): boolean {
    const nowMs = Date.now();
    if (nowMs - this.readAtMs > this.refreshMs) {
      this.addresses = new Set(
        Object.values(networkInterfaces())
          .flatMap((list) => list ?? [])
          .map((info) => info.address.replace(/%.*$/, '')),
      );
      this.readAtMs = nowMs;
    }
    return this.addresses.has(ip);
  }
}
