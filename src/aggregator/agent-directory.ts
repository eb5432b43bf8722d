/**
 * Which node agents are connected, since when, and whether they read kernel reset
 * events — and which node hosts an address, as far as the agents have told. The
 * cross-node verdicts ask it "was node Y's kernel being watched when this RST left?".
 */

interface NodeWatch {
  connections: number;
  connectedSinceMs: number;
  /** Since when kernel events have been on without a break, null while off. */
  kernelEventsSinceMs: number | null;
}

/** Bound on learned address → node entries; the oldest are forgotten first. */
const MAX_LEARNED_ADDRESSES = 200_000;

export class AgentDirectory {
  private readonly nodes = new Map<string, NodeWatch>();
  private readonly hostByAddress = new Map<string, string>();

  connected(node: string, kernelEvents: boolean, addresses: readonly string[], nowMs = Date.now()): void {
    const watch = this.nodes.get(node);
    if (watch === undefined || watch.connections === 0) {
      this.nodes.set(node, { connections: 1, connectedSinceMs: nowMs, kernelEventsSinceMs: kernelEvents ? nowMs : null });
    } else {
      watch.connections += 1;
      this.setKernelEvents(node, kernelEvents, nowMs);
    }
    for (const address of addresses) this.learn(address, node);
  }

  disconnected(node: string): void {
    const watch = this.nodes.get(node);
    if (watch === undefined) return;
    watch.connections = Math.max(0, watch.connections - 1);
    if (watch.connections === 0) watch.kernelEventsSinceMs = null;
  }

  setKernelEvents(node: string, on: boolean, nowMs = Date.now()): void {
    const watch = this.nodes.get(node);
    if (watch === undefined || watch.connections === 0) return;
    if (!on) watch.kernelEventsSinceMs = null;
    else watch.kernelEventsSinceMs ??= nowMs;
  }

  /** True when node's agent is connected now and has read kernel events since at or before `sinceMs`. */
  watchedSince(node: string, sinceMs: number): boolean {
    const watch = this.nodes.get(node);
    return watch !== undefined && watch.connections > 0 && watch.kernelEventsSinceMs !== null && watch.kernelEventsSinceMs <= sinceMs;
  }

  connectedNodes(): string[] {
    return [...this.nodes].filter(([, watch]) => watch.connections > 0).map(([node]) => node);
  }

  /** Records that `address` belongs to `node` (its hello, or a reset its kernel sent from there). */
  learn(address: string, node: string): void {
    if (this.hostByAddress.get(address) === node) return;
    this.hostByAddress.delete(address);
    if (this.hostByAddress.size >= MAX_LEARNED_ADDRESSES) this.hostByAddress.delete(this.hostByAddress.keys().next().value as string);
    this.hostByAddress.set(address, node);
  }

  hostOf(address: string): string | null {
    return this.hostByAddress.get(address) ?? null;
  }
}
