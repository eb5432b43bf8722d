import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalAddressAttributor } from '../src/attribution/attributor';
import { ClusterAttributor } from '../src/attribution/cluster-attributor';
import { CniCacheWatcher } from '../src/attribution/cni-cache';
import { IpOwnershipMap } from '../src/attribution/ip-map';
import { silentLogger } from '../src/common/log';
import { cniFilesForPod } from '../src/lab/cni';

/**
 * Node-local attribution at node scale: a CNI state directory with `pods` pods
 * (files in the lab's libcni + host-local format), read at start, then pods added
 * one by one while the watcher runs (inotify pickup latency), then the composed
 * attributor's cost per endpoint next to its peers in the same run: the bare
 * IpOwnershipMap lookup it builds on, and the address-only attributor it replaced.
 */
export interface AttributionBenchResult {
  pods: number;
  initialReadMs: number;
  pickupP50Ms: number;
  pickupP99Ms: number;
  pickupMaxMs: number;
  addedPods: number;
  mapLookupNs: number;
  attributorNs: number;
  localOnlyNs: number;
  reuseCorrect: boolean;
}

function podFiles(index: number) {
  const ip = `10.${100 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`;
  return cniFilesForPod({
    containerId: index.toString(16).padStart(64, '0'),
    netnsPath: `/var/run/netns/cni-${index}`,
    namespace: 'bench',
    name: `pod-${index}`,
    uid: `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`,
    hostIfname: `veth${index.toString(16).padStart(8, '0')}`,
    hostMac: '02:00:00:00:00:01',
    podMac: '02:00:00:00:00:02',
    addresses: [{ ip, cidr: `10.${100 + (index >> 16)}.0.0/16` }],
  });
}

function write(dir: string, files: ReturnType<typeof podFiles>): void {
  for (const file of files) {
    const absolute = path.join(dir, file.relativePath);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, file.content);
  }
}

function nsPerCall(calls: number, body: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(calls, 10_000); i++) sink += body(i) === null ? 0 : 1; // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += body(i) === null ? 0 : 1;
  const elapsedNs = Number(process.hrtime.bigint() - start);
  if (sink < 0) console.log(sink);
  return elapsedNs / calls;
}

export async function runAttributionBench(pods = 1_000, added = 200): Promise<AttributionBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-bench-cni-'));
  const controller = new AbortController();
  const ipMap = new IpOwnershipMap();
  const watcher = new CniCacheWatcher({ dirs: [dir], nodeName: 'node-a', ipMap, log: silentLogger(), resyncMs: 3_600_000 });
  try {
    for (let index = 0; index < pods; index++) write(dir, podFiles(index));
    const readStart = process.hrtime.bigint();
    await watcher.start(controller.signal);
    const initialReadMs = Number(process.hrtime.bigint() - readStart) / 1e6;

    const pickupsMs: number[] = [];
    for (let index = pods; index < pods + added; index++) {
      const files = podFiles(index);
      const ip = `10.${100 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`;
      const writtenAt = process.hrtime.bigint();
      write(dir, files);
      const deadline = Date.now() + 5_000;
      while (ipMap.lookup(ip, Date.now()) === null && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      pickupsMs.push(Number(process.hrtime.bigint() - writtenAt) / 1e6);
    }
    pickupsMs.sort((a, b) => a - b);

    // IP reuse under the running watcher: pod 0's address goes to a new pod.
    const reusedIp = '10.100.0.0';
    const beforeMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const file of podFiles(0)) fs.rmSync(path.join(dir, file.relativePath), { force: true });
    const replacement = podFiles(0).map((file) => ({ ...file, content: file.content.replace(/pod-0"/g, 'pod-0-new"').replace(/00000000-0000-4000-8000-000000000000/g, '00000000-0000-4000-8000-ffffffffffff') }));
    write(dir, replacement);
    const reuseDeadline = Date.now() + 5_000;
    while (ipMap.lookup(reusedIp, Date.now())?.pod?.name !== 'pod-0-new' && Date.now() < reuseDeadline) await new Promise((resolve) => setTimeout(resolve, 5));
    const reuseCorrect = ipMap.lookup(reusedIp, beforeMs)?.pod?.name === 'pod-0' && ipMap.lookup(reusedIp, Date.now())?.pod?.name === 'pod-0-new';

    const total = pods + added;
    const ips = Array.from({ length: 4_096 }, (_, i) => {
      const index = (i * 7919) % total;
      return `10.${100 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`;
    });
    const nowMs = Date.now();
    const attributor = new ClusterAttributor({ nodeName: 'node-a', ipMap });
    const localOnly = new LocalAddressAttributor('node-a');
    const calls = 1_000_000;
    const mapLookupNs = nsPerCall(calls, (i) => ipMap.lookup(ips[i & 4095], nowMs));
    const attributorNs = nsPerCall(calls, (i) => attributor.endpoint(ips[i & 4095], 8080, nowMs));
    const localOnlyNs = nsPerCall(calls, (i) => localOnly.endpoint(ips[i & 4095], 8080, nowMs));
    return {
      pods,
      initialReadMs,
      pickupP50Ms: pickupsMs[Math.floor(pickupsMs.length * 0.5)],
      pickupP99Ms: pickupsMs[Math.floor(pickupsMs.length * 0.99)],
      pickupMaxMs: pickupsMs[pickupsMs.length - 1],
      addedPods: added,
      mapLookupNs,
      attributorNs,
      localOnlyNs,
      reuseCorrect,
    };
  } finally {
    controller.abort();
    await watcher.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
