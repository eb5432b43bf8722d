import { IpOwnershipMap } from '../src/attribution/ip-map';
import { KubeWatcher } from '../src/attribution/kubernetes/kube-watcher';
import { silentLogger } from '../src/common/log';

/**
 * The measured side of the cluster-map bench, in its own process so its RSS is the
 * watcher's alone: syncs a cluster-scope KubeWatcher from the kubeconfig in argv[2],
 * then times (ip, time) lookups. Prints one JSON line.
 */
async function main(): Promise<void> {
  const kubeconfigPath = process.argv[2];
  const expectedPods = Number(process.argv[3]);
  const expectedNodes = Number(process.argv[4]);
  const ipMap = new IpOwnershipMap();
  const watcher = new KubeWatcher({ kubeconfigPath, scope: 'cluster', nodeName: 'node-0', ipMap, log: silentLogger(), firstSyncTimeoutMs: 600_000 });
  const rssStartBytes = process.memoryUsage().rss;
  const startedNs = process.hrtime.bigint();
  await watcher.start(new AbortController().signal);
  const syncMs = Number(process.hrtime.bigint() - startedNs) / 1e6;
  if (!watcher.synced) throw new Error('no sync');

  // Steady state: what an agent holds once the list's garbage is collected.
  global.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  global.gc?.();
  const memory = process.memoryUsage();

  // Lookups of addresses known to be pod IPs (populateCluster's layout), at "now" and a minute ago.
  const perNode = Math.ceil(expectedPods / expectedNodes);
  const ips: string[] = [];
  for (let pod = 0; pod < expectedPods; pod += 7) {
    const node = Math.floor(pod / perNode);
    ips.push(`10.${node >> 8}.${node & 255}.${(pod % perNode) + 2}`);
  }
  const nowMs = Date.now();
  const times = [nowMs, nowMs - 60_000];
  const measure = (lookup: (ip: string, timeMs: number) => unknown): { perS: number; hits: number } => {
    let hits = 0;
    const rounds = 1_000_000;
    const begin = process.hrtime.bigint();
    for (let index = 0; index < rounds; index++) if (lookup(ips[index % ips.length], times[index & 1]) !== null) hits++;
    const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
    return { perS: rounds / seconds, hits: hits / rounds };
  };
  measure((ip, t) => ipMap.lookup(ip, t)); // warm-up
  const ipMapLookups = measure((ip, t) => ipMap.lookup(ip, t));
  const podByIp = measure((ip, t) => watcher.state.podByIp(ip, t));
  // Peer: the floor for any ip → record answer, a plain Map without time versions.
  // It holds every pod address, as the ip map does, so both pay the same cache misses.
  const plain = new Map<string, unknown>();
  for (let pod = 0; pod < expectedPods; pod++) {
    const node = Math.floor(pod / perNode);
    const ip = `10.${node >> 8}.${node & 255}.${(pod % perNode) + 2}`;
    plain.set(ip, watcher.state.podByIp(ip, nowMs));
  }
  const plainMap = measure((ip) => plain.get(ip) ?? null);
  process.stdout.write(
    `${JSON.stringify({
      syncMs,
      addresses: ipMap.addresses,
      nodes: watcher.state.nodes().length,
      rssStartBytes,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      ipMapLookupsPerS: ipMapLookups.perS,
      ipMapHitRate: ipMapLookups.hits,
      podByIpPerS: podByIp.perS,
      podByIpHitRate: podByIp.hits,
      plainMapLookupsPerS: plainMap.perS,
    })}\n`,
  );
  await watcher.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`cluster-map watcher: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
