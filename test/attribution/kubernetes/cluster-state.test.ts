import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IpOwnershipMap } from '../../../src/attribution/ip-map';
import { ClusterState } from '../../../src/attribution/kubernetes/cluster-state';
import { networkPolicyRecord, nodeRecord, podRecord, serviceRecord } from '../../../src/attribution/kubernetes/convert';
import { selectorMatches } from '../../../src/attribution/kubernetes/label-selector';
import type { ClusterChange, LabelSelectorRecord, PodRecord } from '../../../src/attribution/kubernetes/types';
import { containerIdFor, networkPolicyJson, nodeJson, podJson, serviceJson, type PodSpec } from '../../support/kube-api-server';

/** ClusterState on its own: the indexes and the ip-map tenures it keeps, with explicit times. */

const T0 = Date.parse('2026-11-24T10:00:00Z');

function pod(spec: PodSpec & { resourceVersion?: string }): PodRecord {
  const json = podJson(spec);
  json.metadata.resourceVersion = spec.resourceVersion ?? '1';
  return podRecord(json)!;
}

function fresh(localNode: string | null = null): { state: ClusterState; ipMap: IpOwnershipMap; changes: ClusterChange[] } {
  const ipMap = new IpOwnershipMap();
  const changes: ClusterChange[] = [];
  return { state: new ClusterState({ ipMap, localNode, onChange: (change) => changes.push(change) }), ipMap, changes };
}

describe('ClusterState pods and the ip map', () => {
  test('IP reuse: pod A until its deletion, pod B from its start; each packet time gets its owner', () => {
    const { state } = fresh();
    const a = pod({ name: 'a', uid: 'uid-a', ips: ['10.244.1.7'], startedAt: new Date(T0) });
    state.applyPod('ADDED', a, T0 + 500);
    state.applyPod('DELETED', a, T0 + 10_000);
    const b = pod({ name: 'b', uid: 'uid-b', ips: ['10.244.1.7'], startedAt: new Date(T0 + 12_000) });
    state.applyPod('ADDED', b, T0 + 12_300);
    assert.equal(state.podByIp('10.244.1.7', T0 + 5_000)?.name, 'a');
    assert.equal(state.podByIp('10.244.1.7', T0 + 9_999)?.name, 'a', 'right up to the deletion');
    assert.equal(state.podByIp('10.244.1.7', T0 + 12_100)?.name, 'b');
    assert.equal(state.podByUid('uid-a')?.name, 'a', 'a deleted pod stays answerable');
  });

  test('a pod whose start precedes the deletion of the previous owner takes over at its start', () => {
    const { state, ipMap } = fresh();
    state.applyPod('ADDED', pod({ name: 'a', uid: 'uid-a', ips: ['10.244.1.8'], startedAt: new Date(T0) }), T0);
    // The DELETED event of A is late: B's ADDED arrives first.
    state.applyPod('ADDED', pod({ name: 'b', uid: 'uid-b', ips: ['10.244.1.8'], startedAt: new Date(T0 + 20_000) }), T0 + 21_000);
    assert.deepEqual(ipMap.history('10.244.1.8').map((t) => [t.owner.key, t.fromMs, t.untilMs]), [
      ['uid-a', T0, T0 + 20_000],
      ['uid-b', T0 + 20_000, null],
    ]);
  });

  test('an IP change releases the old address at the event time and claims the new one from then', () => {
    const { state, ipMap } = fresh();
    state.applyPod('ADDED', pod({ name: 'a', uid: 'uid-a', ips: ['10.244.1.9'], startedAt: new Date(T0) }), T0);
    state.applyPod('MODIFIED', pod({ name: 'a', uid: 'uid-a', ips: ['10.244.1.19'], startedAt: new Date(T0) }), T0 + 60_000);
    assert.equal(ipMap.history('10.244.1.9')[0].untilMs, T0 + 60_000);
    assert.equal(ipMap.history('10.244.1.19')[0].fromMs, T0 + 60_000);
  });

  test('host-network pods claim nothing (the node owns the address); Failed pods release', () => {
    const { state, ipMap } = fresh();
    state.applyNode('ADDED', nodeRecord(nodeJson({ name: 'node-a', internalIp: '10.0.0.5' }))!, T0);
    state.applyPod('ADDED', pod({ name: 'proxy', uid: 'uid-p', ips: ['10.0.0.5'], hostNetwork: true }), T0);
    assert.equal(ipMap.lookup('10.0.0.5', T0 + 1)?.kind, 'node');
    state.applyPod('ADDED', pod({ name: 'job', uid: 'uid-j', ips: ['10.244.1.30'], startedAt: new Date(T0) }), T0);
    state.applyPod('MODIFIED', pod({ name: 'job', uid: 'uid-j', ips: ['10.244.1.30'], phase: 'Failed', startedAt: new Date(T0) }), T0 + 5_000);
    assert.equal(ipMap.history('10.244.1.30')[0].untilMs, T0 + 5_000);
  });

  test('replacePods: unchanged versions emit nothing, changed ones MODIFIED, vanished ones DELETED and released', () => {
    const { state, ipMap, changes } = fresh();
    const keep = pod({ name: 'keep', uid: 'k', ips: ['10.244.1.40'], resourceVersion: '5' });
    const change = pod({ name: 'change', uid: 'c', ips: ['10.244.1.41'], resourceVersion: '6' });
    const vanish = pod({ name: 'vanish', uid: 'v', ips: ['10.244.1.42'], resourceVersion: '7' });
    state.replacePods([keep, change, vanish], T0);
    changes.length = 0;
    state.replacePods([keep, pod({ name: 'change', uid: 'c', ips: ['10.244.1.41'], resourceVersion: '9', labels: { new: 'yes' } })], T0 + 1_000);
    assert.deepEqual(changes.map((c) => `${c.type} ${c.record.name}`), ['MODIFIED change', 'DELETED vanish']);
    assert.equal(ipMap.history('10.244.1.42')[0].untilMs, T0 + 1_000);
    assert.equal(ipMap.history('10.244.1.40')[0].untilMs, null);
    assert.equal(state.podByIp('10.244.1.41', T0 + 2_000)?.labels.new, 'yes');
  });

  test('replacePods releases a kubernetes claim no listed pod makes, and leaves node, service and CNI claims alone', () => {
    const { state, ipMap } = fresh();
    state.applyNode('ADDED', nodeRecord(nodeJson({ name: 'node-a', internalIp: '10.0.0.5' }))!, T0);
    ipMap.claim('10.244.1.50', { kind: 'pod', key: 'ghost', pod: null, node: null, service: null }, T0, 'kubernetes');
    ipMap.claim('10.244.1.51', { kind: 'pod', key: 'cni-only', pod: null, node: 'node-a', service: null }, T0, 'cni');
    state.replacePods([], T0 + 1_000);
    assert.equal(ipMap.history('10.244.1.50')[0].untilMs, T0 + 1_000);
    assert.equal(ipMap.history('10.244.1.51')[0].untilMs, null);
    assert.equal(ipMap.history('10.0.0.5')[0].untilMs, null);
  });

  test('container IDs: local pods indexed, remote ones found by a scan, deleted ones until pruned', () => {
    const { state } = fresh('node-a');
    const local = pod({ name: 'local', uid: 'l', nodeName: 'node-a', ips: ['10.244.1.60'], containers: [{ name: 'app' }, { name: 'istio-proxy' }] });
    const remote = pod({ name: 'remote', uid: 'r', nodeName: 'node-b', ips: ['10.244.2.60'] });
    state.applyPod('ADDED', local, T0);
    state.applyPod('ADDED', remote, T0);
    const proxyId = containerIdFor('local/istio-proxy/0').slice('containerd://'.length);
    assert.equal(state.podByContainerId(proxyId)?.container.name, 'istio-proxy');
    assert.equal(state.podByContainerId(proxyId)?.pod.uid, 'l');
    const remoteId = containerIdFor('remote/app/0').slice('containerd://'.length);
    assert.equal(state.podByContainerId(remoteId)?.pod.uid, 'r');
    assert.equal(state.podByContainerId('f'.repeat(64)), null);
    state.applyPod('DELETED', local, T0 + 1_000);
    assert.equal(state.podByContainerId(proxyId)?.pod.name, 'local', 'a process may outlive the API object by a moment');
    state.prune(T0 + 1_000 + 16 * 60_000);
    assert.equal(state.podByContainerId(proxyId), null);
    assert.equal(state.podByUid('l'), null);
  });

  test('podsOnNode and podsMatching follow updates', () => {
    const { state } = fresh();
    state.applyPod('ADDED', pod({ name: 'a', uid: 'a', nodeName: 'node-a', labels: { app: 'x' } }), T0);
    state.applyPod('ADDED', pod({ name: 'b', uid: 'b', nodeName: 'node-b', labels: { app: 'x', v: '2' } }), T0);
    assert.deepEqual(state.podsOnNode('node-a').map((p) => p.name), ['a']);
    assert.deepEqual(state.podsMatching({ app: 'x' }).map((p) => p.name), ['a', 'b']);
    assert.deepEqual(state.podsMatching({ app: 'x', v: '2' }).map((p) => p.name), ['b']);
    state.applyPod('DELETED', pod({ name: 'a', uid: 'a', nodeName: 'node-a' }), T0 + 1);
    assert.deepEqual(state.podsOnNode('node-a'), []);
  });
});

describe('ClusterState nodes, services, policies', () => {
  test('nodeForPodIp: longest prefix over IPv4 and IPv6 pod CIDRs', () => {
    const { state } = fresh();
    state.applyNode('ADDED', nodeRecord(nodeJson({ name: 'wide', internalIp: '10.0.0.1', podCidrs: ['10.244.0.0/16'] }))!, T0);
    state.applyNode('ADDED', nodeRecord(nodeJson({ name: 'narrow', internalIp: '10.0.0.2', podCidrs: ['10.244.7.0/24', 'fd00:244:7::/64'] }))!, T0);
    assert.equal(state.nodeForPodIp('10.244.7.9')?.name, 'narrow');
    assert.equal(state.nodeForPodIp('10.244.8.9')?.name, 'wide');
    assert.equal(state.nodeForPodIp('fd00:244:7::42')?.name, 'narrow');
    assert.equal(state.nodeForPodIp('192.168.0.1'), null);
    assert.equal(state.nodeForPodIp('not an ip'), null);
    state.applyNode('DELETED', state.node('narrow')!, T0 + 1);
    assert.equal(state.nodeForPodIp('10.244.7.9')?.name, 'wide');
  });

  test('servicesSelecting: same namespace, every selector pair, never selector-less services', () => {
    const { state, ipMap } = fresh();
    state.applyService('ADDED', serviceRecord(serviceJson({ namespace: 'shop', name: 'api', clusterIp: '10.96.0.1', ports: [{ port: 80 }], selector: { app: 'api' } }))!, T0);
    state.applyService('ADDED', serviceRecord(serviceJson({ namespace: 'shop', name: 'api-v2', clusterIp: '10.96.0.2', ports: [{ port: 80 }], selector: { app: 'api', v: '2' } }))!, T0);
    state.applyService('ADDED', serviceRecord(serviceJson({ namespace: 'other', name: 'api', clusterIp: '10.96.0.3', ports: [{ port: 80 }], selector: { app: 'api' } }))!, T0);
    state.applyService('ADDED', serviceRecord(serviceJson({ namespace: 'shop', name: 'manual', clusterIp: '10.96.0.4', ports: [{ port: 80 }], selector: null }))!, T0);
    const api = pod({ namespace: 'shop', name: 'api-0', uid: 'api', labels: { app: 'api', v: '1' } });
    assert.deepEqual(state.servicesSelecting(api).map((s) => `${s.namespace}/${s.name}`), ['shop/api']);
    assert.equal(ipMap.lookup('10.96.0.4', T0 + 1)?.service?.name, 'manual');
    assert.equal(state.serviceByIp('10.96.0.3')?.namespace, 'other');
  });

  test('policiesSelecting: namespace-scoped, empty selector selects all, matchExpressions apply', () => {
    const { state } = fresh();
    const add = (spec: Parameters<typeof networkPolicyJson>[0]): void => state.applyPolicy('ADDED', networkPolicyRecord(networkPolicyJson(spec))!);
    add({ namespace: 'shop', name: 'all', podSelector: {} });
    add({ namespace: 'shop', name: 'not-canary', podSelector: { matchExpressions: [{ key: 'track', operator: 'NotIn', values: ['canary'] }] } });
    add({ namespace: 'shop', name: 'has-tier', podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } });
    add({ namespace: 'other', name: 'elsewhere', podSelector: {} });
    const stable = pod({ namespace: 'shop', name: 's', uid: 's', labels: { app: 'x' } });
    const canary = pod({ namespace: 'shop', name: 'c', uid: 'c', labels: { app: 'x', track: 'canary', tier: 'web' } });
    assert.deepEqual(state.policiesSelecting(stable).map((p) => p.name), ['all', 'not-canary']);
    assert.deepEqual(state.policiesSelecting(canary).map((p) => p.name), ['all', 'has-tier']);
    state.applyPolicy('DELETED', state.policiesSelecting(stable)[0]);
    assert.deepEqual(state.policiesSelecting(stable).map((p) => p.name), ['not-canary']);
  });
});

describe('selectorMatches', () => {
  const labels = { app: 'api', tier: 'backend' };
  const selector = (partial: Partial<LabelSelectorRecord>): LabelSelectorRecord => ({ matchLabels: {}, matchExpressions: [], ...partial });
  const cases: Array<[string, LabelSelectorRecord, boolean]> = [
    ['empty selects all', selector({}), true],
    ['matchLabels hit', selector({ matchLabels: { app: 'api' } }), true],
    ['matchLabels miss', selector({ matchLabels: { app: 'web' } }), false],
    ['matchLabels key absent', selector({ matchLabels: { zone: 'a' } }), false],
    ['In hit', selector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'backend'] }] }), true],
    ['In without the key', selector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }), false],
    ['NotIn hit', selector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['backend'] }] }), false],
    ['NotIn without the key holds', selector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }), true],
    ['Exists', selector({ matchExpressions: [{ key: 'app', operator: 'Exists', values: [] }] }), true],
    ['DoesNotExist', selector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist', values: [] }] }), false],
    ['labels AND expressions', selector({ matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend'] }] }), false],
  ];
  for (const [name, sel, expected] of cases) test(name, () => assert.equal(selectorMatches(sel, labels), expected));

  test('inherited object keys are not labels', () => {
    assert.equal(selectorMatches(selector({ matchExpressions: [{ key: 'constructor', operator: 'Exists', values: [] }] }), labels), false);
  });
});
