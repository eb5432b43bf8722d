import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aboutScenario, matchesScenario, PODS, SCENARIOS, UPSTREAM_NODE } from '../../src/demo/scenarios';
import type { Finding, PmtuFinding, ResetFinding } from '../../src/protocol/finding';

/** The demo's scenario table is what the lab test and the demo's summary judge by: pin its rules. */
const endpoint = (ip: string, port: number): ResetFinding['src'] => ({ ip, port, kind: 'pod', pod: null, node: null, process: null });

function reset(overrides: Partial<ResetFinding>): ResetFinding {
  return {
    kind: 'reset',
    id: 'x',
    node: 'gateway-node',
    time: '2026-11-24T00:00:00.000Z',
    lastSeen: '2026-11-24T00:00:00.000Z',
    count: 1,
    src: endpoint(PODS.reviews.ip, 9999),
    dst: endpoint(PODS.gateway.ip, 40000),
    sentBy: 'endpoint',
    cause: 'not-listening',
    kernelReason: 'NO_SOCKET',
    state: null,
    ttl: 62,
    expectedTtl: 62,
    idleMs: 0,
    evidence: ['RST answered a SYN'],
    advice: 'listen on it',
    ...overrides,
  };
}

const pmtu = (overrides: Partial<PmtuFinding>): Finding =>
  ({
    kind: 'pmtu',
    id: 'p',
    node: 'gateway-node',
    time: '2026-11-24T00:00:00.000Z',
    lastSeen: '2026-11-24T00:00:00.000Z',
    count: 1,
    from: { node: 'gateway-node', ip: '10.210.0.11' },
    to: { ip: UPSTREAM_NODE.underlayIp, node: null, pod: null },
    pmtu: 1400,
    localMtu: 1500,
    mismatch: true,
    blackHole: true,
    icmpSeen: false,
    probes: 11,
    durationMs: 180,
    advice: 'lower it',
    ...overrides,
  }) as Finding;

const byId = (id: string) => SCENARIOS.find((scenario) => scenario.id === id)!;

describe('demo scenarios', () => {
  test('cover all six failure modes, each with its own upstream address and port', () => {
    assert.deepEqual([...new Set(SCENARIOS.map((s) => s.mode))].sort(), [1, 2, 3, 4, 5, 6]);
    const keys = SCENARIOS.map((s) => `${s.upstreamIp}:${s.port}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  test('a reset matches only with the expected sender address, port, cause and sentBy', () => {
    const notListening = byId('not-listening');
    assert.equal(matchesScenario(notListening, reset({})), true);
    assert.equal(matchesScenario(notListening, reset({ cause: 'no-connection' })), false);
    assert.equal(matchesScenario(notListening, reset({ sentBy: 'middlebox' })), false);
    assert.equal(matchesScenario(notListening, reset({ src: endpoint(PODS.reviews.ip, 9998) })), false);
    assert.equal(aboutScenario(notListening, reset({ cause: 'unknown' })), true, 'a wrong verdict is still about the scenario');
  });

  test('the silent drop wants a syn-timeout from the silent server, whatever its cause', () => {
    const drop = byId('silent-drop');
    const synTimeout = reset({ kind: 'syn-timeout', src: endpoint(PODS.productpage.ip, 8082), cause: 'unknown', sentBy: 'unknown' });
    assert.equal(matchesScenario(drop, synTimeout), true);
    assert.equal(matchesScenario(drop, { ...synTimeout, kind: 'reset' }), false);
  });

  test('the MTU scenario wants the exact path MTU and a black hole towards the upstream node', () => {
    const mtu = byId('mtu');
    assert.equal(matchesScenario(mtu, pmtu({})), true);
    assert.equal(matchesScenario(mtu, pmtu({ pmtu: 1500 })), false);
    assert.equal(matchesScenario(mtu, pmtu({ blackHole: false })), false);
    assert.equal(matchesScenario(mtu, pmtu({ to: { ip: '10.210.0.99', node: null, pod: null } })), false);
    assert.equal(matchesScenario(byId('crash'), pmtu({})), false);
  });
});
