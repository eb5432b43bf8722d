import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ClusterAttributor } from '../../src/attribution/cluster-attributor';
import { IpOwnershipMap, type IpOwner } from '../../src/attribution/ip-map';
import type { ClusterView, ContainerRecord, NodeRecord, PodRecord, ServiceRecord } from '../../src/attribution/kubernetes/types';
import { ProcessResolver } from '../../src/attribution/process';
import type { Endpoint } from '../../src/protocol/finding';

const CONTAINER_ID = 'c0'.repeat(32);
const SIDECAR_ID = 'd1'.repeat(32);

function container(name: string, containerId: string, ports: number[]): ContainerRecord {
  return {
    name,
    containerId,
    runtime: 'containerd',
    ports: ports.map((containerPort) => ({ name: null, containerPort, protocol: 'TCP' as const })),
    restartCount: 0,
    ready: true,
    startedAtMs: 0,
    lastTermination: null,
    memoryLimitBytes: null,
    sidecar: false,
  };
}

const REVIEWS: PodRecord = {
  uid: 'uid-reviews',
  namespace: 'default',
  name: 'reviews-0',
  nodeName: 'node-b',
  ips: ['10.244.2.20'],
  hostNetwork: false,
  labels: { app: 'reviews' },
  phase: 'Running',
  containers: [container('app', CONTAINER_ID, [8080]), container('istio-proxy', SIDECAR_ID, [15001])],
  createdAtMs: 0,
  deletingAtMs: null,
};
const NODE_B: NodeRecord = { name: 'node-b', addresses: ['10.210.0.12'], podCidrs: ['10.244.2.0/24'], labels: {} };
const SERVICE: ServiceRecord = { namespace: 'default', name: 'reviews', uid: 'uid-svc', clusterIps: ['10.96.0.20'], ports: [], selector: { app: 'reviews' } };

/** A small in-memory ClusterView: the records a watcher would hold. */
function clusterView(pods: PodRecord[]): ClusterView {
  const inCidr = (ip: string, cidr: string) => ip.startsWith(cidr.split('.').slice(0, 3).join('.') + '.');
  return {
    synced: true,
    stale: false,
    podByUid: (uid) => pods.find((p) => p.uid === uid) ?? null,
    podByIp: (ip) => pods.find((p) => p.ips.includes(ip)) ?? null,
    podByContainerId: (id) => {
      for (const pod of pods) {
        const found = pod.containers.find((c) => c.containerId === id);
        if (found !== undefined) return { pod, container: found };
      }
      return null;
    },
    node: (name) => (name === NODE_B.name ? NODE_B : null),
    nodeByAddress: (ip) => (NODE_B.addresses.includes(ip) ? NODE_B : null),
    nodeForPodIp: (ip) => (NODE_B.podCidrs.some((cidr) => inCidr(ip, cidr)) ? NODE_B : null),
    serviceByIp: (ip) => (SERVICE.clusterIps.includes(ip) ? SERVICE : null),
    servicesSelecting: () => [],
    policiesSelecting: () => [],
    podsMatching: () => [],
    podsOnNode: (name) => pods.filter((p) => p.nodeName === name),
    nodes: () => [NODE_B],
  };
}

function cniPod(name: string, node: string | null = 'node-a'): IpOwner {
  return { kind: 'pod', key: `uid-${name}`, pod: { namespace: 'shop', name, uid: `uid-${name}` }, node, service: null };
}

const LOCAL = new Set(['10.210.0.11', '127.0.0.1']);

describe('ClusterAttributor', () => {
  const procRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-attr-proc-'));
  after(() => fs.rmSync(procRoot, { recursive: true, force: true }));
  function fakeProcess(pid: number, comm: string, cgroup: string): void {
    fs.mkdirSync(path.join(procRoot, String(pid)), { recursive: true });
    fs.writeFileSync(path.join(procRoot, String(pid), 'comm'), `${comm}\n`);
    fs.writeFileSync(path.join(procRoot, String(pid), 'cgroup'), cgroup);
  }

  function attributor(cluster: ClusterView | null, ipMap = new IpOwnershipMap({ leadMs: 0 })) {
    return {
      ipMap,
      attributor: new ClusterAttributor({
        nodeName: 'node-a',
        ipMap,
        cluster: () => cluster,
        podByUid: (uid) => (uid === 'uid-web-0' ? { namespace: 'shop', name: 'web-0', uid } : null),
        processes: new ProcessResolver({ procRoot }),
        isLocalAddress: (ip) => LOCAL.has(ip),
      }),
    };
  }

  it('from the CNI map alone: a pod of this node at the packet time, this node, or external', () => {
    const { ipMap, attributor: a } = attributor(null);
    ipMap.claim('10.244.1.10', cniPod('web-0'), 1_000, 'cni');
    ipMap.release('10.244.1.10', 'uid-web-0', 5_000, 'cni');
    ipMap.claim('10.244.1.10', cniPod('web-1'), 6_000, 'cni');
    assert.deepEqual(a.endpoint('10.244.1.10', 8080, 2_000), {
      ip: '10.244.1.10',
      port: 8080,
      kind: 'pod',
      pod: { namespace: 'shop', name: 'web-0', uid: 'uid-web-0', container: null },
      node: 'node-a',
      process: null,
    });
    assert.equal(a.endpoint('10.244.1.10', 8080, 7_000).pod?.name, 'web-1');
    assert.deepEqual(a.endpoint('10.210.0.11', 22, 2_000), { ip: '10.210.0.11', port: 22, kind: 'node', pod: null, node: 'node-a', process: null });
    assert.deepEqual(a.endpoint('192.0.2.1', 443, 2_000), { ip: '192.0.2.1', port: 443, kind: 'external', pod: null, node: null, process: null });
  });

  it('isOnThisKernel: this host, or a pod this node held at that time — not after it left', () => {
    const { ipMap, attributor: a } = attributor(null);
    ipMap.claim('10.244.1.10', cniPod('web-0'), 1_000, 'cni');
    ipMap.release('10.244.1.10', 'uid-web-0', 5_000, 'cni');
    ipMap.claim('10.244.2.20', cniPod('remote', 'node-b'), 1_000, 'kubernetes');
    assert.equal(a.isOnThisKernel('10.244.1.10', 2_000), true);
    assert.equal(a.isOnThisKernel('10.244.1.10', 6_000), false);
    assert.equal(a.isOnThisKernel('10.244.2.20', 2_000), false, 'a pod of another node');
    assert.equal(a.isOnThisKernel('10.210.0.11', 2_000), true);
    assert.equal(a.isOnThisKernel('192.0.2.1', 2_000), false);
  });

  it('with a ClusterView: container by declared port, remote pods, nodes, services, pod CIDRs of gone pods', () => {
    const { ipMap, attributor: a } = attributor(clusterView([REVIEWS]));
    ipMap.claim('10.244.2.20', { kind: 'pod', key: REVIEWS.uid, pod: { namespace: 'default', name: 'reviews-0', uid: REVIEWS.uid }, node: null, service: null }, 0, 'kubernetes');
    const app = a.endpoint('10.244.2.20', 8080, 1_000);
    assert.equal(app.kind, 'pod');
    assert.equal(app.node, 'node-b', 'node from the pod record when the map has none');
    assert.equal(app.pod?.container, 'app');
    assert.equal(a.endpoint('10.244.2.20', 15001, 1_000).pod?.container, 'istio-proxy');
    assert.equal(a.endpoint('10.244.2.20', 9999, 1_000).pod?.container, null, 'nobody declares 9999: no container is guessed');
    assert.deepEqual(a.endpoint('10.210.0.12', 10250, 1_000), { ip: '10.210.0.12', port: 10250, kind: 'node', pod: null, node: 'node-b', process: null });
    assert.equal(a.endpoint('10.96.0.20', 80, 1_000).kind, 'service');
    assert.deepEqual(a.endpoint('10.244.2.99', 80, 1_000), { ip: '10.244.2.99', port: 80, kind: 'pod', pod: null, node: 'node-b', process: null });
    assert.equal(a.endpoint('10.9.9.9', 80, 1_000).kind, 'external');
  });

  it('an address known only as a sandbox of this node (reservation without result) is named by the API when it can', () => {
    const local: PodRecord = { ...REVIEWS, uid: 'uid-local', name: 'local-0', nodeName: 'node-a', ips: ['10.244.1.50'] };
    const { ipMap, attributor: a } = attributor(clusterView([local]));
    ipMap.claim('10.244.1.50', { kind: 'pod', key: 'sandbox/abc', pod: null, node: 'node-a', service: null }, 0, 'cni');
    ipMap.claim('10.244.1.51', { kind: 'pod', key: 'sandbox/def', pod: null, node: 'node-a', service: null }, 0, 'cni');
    assert.deepEqual(a.endpoint('10.244.1.50', 8080, 1_000).pod, { namespace: 'default', name: 'local-0', uid: 'uid-local', container: 'app' });
    assert.deepEqual(a.endpoint('10.244.1.51', 8080, 1_000), { ip: '10.244.1.51', port: 8080, kind: 'pod', pod: null, node: 'node-a', process: null });
  });

  it('the time-versioned map wins over the current view: a reused IP at an old time is the old pod', () => {
    const { ipMap, attributor: a } = attributor(clusterView([REVIEWS]));
    ipMap.claim('10.244.2.20', cniPod('previous', 'node-b'), 0, 'kubernetes');
    ipMap.release('10.244.2.20', 'uid-previous', 1_000, 'kubernetes');
    ipMap.claim('10.244.2.20', { kind: 'pod', key: REVIEWS.uid, pod: { namespace: 'default', name: 'reviews-0', uid: REVIEWS.uid }, node: 'node-b', service: null }, 2_000, 'kubernetes');
    assert.equal(a.endpoint('10.244.2.20', 8080, 500).pod?.name, 'previous');
    assert.equal(a.endpoint('10.244.2.20', 8080, 2_500).pod?.name, 'reviews-0');
  });

  it('completeProcess: comm from /proc, container and pod from the cgroup via the ClusterView', () => {
    fakeProcess(4242, 'envoy', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_reviews.slice/cri-containerd-${SIDECAR_ID}.scope\n`);
    const { ipMap, attributor: a } = attributor(clusterView([REVIEWS]));
    ipMap.claim('10.244.2.20', { kind: 'pod', key: REVIEWS.uid, pod: { namespace: 'default', name: 'reviews-0', uid: REVIEWS.uid }, node: 'node-b', service: null }, 0, 'kubernetes');
    const endpoint = a.endpoint('10.244.2.20', 9080, 1_000);
    a.completeProcess(endpoint, { pid: 4242, comm: null }, 1_000);
    assert.deepEqual(endpoint.process, { pid: 4242, comm: 'envoy' });
    assert.deepEqual(endpoint.pod, { namespace: 'default', name: 'reviews-0', uid: REVIEWS.uid, container: 'istio-proxy' });
  });

  it('completeProcess without Kubernetes: the pod UID in the cgroup path names the pod from the CNI cache', () => {
    const uid = '8f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8';
    fakeProcess(4343, 'java', `0::/kubepods/burstable/pod${uid}/${CONTAINER_ID}\n`);
    const ipMap = new IpOwnershipMap({ leadMs: 0 });
    const a = new ClusterAttributor({
      nodeName: 'node-a',
      ipMap,
      podByUid: (podUid) => (podUid === uid ? { namespace: 'shop', name: 'web-0', uid } : null),
      processes: new ProcessResolver({ procRoot }),
      isLocalAddress: (ip) => LOCAL.has(ip),
    });
    // A host-network address (the node's) with a process in a pod: the pod comes from the process.
    const endpoint = a.endpoint('10.210.0.11', 8080, 1_000);
    a.completeProcess(endpoint, { pid: 4343, comm: 'java' }, 1_000);
    assert.equal(endpoint.kind, 'node');
    assert.deepEqual(endpoint.pod, { namespace: 'shop', name: 'web-0', uid, container: null });
  });

  it('completeProcess for a pid that is gone: the kernel comm, nothing guessed', () => {
    const { attributor: a } = attributor(clusterView([REVIEWS]));
    const endpoint: Endpoint = a.endpoint('192.0.2.1', 80, 0);
    a.completeProcess(endpoint, { pid: 77777, comm: 'curl' }, 0);
    assert.deepEqual(endpoint, { ip: '192.0.2.1', port: 80, kind: 'external', pod: null, node: null, process: { pid: 77777, comm: 'curl' } });
    const nameless: Endpoint = a.endpoint('192.0.2.1', 80, 0);
    a.completeProcess(nameless, { pid: 77778, comm: null }, 0);
    assert.deepEqual(nameless.process, { pid: 77778, comm: 'pid 77778' });
  });

  it('the address answer wins when the process cgroup names another pod', () => {
    fakeProcess(4444, 'app', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_reviews.slice/cri-containerd-${CONTAINER_ID}.scope\n`);
    const { ipMap, attributor: a } = attributor(clusterView([REVIEWS]));
    ipMap.claim('10.244.1.10', cniPod('web-0'), 0, 'cni');
    const endpoint = a.endpoint('10.244.1.10', 8080, 1_000);
    a.completeProcess(endpoint, { pid: 4444, comm: 'app' }, 1_000);
    assert.equal(endpoint.pod?.name, 'web-0');
  });
});
