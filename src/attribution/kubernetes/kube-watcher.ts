import { EventEmitter } from 'node:events';
import type { Logger } from '../../common/log';
import type { IpOwnershipMap } from '../ip-map';
import { ClusterState } from './cluster-state';
import { networkPolicyRecord, nodeRecord, podRecord, serviceRecord } from './convert';
import { loadClientLibrary, loadKubeConfig } from './kube-config';
import { Reflector } from './reflector';
import type { ClusterChange, ClusterView } from './types';

export { inClusterConfigAvailable } from './kube-config';
export type { ClusterChange } from './types';

/**
 * The Kubernetes attribution source: list+watch of pods, nodes, services and
 * NetworkPolicies into compact records (ClusterState) and the shared
 * time-versioned IP map. It survives API-server restarts, outages and watch expiry
 * (410 Gone) on its own; callers read `state` and may listen for 'change'.
 */
export interface KubeWatcherOptions {
  /** Path of a kubeconfig, or null for in-cluster config. */
  kubeconfigPath: string | null;
  /** 'node': only this node's pods (fieldSelector spec.nodeName=<nodeName>); 'cluster': all pods. Nodes, services, networkpolicies are always cluster-wide. */
  scope: 'node' | 'cluster';
  nodeName: string;
  ipMap: IpOwnershipMap;
  log: Logger;
  /** After this long without a working watch, `stale` becomes true (default 60 s). */
  staleAfterMs?: number;
  /** start() resolves after this long even without a first full sync (default 10 s). */
  firstSyncTimeoutMs?: number;
  /** Backoff after a failed list or watch: first delay and cap (defaults 500 ms and 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Items per list page (default 500). */
  listPageSize?: number;
}

const DEFAULT_STALE_AFTER_MS = 60_000;
const DEFAULT_FIRST_SYNC_TIMEOUT_MS = 10_000;
const PRUNE_INTERVAL_MS = 60_000;

export interface KubeWatcher {
  on(event: 'change', listener: (change: ClusterChange) => void): this;
  emit(event: 'change', change: ClusterChange): boolean;
}

export class KubeWatcher extends EventEmitter {
  readonly name = 'kubernetes';
  readonly state: ClusterView;

  private readonly clusterState: ClusterState;
  private readonly log: Logger;
  private readonly staleAfterMs: number;
  private reflectors: Array<Reflector<unknown>> = [];
  private readonly unhealthy = new Set<string>();
  private unhealthySinceMs: number | null = null;
  private abort: AbortController | null = null;
  private running: Promise<unknown> | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: KubeWatcherOptions) {
    super();
    this.log = options.log.child({ component: 'kubernetes' });
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.clusterState = new ClusterState({
      ipMap: options.ipMap,
      onChange: (change) => {
        if (this.listenerCount('change') > 0) this.emit('change', change);
      },
      status: () => ({ synced: this.synced, stale: this.stale }),
      localNode: options.nodeName,
    });
    this.state = this.clusterState;
  }

  get synced(): boolean {
    return this.reflectors.length > 0 && this.reflectors.every((reflector) => reflector.synced);
  }

  get stale(): boolean {
    return this.unhealthySinceMs !== null && Date.now() - this.unhealthySinceMs >= this.staleAfterMs;
  }

  /**
   * Resolves after the first full sync, or after firstSyncTimeoutMs with the
   * watcher still retrying; rejects only for bad configuration (KubeConfigError).
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.abort !== null) return;
    const config = loadKubeConfig(this.options.kubeconfigPath);
    const { Watch } = loadClientLibrary();
    const watch = new Watch(config);
    const abort = new AbortController();
    this.abort = abort;
    if (signal.aborted) abort.abort();
    else signal.addEventListener('abort', () => abort.abort(), { once: true });

    const state = this.clusterState;
    const common = {
      config,
      watch,
      log: this.log,
      retryInitialMs: this.options.retryInitialMs ?? 500,
      retryMaxMs: this.options.retryMaxMs ?? 30_000,
      pageSize: this.options.listPageSize,
    };
    const podQuery: Record<string, string> = this.options.scope === 'node' ? { fieldSelector: `spec.nodeName=${this.options.nodeName}` } : {};
    const reflectors = [
      new Reflector({ ...common, resource: 'pods', path: '/api/v1/pods', query: podQuery, convert: (item) => podRecord(item, this.options.nodeName), replace: (r, at) => state.replacePods(r, at), apply: (t, r, at) => state.applyPod(t, r, at), onHealth: (ok, err) => this.health('pods', ok, err) }),
      new Reflector({ ...common, resource: 'nodes', path: '/api/v1/nodes', query: {}, convert: nodeRecord, replace: (r, at) => state.replaceNodes(r, at), apply: (t, r, at) => state.applyNode(t, r, at), onHealth: (ok, err) => this.health('nodes', ok, err) }),
      new Reflector({ ...common, resource: 'services', path: '/api/v1/services', query: {}, convert: serviceRecord, replace: (r, at) => state.replaceServices(r, at), apply: (t, r, at) => state.applyService(t, r, at), onHealth: (ok, err) => this.health('services', ok, err) }),
      new Reflector({ ...common, resource: 'networkpolicies', path: '/apis/networking.k8s.io/v1/networkpolicies', query: {}, convert: networkPolicyRecord, replace: (r) => state.replacePolicies(r), apply: (t, r) => state.applyPolicy(t, r), onHealth: (ok, err) => this.health('networkpolicies', ok, err) }),
    ];
    this.reflectors = reflectors as Array<Reflector<unknown>>;
    const startedMs = Date.now();
    this.running = Promise.all(reflectors.map((reflector) => reflector.run(abort.signal)));
    this.pruneTimer = setInterval(() => state.prune(Date.now()), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    this.log.info({ scope: this.options.scope, node: this.options.nodeName, server: config.getCurrentCluster()?.server }, 'watching the Kubernetes API');

    const timeoutMs = this.options.firstSyncTimeoutMs ?? DEFAULT_FIRST_SYNC_TIMEOUT_MS;
    while (!this.synced && !abort.signal.aborted && Date.now() - startedMs < timeoutMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.synced) {
      this.log.info({ pods: state.podCount, nodes: state.nodes().length, durationMs: Date.now() - startedMs }, 'Kubernetes state synced');
    } else if (!abort.signal.aborted) {
      this.log.warn({ waitedMs: timeoutMs }, 'no full Kubernetes sync yet: attribution goes on without it and the watcher keeps trying');
    }
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    if (this.pruneTimer !== null) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    await this.running;
  }

  /** One warning when the first resource loses the API server, one info line when the last one is back. */
  private health(resource: string, healthy: boolean, err?: unknown): void {
    if (healthy) {
      if (!this.unhealthy.delete(resource) || this.unhealthy.size > 0) return;
      const outageMs = this.unhealthySinceMs === null ? 0 : Date.now() - this.unhealthySinceMs;
      this.unhealthySinceMs = null;
      this.log.info({ outageMs }, 'Kubernetes API reachable again: state re-listed');
      return;
    }
    if (this.unhealthy.has(resource)) return;
    this.unhealthy.add(resource);
    if (this.unhealthy.size > 1) return;
    this.unhealthySinceMs ??= Date.now();
    const status = (err as { statusCode?: unknown })?.statusCode;
    const refused = status === 401 || status === 403;
    this.log.warn(
      { err: errorSummary(err), resource },
      refused
        ? `Kubernetes API refused rstprobe (${errorSummary(err)}): check the token and that the ClusterRole grants list/watch on pods, nodes, services and networkpolicies; retrying with backoff`
        : `Kubernetes API unreachable (${errorSummary(err)}): keeping the last good state and retrying with backoff`,
    );
  }
}

function errorSummary(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  const message = (err as Error)?.message ?? String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
}
