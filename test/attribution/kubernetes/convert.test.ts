import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  labelSelectorRecord,
  networkPolicyRecord,
  nodeRecord,
  parseQuantity,
  podRecord,
  serviceRecord,
  splitContainerId,
} from '../../../src/attribution/kubernetes/convert';

/**
 * API object → compact record, on objects shaped like `kubectl get -o json`
 * output of a real cluster (managedFields trimmed).
 */

const ISTIO_POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'reviews-v2-5b667bcbf8-x7k2p',
    namespace: 'bookinfo',
    uid: '6f1b0f4e-2c5a-4d1e-9c7b-8a3e2f1d0c9b',
    resourceVersion: '48213977',
    creationTimestamp: '2026-11-24T09:58:12Z',
    labels: { app: 'reviews', version: 'v2', 'pod-template-hash': '5b667bcbf8', 'security.istio.io/tlsMode': 'istio' },
    annotations: { 'sidecar.istio.io/status': '{"initContainers":["istio-init"]}' },
  },
  spec: {
    nodeName: 'ip-10-0-3-17.ec2.internal',
    initContainers: [
      { name: 'istio-init', image: 'docker.io/istio/proxyv2:1.24.0', resources: { limits: { memory: '1Gi' } } },
      { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', restartPolicy: 'Always', ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }], resources: { limits: { cpu: '2', memory: '1Gi' } } },
    ],
    containers: [
      {
        name: 'reviews',
        image: 'docker.io/istio/examples-bookinfo-reviews-v2:1.20.2',
        ports: [{ containerPort: 9080, protocol: 'TCP' }, { containerPort: 9443, name: 'https' }, { containerPort: 'bad' }],
        resources: { limits: { cpu: '500m', memory: '512Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
      },
    ],
  },
  status: {
    phase: 'Running',
    hostIP: '10.0.3.17',
    podIP: '10.244.2.20',
    podIPs: [{ ip: '10.244.2.20' }, { ip: 'fd00:244:2::20' }],
    startTime: '2026-11-24T09:58:13Z',
    initContainerStatuses: [
      { name: 'istio-init', containerID: 'containerd://aaaa', restartCount: 0, ready: true, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'istio-proxy', containerID: 'containerd://b1c2d3', restartCount: 0, ready: true, state: { running: { startedAt: '2026-11-24T09:58:14Z' } }, lastState: {} },
    ],
    containerStatuses: [
      {
        name: 'reviews',
        containerID: 'containerd://4f9e2a7c1b3d5e6f',
        restartCount: 3,
        ready: true,
        started: true,
        state: { running: { startedAt: '2026-11-24T10:41:07Z' } },
        lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: '2026-11-24T10:12:00Z', finishedAt: '2026-11-24T10:41:05Z', containerID: 'containerd://0ld' } },
      },
    ],
  },
};

describe('podRecord', () => {
  test('a running Istio-injected pod: identity, dual-stack IPs, labels, times', () => {
    const pod = podRecord(ISTIO_POD)!;
    assert.equal(pod.uid, '6f1b0f4e-2c5a-4d1e-9c7b-8a3e2f1d0c9b');
    assert.equal(pod.namespace, 'bookinfo');
    assert.equal(pod.name, 'reviews-v2-5b667bcbf8-x7k2p');
    assert.equal(pod.nodeName, 'ip-10-0-3-17.ec2.internal');
    assert.deepEqual(pod.ips, ['10.244.2.20', 'fd00:244:2::20']);
    assert.equal(pod.hostNetwork, false);
    assert.equal(pod.phase, 'Running');
    assert.equal(pod.labels.app, 'reviews');
    assert.equal(pod.labels['security.istio.io/tlsMode'], 'istio');
    assert.equal(pod.createdAtMs, Date.parse('2026-11-24T09:58:12Z'));
    assert.equal(pod.startedAtMs, Date.parse('2026-11-24T09:58:13Z'));
    assert.equal(pod.deletingAtMs, null);
    assert.equal(pod.resourceVersion, '48213977');
  });

  test('containers: native sidecar kept, one-shot init dropped, restart state and limits', () => {
    const pod = podRecord(ISTIO_POD)!;
    assert.deepEqual(pod.containers.map((c) => c.name), ['istio-proxy', 'reviews']);
    const [proxy, app] = pod.containers;
    assert.equal(proxy.sidecar, true);
    assert.equal(proxy.containerId, 'b1c2d3');
    assert.equal(proxy.memoryLimitBytes, 2 ** 30);
    assert.equal(app.sidecar, false);
    assert.equal(app.containerId, '4f9e2a7c1b3d5e6f');
    assert.equal(app.runtime, 'containerd');
    assert.equal(app.restartCount, 3);
    assert.equal(app.ready, true);
    assert.equal(app.startedAtMs, Date.parse('2026-11-24T10:41:07Z'));
    assert.deepEqual(app.lastTermination, { reason: 'OOMKilled', exitCode: 137, finishedAtMs: Date.parse('2026-11-24T10:41:05Z') });
    assert.equal(app.memoryLimitBytes, 512 * 2 ** 20);
    assert.deepEqual(app.ports, [
      { name: null, containerPort: 9080, protocol: 'TCP' },
      { name: 'https', containerPort: 9443, protocol: 'TCP' },
    ]);
  });

  test('a pod on another node (localNode given): no container IDs; never-restarted containers shared between replicas without a start time', () => {
    const local = podRecord(ISTIO_POD, 'ip-10-0-3-17.ec2.internal')!;
    assert.deepEqual(local, podRecord(ISTIO_POD), 'a pod on this node keeps everything');
    const remote = podRecord(ISTIO_POD, 'ip-10-0-9-99.ec2.internal')!;
    const [proxy, app] = remote.containers;
    assert.equal(proxy.containerId, null);
    assert.equal(proxy.runtime, 'containerd');
    assert.equal(proxy.restartCount, 0);
    assert.equal(proxy.startedAtMs, null, 'no restart: its start time is no evidence');
    assert.equal(proxy.memoryLimitBytes, 2 ** 30);
    assert.equal(app.containerId, null);
    assert.equal(app.restartCount, 3, 'restart state stays: a remote sender that restarted explains its resets');
    assert.equal(app.startedAtMs, Date.parse('2026-11-24T10:41:07Z'));
    assert.deepEqual(app.lastTermination, { reason: 'OOMKilled', exitCode: 137, finishedAtMs: Date.parse('2026-11-24T10:41:05Z') });
    const { ips: _ips, uid: _uid, name: _name, resourceVersion: _rv, containers: _c, ...identityFree } = remote;
    const { ips: _ips2, uid: _uid2, name: _name2, resourceVersion: _rv2, containers: _c2, ...identityFree2 } = local;
    assert.deepEqual(identityFree, identityFree2, 'everything but the containers is the same');

    const replica = (name: string, restartCount: number) => ({
      metadata: { name, namespace: 'shop', uid: `u-${name}`, creationTimestamp: '2026-11-24T10:00:00Z' },
      spec: { nodeName: 'node-b', containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }] },
      status: {
        phase: 'Running',
        podIP: '10.244.2.7',
        containerStatuses: [{ name: 'app', containerID: `containerd://${name}`, ready: true, restartCount, state: { running: { startedAt: `2026-11-24T10:0${restartCount}:${name.length}0Z` } } }],
      },
    });
    const first = podRecord(replica('web-1', 0), 'node-a')!;
    const second = podRecord(replica('web-22', 0), 'node-a')!;
    assert.equal(first.containers, second.containers, 'one shared container list');
    assert.ok(Object.isFrozen(first.containers[0]));
    const restarted = podRecord(replica('web-3', 1), 'node-a')!;
    assert.notEqual(restarted.containers, first.containers);
    assert.equal(restarted.containers[0].startedAtMs, Date.parse('2026-11-24T10:01:50Z'));
    assert.equal(podRecord(replica('web-4', 0), 'node-b')!.containers[0].containerId, 'web-4', 'on this node: kept');
  });

  test('a pending pod has no IPs and containers without IDs; classic istio-proxy counts as a sidecar', () => {
    const pod = podRecord({
      metadata: { name: 'web-0', namespace: 'default', uid: 'u-1', creationTimestamp: '2026-11-24T10:00:00Z' },
      spec: { containers: [{ name: 'web' }, { name: 'istio-proxy' }] },
      status: { phase: 'Pending' },
    })!;
    assert.deepEqual(pod.ips, []);
    assert.equal(pod.nodeName, null);
    assert.deepEqual(pod.containers.map((c) => [c.name, c.containerId, c.runtime, c.restartCount, c.sidecar]), [
      ['web', null, null, 0, false],
      ['istio-proxy', null, null, 0, true],
    ]);
    assert.equal(pod.containers[0].memoryLimitBytes, null);
    assert.equal(pod.startedAtMs, null);
  });

  test('terminating and host-network pods', () => {
    const pod = podRecord({
      metadata: { name: 'kube-proxy-x', namespace: 'kube-system', uid: 'u-2', deletionTimestamp: '2026-11-24T11:00:00Z' },
      spec: { hostNetwork: true, nodeName: 'node-a', containers: [] },
      status: { phase: 'Running', podIP: '10.0.3.17' },
    })!;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.deletingAtMs, Date.parse('2026-11-24T11:00:00Z'));
    assert.deepEqual(pod.ips, ['10.0.3.17']);
  });

  test('objects without name or uid, or not objects at all, give null instead of throwing', () => {
    assert.equal(podRecord(null), null);
    assert.equal(podRecord('pod'), null);
    assert.equal(podRecord({ metadata: { name: 'x' } }), null);
    assert.equal(podRecord({ metadata: { uid: 'x' } }), null);
    const odd = podRecord({ metadata: { name: 'x', uid: 'y', labels: { ok: 'v', bad: 7 } }, spec: { containers: 'nope' }, status: { podIPs: 'nope' } })!;
    assert.deepEqual(odd.labels, { ok: 'v' });
    assert.deepEqual(odd.containers, []);
    assert.equal(odd.namespace, 'default');
  });
});

describe('nodeRecord, serviceRecord, networkPolicyRecord', () => {
  test('a node: Internal and External addresses, not Hostname; dual-stack pod CIDRs', () => {
    const node = nodeRecord({
      metadata: { name: 'node-b', labels: { 'topology.kubernetes.io/zone': 'eu-west-1b' }, creationTimestamp: '2026-11-01T00:00:00Z' },
      spec: { podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24', 'fd00:244:2::/64'] },
      status: { addresses: [{ type: 'InternalIP', address: '10.0.3.18' }, { type: 'ExternalIP', address: '203.0.113.9' }, { type: 'Hostname', address: 'node-b' }] },
    })!;
    assert.deepEqual(node.addresses, ['10.0.3.18', '203.0.113.9']);
    assert.deepEqual(node.podCidrs, ['10.244.2.0/24', 'fd00:244:2::/64']);
    assert.equal(node.labels['topology.kubernetes.io/zone'], 'eu-west-1b');
    assert.equal(nodeRecord({ metadata: {} }), null);
  });

  test('a service: cluster IPs (headless is none), named and numeric target ports, default target port, selector', () => {
    const service = serviceRecord({
      metadata: { name: 'reviews', namespace: 'bookinfo', uid: 's-1' },
      spec: {
        clusterIP: '10.96.14.7',
        clusterIPs: ['10.96.14.7', 'fd00:96::e7'],
        ports: [
          { name: 'http', port: 9080, targetPort: 'http-web', protocol: 'TCP' },
          { name: 'grpc', port: 9090, targetPort: 9091 },
          { name: 'plain', port: 8080 },
          { name: 'udp', port: 53, targetPort: '5353', protocol: 'UDP' },
        ],
        selector: { app: 'reviews' },
      },
    })!;
    assert.deepEqual(service.clusterIps, ['10.96.14.7', 'fd00:96::e7']);
    assert.deepEqual(service.ports.map((p) => [p.port, p.targetPort, p.protocol]), [
      [9080, 'http-web', 'TCP'],
      [9090, 9091, 'TCP'],
      [8080, 8080, 'TCP'],
      [53, 5353, 'UDP'],
    ]);
    assert.deepEqual(service.selector, { app: 'reviews' });
    const headless = serviceRecord({ metadata: { name: 'db', namespace: 'x' }, spec: { clusterIP: 'None', ports: [], selector: {} } })!;
    assert.deepEqual(headless.clusterIps, []);
    assert.equal(headless.selector, null, 'an empty selector selects nothing (manually managed endpoints)');
  });

  test('a NetworkPolicy: selectors with expressions, peers, ports with endPort, implied policyTypes', () => {
    const policy = networkPolicyRecord({
      metadata: { name: 'api-ingress', namespace: 'shop' },
      spec: {
        podSelector: { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }, { key: 'x', operator: 'Bogus' }] },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { app: 'web' } }, namespaceSelector: { matchLabels: { team: 'shop' } } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] } },
            ],
            ports: [{ protocol: 'TCP', port: 8080 }, { port: 'metrics' }, { protocol: 'TCP', port: 30000, endPort: 30100 }],
          },
        ],
        egress: [{ to: [] }],
      },
    })!;
    assert.deepEqual(policy.podSelector, { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] });
    assert.deepEqual(policy.policyTypes, ['Ingress', 'Egress'], 'egress rules imply Egress');
    assert.equal(policy.ingress[0].peers.length, 2);
    assert.deepEqual(policy.ingress[0].peers[0].namespaceSelector, { matchLabels: { team: 'shop' }, matchExpressions: [] });
    assert.equal(policy.ingress[0].peers[0].ipBlock, null);
    assert.deepEqual(policy.ingress[0].peers[1].ipBlock, { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] });
    assert.equal(policy.ingress[0].peers[1].podSelector, null);
    assert.deepEqual(policy.ingress[0].ports, [
      { protocol: 'TCP', port: 8080, endPort: null },
      { protocol: 'TCP', port: 'metrics', endPort: null },
      { protocol: 'TCP', port: 30000, endPort: 30100 },
    ]);
    assert.deepEqual(policy.egress, [{ peers: [], ports: [] }]);
    const denyAll = networkPolicyRecord({ metadata: { name: 'deny', namespace: 'shop' }, spec: { podSelector: {} } })!;
    assert.deepEqual(denyAll.policyTypes, ['Ingress']);
    assert.deepEqual(denyAll.podSelector, { matchLabels: {}, matchExpressions: [] });
    assert.equal(labelSelectorRecord(undefined), null);
  });
});

describe('helpers', () => {
  test('parseQuantity: binary and decimal suffixes, exponents, millis, garbage', () => {
    const cases: Array<[unknown, number | null]> = [
      ['128Mi', 128 * 2 ** 20],
      ['1Gi', 2 ** 30],
      ['1.5Gi', 1.5 * 2 ** 30],
      ['500M', 500e6],
      ['1G', 1e9],
      ['2k', 2000],
      ['512e6', 512e6],
      ['1E3', 1000],
      ['100m', 1],
      ['1048576', 1048576],
      [256, 256],
      ['12Qi', null],
      ['', null],
      [null, null],
      ['Mi', null],
    ];
    for (const [input, expected] of cases) assert.equal(parseQuantity(input), expected, String(input));
  });

  test('splitContainerId: runtime prefixes', () => {
    assert.deepEqual(splitContainerId('containerd://abc123'), { runtime: 'containerd', containerId: 'abc123' });
    assert.deepEqual(splitContainerId('cri-o://def'), { runtime: 'cri-o', containerId: 'def' });
    assert.deepEqual(splitContainerId('docker://0f'), { runtime: 'docker', containerId: '0f' });
    assert.deepEqual(splitContainerId('bare'), { runtime: null, containerId: 'bare' });
    assert.deepEqual(splitContainerId(''), { runtime: null, containerId: null });
    assert.deepEqual(splitContainerId(undefined), { runtime: null, containerId: null });
  });

  test('records of replicas share one frozen label set and port list', () => {
    const replica = (name: string, uid: string) =>
      podRecord({ metadata: { name, uid, labels: { app: 'web', v: '1' } }, spec: { containers: [{ name: 'web', ports: [{ containerPort: 80 }] }] }, status: {} })!;
    const a = replica('web-a', 'u-a');
    const b = replica('web-b', 'u-b');
    assert.equal(a.labels, b.labels);
    assert.equal(a.containers[0].ports, b.containers[0].ports);
    assert.ok(Object.isFrozen(a.labels));
  });
});
