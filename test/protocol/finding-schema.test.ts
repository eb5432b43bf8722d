/**
 * The finding schema the aggregator and the agent's client validate with must
 * accept every finding the producers make, optional fields included.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { validateFinding } from '../../src/protocol/messages';
import type { PmtuFinding } from '../../src/protocol/finding';

const pmtu: PmtuFinding = {
  kind: 'pmtu',
  id: 'pmtu-1',
  node: 'node-a',
  time: '2026-11-24T10:00:00.000Z',
  lastSeen: '2026-11-24T10:00:00.000Z',
  count: 1,
  from: { node: 'node-a', ip: '10.210.0.11' },
  to: { ip: '10.210.0.12', node: 'node-b', pod: null },
  pmtu: 1400,
  localMtu: 1500,
  mismatch: true,
  blackHole: false,
  icmpSeen: true,
  probes: 11,
  durationMs: 40,
  advice: 'Set the pod MTU to 1400.',
};

test('a pmtu finding validates with and without its optional passive evidence', () => {
  assert.equal(validateFinding(pmtu), null);
  assert.equal(validateFinding({ ...pmtu, evidence: ['ICMP frag-needed announcing MTU 1400 seen from 10.210.0.1'] }), null);
});

test('a pmtu finding with an unknown field or a wrong evidence type is refused with a reason', () => {
  assert.match(validateFinding({ ...pmtu, surprise: 1 }) ?? '', /.+/);
  assert.match(validateFinding({ ...pmtu, evidence: 'not a list' }) ?? '', /.+/);
});
