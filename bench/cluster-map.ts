import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NODE_FLAGS } from '../src/cli/main';
import { KubeApiServerProcess } from '../test/support/kube-api-server-process';

/**
 * A cluster-sized Kubernetes map (issue 3): the test API server, in its own
 * process so its memory is not counted, serves `pods` pods and `nodes` nodes; a
 * second process runs a cluster-scope KubeWatcher against it (list pages, then
 * watches) and reports sync time, RSS after sync and (ip, time) lookups/s. The
 * watcher runs with the node flags every rstprobe entry point uses (NODE_FLAGS).
 */
export interface ClusterMapResult {
  pods: number;
  nodes: number;
  populateMs: number;
  serverRssMiB: number;
  syncMs: number;
  addresses: number;
  rssMiB: number;
  heapUsedMiB: number;
  ipMapLookupsPerS: number;
  ipMapHitRate: number;
  podByIpPerS: number;
  podByIpHitRate: number;
  plainMapLookupsPerS: number;
}

export async function runClusterMap(size: { pods: number; nodes: number } = { pods: 150_000, nodes: 5_000 }): Promise<ClusterMapResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-cluster-map-'));
  const server = await KubeApiServerProcess.spawn({ historyLimit: 1_000 });
  try {
    const populateStartMs = Date.now();
    await server.populate({ ...size, services: 2_000 });
    const populateMs = Date.now() - populateStartMs;
    const serverRssMiB = (await server.rssBytes()) / 2 ** 20;
    const kubeconfig = await server.writeKubeconfig(dir);
    const script = path.resolve(__dirname, 'cluster-map-watcher.js');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', ...NODE_FLAGS, ...(process.env.RSTPROBE_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''), script, kubeconfig, String(size.pods), String(size.nodes)], { maxBuffer: 1 << 20, timeout: 600_000 }, (err, out, errOut) => {
        if (err !== null) reject(new Error(`${err.message}\n${errOut}`));
        else resolve(out);
      });
    });
    const measured = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    return {
      ...size,
      populateMs,
      serverRssMiB,
      syncMs: measured.syncMs,
      addresses: measured.addresses,
      rssMiB: measured.rssBytes / 2 ** 20,
      heapUsedMiB: measured.heapUsedBytes / 2 ** 20,
      ipMapLookupsPerS: measured.ipMapLookupsPerS,
      ipMapHitRate: measured.ipMapHitRate,
      podByIpPerS: measured.podByIpPerS,
      podByIpHitRate: measured.podByIpHitRate,
      plainMapLookupsPerS: measured.plainMapLookupsPerS,
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the figures and adds the PASS/FAIL verdicts (targets from issue 3). */
export async function reportClusterMap(check: (ok: boolean, text: string) => void): Promise<void> {
  const result = await runClusterMap();
  const ipMapUs = 1e6 / result.ipMapLookupsPerS;
  const podByIpUs = 1e6 / result.podByIpPerS;
  const plainUs = 1e6 / result.plainMapLookupsPerS;
  console.log(`\nCluster-scope Kubernetes map: ${result.pods} pods, ${result.nodes} nodes, 2000 services from the test API server (its own process)`);
  console.log(`watcher: node ${[...NODE_FLAGS, process.env.RSTPROBE_BENCH_NODE_ARGS ?? ''].join(' ').trim()} (the CLI's flags)`);
  console.log(`initial sync ${(result.syncMs / 1000).toFixed(1)} s (list in pages of 500, then watch)  ·  ${result.addresses} addresses in the ip map`);
  console.log(`watcher RSS after sync ${result.rssMiB.toFixed(1)} MiB (heap used ${result.heapUsedMiB.toFixed(1)} MiB)  ·  the API server holding the same objects as JSON: ${result.serverRssMiB.toFixed(1)} MiB (${(result.rssMiB / result.serverRssMiB).toFixed(2)}×)`);
  console.table({
    'Map.get, no time versions (peer)': { 'lookups/s': Math.round(result.plainMapLookupsPerS), 'µs/lookup': plainUs.toFixed(3) },
    'IpOwnershipMap.lookup(ip, time)': { 'lookups/s': Math.round(result.ipMapLookupsPerS), 'µs/lookup': ipMapUs.toFixed(3), 'vs peer': `${(ipMapUs / plainUs).toFixed(1)}×` },
    'ClusterView.podByIp(ip, time)': { 'lookups/s': Math.round(result.podByIpPerS), 'µs/lookup': podByIpUs.toFixed(3), 'vs peer': `${(podByIpUs / plainUs).toFixed(1)}×` },
  });
  check(result.podByIpHitRate === 1, `cluster-map: every known pod address answered (${(result.podByIpHitRate * 100).toFixed(1)}%)`);
  check(result.rssMiB <= 250, `cluster-map: watcher RSS ${result.rssMiB.toFixed(1)} MiB after syncing ${result.pods} pods (target ≤ 250 MB)`);
  check(podByIpUs <= 5, `cluster-map: ${podByIpUs.toFixed(2)} µs per podByIp(ip, time) (target ≤ 5 µs)`);
  check(ipMapUs <= 5, `cluster-map: ${ipMapUs.toFixed(2)} µs per ip-map lookup(ip, time) (target ≤ 5 µs)`);
}
