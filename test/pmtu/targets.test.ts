import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterView, NodeRecord, PodRecord } from '../../src/attribution/kubernetes/types';
import { parseLabelSelector, selectTargets } from '../../src/pmtu/targets';

function node(name: string, ip: string): NodeRecord {
  return { name, addresses: [ip], podCidrs: [], labels: {} };
}
function pod(name: string, nodeName: string, ip: string, labels: Record<string, string> = {}): PodRecord {
  return { uid: `uid-${name}`, namespace: 'default', name, nodeName, ips: [ip], hostNetwork: false, labels, phase: 'Running', containers: [], createdAtMs: 0, deletingAtMs: null };
}

/** A ClusterView over fixed records; only what target selection asks is answered. */
function cluster(nodes: NodeRecord[], pods: PodRecord[], synced = true): ClusterView {
  const unused = (): never => {
    throw new Error('not used by target selection');
  };
  return {
    synced,
    stale: false,
    podByUid: unused,
    podByIp: (ip) => pods.find((candidate) => candidate.ips.includes(ip)) ?? null,
    podByContainerId: unused,
    node: (name) => nodes.find((candidate) => candidate.name === name) ?? null,
    nodeByAddress: (ip) => nodes.find((candidate) => candidate.addresses.includes(ip)) ?? null,
    nodeForPodIp: () => null,
    serviceByIp: unused,
    servicesSelecting: unused,
    policiesSelecting: unused,
    podsMatching: (selector) => pods.filter((candidate) => Object.entries(selector).every(([key, value]) => candidate.labels[key] === value)),
    podsOnNode: (name) => pods.filter((candidate) => candidate.nodeName === name),
    nodes: () => nodes,
  };
}

const nodes = [node('n1', '10.0.0.1'), node('n2', '10.0.0.2'), node('n3', '10.0.0.3'), node('n4', '10.0.0.4')];
const pods = [
  pod('gw', 'n1', '10.244.1.10', { istio: 'ingressgateway' }),
  pod('app2', 'n2', '10.244.2.10'),
  pod('app3', 'n3', '10.244.3.10'),
  pod('app4', 'n4', '10.244.4.10'),
];
const gatewaySelector = { istio: 'ingressgateway' };

describe('path-MTU target selection', () => {
  it('without Kubernetes: the --pmtu-targets only', () => {
    const selection = selectTargets('n1', ['192.0.2.1'], null, gatewaySelector, []);
    assert.deepEqual(selection.targets, [{ ip: '192.0.2.1', node: null, pod: null }]);
  });

  it('a node without a gateway pod measures nothing of the cluster (no N² probing)', () => {
    const selection = selectTargets('n2', [], cluster(nodes, pods), gatewaySelector, []);
    assert.deepEqual(selection.targets, []);
    assert.match(selection.reason, /no gateway pod/);
  });

  it('a gateway node with no traffic seen yet measures every other node: its address and one pod on it', () => {
    const selection = selectTargets('n1', [], cluster(nodes, pods), gatewaySelector, []);
    assert.deepEqual(selection.gatewayIps, ['10.244.1.10']);
    assert.deepEqual(
      selection.targets.map((target) => [target.ip, target.node, target.pod?.name ?? null]),
      [
        ['10.0.0.2', 'n2', null],
        ['10.244.2.10', 'n2', 'app2'],
        ['10.0.0.3', 'n3', null],
        ['10.244.3.10', 'n3', 'app3'],
        ['10.0.0.4', 'n4', null],
        ['10.244.4.10', 'n4', 'app4'],
      ],
    );
  });

  it('once the gateways\' peers are known, only the nodes running them', () => {
    const selection = selectTargets('n1', [], cluster(nodes, pods), gatewaySelector, ['10.244.3.10']);
    assert.deepEqual(selection.targets.map((target) => target.ip), ['10.0.0.3', '10.244.3.10']);
  });

  it('waits for the cluster to sync, and honours another selector', () => {
    assert.deepEqual(selectTargets('n1', [], cluster(nodes, pods, false), gatewaySelector, []).targets, []);
    const other = [...pods.slice(1), pod('edge', 'n1', '10.244.1.11', { app: 'nginx-ingress' })];
    assert.equal(selectTargets('n1', [], cluster(nodes, other), { app: 'nginx-ingress' }, []).targets.length, 6);
  });

  it('parses --gateway-selector k=v,k2=v2 and refuses anything else', () => {
    assert.deepEqual(parseLabelSelector('istio=ingressgateway,app.kubernetes.io/name=gw'), { istio: 'ingressgateway', 'app.kubernetes.io/name': 'gw' });
    assert.equal(parseLabelSelector('istio'), null);
    assert.equal(parseLabelSelector(''), null);
    assert.equal(parseLabelSelector('a=b,,c=d'), null);
  });
});
