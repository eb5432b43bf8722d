import assert from 'node:assert/strict';
import test from 'node:test';
import { cidrContains, judgeIngress } from '../../src/diagnose/network-policy';
import { container, pod, policy } from './records';

const target = pod({ containers: [container({ ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] })] });
const gateway = pod({ name: 'gateway-0', namespace: 'istio-system', ips: ['10.244.1.10'], labels: { app: 'gateway' } });
const fromGateway = { ip: '10.244.1.10', pod: gateway };
const sel = (matchLabels: Record<string, string>) => ({ matchLabels, matchExpressions: [] });

test('no policy: admitted', () => {
  assert.equal(judgeIngress(target, [], fromGateway, 8080).admission, 'admits');
});

test('a policy with no ingress rules denies everything', () => {
  assert.equal(judgeIngress(target, [policy()], fromGateway, 8080).admission, 'denies');
});

test('an egress-only policy does not restrict ingress', () => {
  assert.equal(judgeIngress(target, [policy({ policyTypes: ['Egress'] })], fromGateway, 8080).admission, 'admits');
});

test('podSelector without namespaceSelector means the policy namespace only', () => {
  const rule = { peers: [{ podSelector: sel({ app: 'gateway' }), namespaceSelector: null, ipBlock: null }], ports: [] };
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], fromGateway, 8080).admission, 'denies');
  const sameNamespace = { ip: '10.244.1.10', pod: { ...gateway, namespace: 'default' } };
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], sameNamespace, 8080).admission, 'admits');
});

test('namespaceSelector on kubernetes.io/metadata.name and podSelector together', () => {
  const rule = {
    peers: [{ podSelector: sel({ app: 'gateway' }), namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'istio-system' }), ipBlock: null }],
    ports: [{ protocol: 'TCP' as const, port: 'http', endPort: null }],
  };
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], fromGateway, 8080).admission, 'admits', 'named port resolves to 8080');
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], fromGateway, 9090).admission, 'denies');
});

test('a namespaceSelector on other labels cannot be evaluated: unknown, never a guess', () => {
  const rule = { peers: [{ podSelector: null, namespaceSelector: sel({ team: 'edge' }), ipBlock: null }], ports: [] };
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], fromGateway, 8080).admission, 'unknown');
});

test('ipBlock with except, and port ranges', () => {
  const rule = {
    peers: [{ podSelector: null, namespaceSelector: null, ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.1.0/24'] } }],
    ports: [{ protocol: 'TCP' as const, port: 8000, endPort: 8100 }],
  };
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], fromGateway, 8080).admission, 'denies', 'excepted');
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], { ip: '10.244.3.3', pod: null }, 8080).admission, 'admits');
  assert.equal(judgeIngress(target, [policy({ ingress: [rule] })], { ip: '10.244.3.3', pod: null }, 8200).admission, 'denies');
});

test('any admitting policy admits (policies are additive)', () => {
  const allowAll = policy({ name: 'allow-all', ingress: [{ peers: [], ports: [] }] });
  const judgement = judgeIngress(target, [policy(), allowAll], fromGateway, 8080);
  assert.equal(judgement.admission, 'admits');
  assert.deepEqual(judgement.policies.map((entry) => entry.admission), ['denies', 'admits']);
});

test('cidrContains for v4 and v6', () => {
  assert.equal(cidrContains('10.0.0.0/8', '10.1.2.3'), true);
  assert.equal(cidrContains('10.0.0.0/8', '11.1.2.3'), false);
  assert.equal(cidrContains('fd00::/8', 'fd12::1'), true);
  assert.equal(cidrContains('fd00::/8', '10.1.2.3'), false);
  assert.equal(cidrContains('bad', '10.1.2.3'), false);
});
