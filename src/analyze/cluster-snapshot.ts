import { IpOwnershipMap } from '../attribution/ip-map';
import { KubeWatcher } from '../attribution/kubernetes/kube-watcher';
import type { ClusterView } from '../attribution/kubernetes/types';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';

/**
 * `analyze --kubeconfig PATH`: the cluster as it is now, read once with the
 * agent's own KubeWatcher (list, then stop), and taken as true for the whole
 * capture: pod and node addresses are claimed in `map` for all of time (a capture
 * is usually older than the watcher's own time-versioned claims). Services are
 * looked up in the returned view. Addresses of pods gone since the capture was
 * taken stay unnamed: --cni-cache-dir or --ip-map name those.
 */
export async function claimClusterSnapshot(map: IpOwnershipMap, kubeconfigPath: string, log: Logger): Promise<ClusterView> {
  const watcher = new KubeWatcher({ kubeconfigPath, scope: 'cluster', nodeName: '', ipMap: new IpOwnershipMap(), log, firstSyncTimeoutMs: 20_000 });
  const controller = new AbortController();
  try {
    await watcher.start(controller.signal);
  } catch (err) {
    throw new UsageError(`--kubeconfig ${kubeconfigPath}: ${(err as Error).message}`, { cause: err });
  } finally {
    controller.abort();
    await watcher.stop();
  }
  const view = watcher.state;
  if (!view.synced) throw new UsageError(`--kubeconfig ${kubeconfigPath}: the API server gave no full list within 20 s; check the server address and credentials, or name pods with --ip-map`);
  for (const node of view.nodes()) {
    for (const ip of node.addresses) map.claim(ip, { kind: 'node', key: `node/${node.name}`, pod: null, node: node.name, service: null }, 0, 'kubernetes');
    for (const pod of view.podsOnNode(node.name)) {
      if (pod.hostNetwork) continue;
      const owner = { kind: 'pod' as const, key: pod.uid, pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid }, node: pod.nodeName, service: null };
      for (const ip of pod.ips) map.claim(ip, owner, 0, 'kubernetes');
    }
  }
  return view;
}
