import { existsSync } from 'node:fs';
import type { Logger } from '../common/log';
import type { IpOwnershipMap } from './ip-map';
import type { ClusterView } from './kubernetes/types';

/**
 * The one place the attribution service makes its Kubernetes watcher
 * (kubernetes/kube-watcher.ts), so the service and its tests depend only on this
 * small contract.
 */
export interface KubeWatcherSettings {
  /** Null: in-cluster config. */
  kubeconfigPath: string | null;
  scope: 'node' | 'cluster';
  nodeName: string;
  ipMap: IpOwnershipMap;
  log: Logger;
  staleAfterMs?: number;
}

export interface KubeWatcherLike {
  readonly name: string;
  readonly state: ClusterView;
  readonly synced: boolean;
  readonly stale: boolean;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** Null until the watcher is part of the build. */
export function createKubeWatcher(_settings: KubeWatcherSettings): KubeWatcherLike | null {
  return null;
}

/**
 * In-cluster config as client-go and @kubernetes/client-node detect it: the
 * service environment variables and the mounted service-account token
 * (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/).
 */
export function kubernetesConfigured(): boolean {
  return process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
}
