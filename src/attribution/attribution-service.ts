import type { Logger } from '../common/log';
import type { Attributor } from './attributor';
import { CniCacheWatcher, parseCniCacheDirArgument, type CniPodFacts } from './cni-cache';
import { ClusterAttributor } from './cluster-attributor';
import { IpOwnershipMap } from './ip-map';
import { inClusterConfigAvailable, KubeWatcher } from './kubernetes/kube-watcher';
import type { ClusterView } from './kubernetes/types';
import { ProcessResolver } from './process';

/**
 * Everything the agent knows about who owns an address, as one long-lived part:
 * the time-versioned IpOwnershipMap, the CNI cache watcher(s) of this node, the
 * Kubernetes watcher when a kubeconfig is given or in-cluster config is present,
 * and the process resolver — composed into one Attributor for the diagnosis.
 */
export interface AttributionServiceOptions {
  nodeName: string;
  /** `--cni-cache-dir` values (`DIR` or `NODE=DIR`, see parseCniCacheDirArgument); empty means the default /var/lib/cni. */
  cniCacheDirs: readonly string[];
  /** A kubeconfig file; null: in-cluster config when available, else no Kubernetes. */
  kubeconfigPath: string | null;
  watchScope: 'node' | 'cluster';
  log: Logger;
  retentionMs?: number;
  pruneMs?: number;
  procRoot?: string;
  /** How long the API server may be unreachable before attribution reports itself stale (the watcher's default: 60 s). */
  kubernetesStaleAfterMs?: number;
}

export interface AttributionHealth {
  addresses: number;
  tenures: number;
  cni: { dirs: readonly string[]; pods: number; addresses: number; malformedFiles: number };
  /** Null when the agent runs without Kubernetes. */
  kubernetes: { synced: boolean; stale: boolean } | null;
}

export const DEFAULT_CNI_CACHE_DIR = '/var/lib/cni';
/** Ended tenures stay answerable this long: findings are made within seconds, rollups within minutes. */
const RETENTION_MS = 15 * 60_000;
const PRUNE_MS = 60_000;

export class AttributionService {
  readonly name = 'attribution';
  readonly ipMap: IpOwnershipMap;
  readonly cni: CniCacheWatcher;
  readonly processes: ProcessResolver;
  readonly attributor: Attributor;
  private kube: KubeWatcher | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(private readonly options: AttributionServiceOptions) {
    this.log = options.log.child({ component: 'attribution' });
    this.ipMap = new IpOwnershipMap({ retentionMs: options.retentionMs ?? RETENTION_MS });
    const parsed = (options.cniCacheDirs.length > 0 ? options.cniCacheDirs : [DEFAULT_CNI_CACHE_DIR]).map(parseCniCacheDirArgument);
    const nodeOfDir = new Map(parsed.flatMap(({ dir, nodeName }) => (nodeName === null ? [] : [[dir, nodeName] as const])));
    this.cni = new CniCacheWatcher({ dirs: parsed.map(({ dir }) => dir), nodeOfDir, nodeName: options.nodeName, ipMap: this.ipMap, log: options.log });
    this.processes = new ProcessResolver({ procRoot: options.procRoot });
    this.attributor = new ClusterAttributor({
      nodeName: options.nodeName,
      ipMap: this.ipMap,
      cluster: () => this.cluster,
      podByUid: (uid) => {
        const facts = this.cni.podNetwork(uid);
        return facts === null || facts.namespace === null || facts.name === null ? null : { namespace: facts.namespace, name: facts.name, uid };
      },
      processes: this.processes,
    });
  }

  /** The Kubernetes view, or null when the agent runs without Kubernetes. */
  get cluster(): ClusterView | null {
    return this.kube?.state ?? null;
  }

  /** What this node's CNI knows about a pod's network (netns, host-side veth, sandbox ID). */
  podNetwork(podUid: string): CniPodFacts | null {
    return this.cni.podNetwork(podUid);
  }

  /**
   * Reads the CNI cache before returning (so the first packets are attributed) and
   * waits for the first Kubernetes sync for a bounded time (the watcher's own limit);
   * a bad kubeconfig rejects with the watcher's KubeConfigError (one line, exit 2).
   */
  async start(signal: AbortSignal): Promise<void> {
    await this.cni.start(signal);
    if (this.options.kubeconfigPath !== null || inClusterConfigAvailable()) {
      this.kube = new KubeWatcher({
        kubeconfigPath: this.options.kubeconfigPath,
        scope: this.options.watchScope,
        nodeName: this.options.nodeName,
        ipMap: this.ipMap,
        log: this.options.log,
        staleAfterMs: this.options.kubernetesStaleAfterMs,
      });
      await this.kube.start(signal);
    }
    this.pruneTimer = setInterval(() => this.ipMap.prune(Date.now()), this.options.pruneMs ?? PRUNE_MS);
    this.pruneTimer.unref();
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.log.info({ kubernetes: this.kube !== null, scope: this.kube === null ? null : this.options.watchScope }, 'attribution running');
  }

  async stop(): Promise<void> {
    if (this.pruneTimer !== null) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    await Promise.all([this.cni.stop(), this.kube?.stop()]);
  }

  health(): AttributionHealth {
    const kube = this.kube;
    return {
      addresses: this.ipMap.addresses,
      tenures: this.ipMap.tenures,
      cni: { dirs: this.cni.dirs, pods: this.cni.pods().length, addresses: this.cni.addresses, malformedFiles: this.cni.malformedFiles },
      kubernetes: kube === null ? null : { synced: kube.synced, stale: kube.stale },
    };
  }

  /** One line for /healthz: staleness is reported, not failed on (the agent still attributes from the last good state). */
  healthLine(): string {
    const { addresses, cni, kubernetes } = this.health();
    const kube = kubernetes === null ? 'off' : kubernetes.stale ? 'stale (API unreachable; last good state)' : kubernetes.synced ? 'synced' : 'syncing';
    return `attribution: ${addresses} addresses; cni: ${cni.pods} pods, ${cni.malformedFiles} unreadable files; kubernetes: ${kube}`;
  }
}
