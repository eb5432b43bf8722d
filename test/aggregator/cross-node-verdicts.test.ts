import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AgentDirectory } from '../../src/aggregator/agent-directory';
import { CrossNodeVerdicts } from '../../src/aggregator/cross-node';
import type { Finding, ResetFinding } from '../../src/protocol/finding';
import { endpoint, resetFinding } from './fixtures';

/**
 * CrossNodeVerdicts on its own (the aggregator's integration tests drive it over real
 * WebSockets): sender sightings keep only ids, and the sender's finding is read back
 * through the lookup when a receiver matches.
 */
describe('CrossNodeVerdicts', () => {
  const T0 = Date.parse('2026-11-25T10:00:00.000Z');
  const at = (ms: number) => new Date(T0 + ms).toISOString();

  function receiverOf(srcPort: number, timeMs: number, overrides: Partial<ResetFinding> = {}): ResetFinding {
    return resetFinding({ node: 'node-a', time: at(timeMs), lastSeen: at(timeMs), src: endpoint('10.244.2.20', srcPort), dst: endpoint('10.244.1.10', 40_000), sentBy: 'unknown', cause: 'unknown', kernelReason: null, ...overrides });
  }

  function senderOf(srcPort: number, timeMs: number): ResetFinding {
    return resetFinding({
      node: 'node-b',
      time: at(timeMs),
      lastSeen: at(timeMs),
      src: { ...endpoint('10.244.2.20', srcPort, { namespace: 'shop', name: 'reviews-0' }, 'node-b'), process: { pid: 4242, comm: 'reviews' } },
      dst: endpoint('10.244.1.10', 40_000),
      sentBy: 'endpoint',
      cause: 'not-listening',
      kernelReason: 'NO_SOCKET',
      advice: 'Nothing listens on the port.',
    });
  }

  function verdicts(stored: Map<string, Finding>, lookups: string[] = []) {
    const agents = new AgentDirectory();
    agents.connected('node-a', true, [], T0 - 60_000);
    agents.connected('node-b', true, [], T0 - 60_000);
    return new CrossNodeVerdicts(agents, null, 1_000, (id) => {
      lookups.push(id);
      return stored.get(id) ?? null;
    });
  }

  test("a receiver matching a remembered sender is confirmed with the sender's finding, read from the store", () => {
    const stored = new Map<string, Finding>();
    const lookups: string[] = [];
    const cross = verdicts(stored, lookups);
    const sender = senderOf(8080, 0);
    stored.set(sender.id, sender);
    assert.deepEqual(cross.observe(sender, false, T0), []);
    const [decision] = cross.observe(receiverOf(8080, 500), false, T0 + 500);
    assert.equal(decision.verdict, 'confirmed-endpoint');
    assert.deepEqual(lookups, [sender.id]);
    assert.equal(decision.patch.kernelReason, 'NO_SOCKET');
    assert.equal(decision.patch.cause, 'not-listening');
    assert.equal(decision.patch.src?.pod?.name, 'reviews-0');
    assert.equal(decision.patch.src?.process?.comm, 'reviews');
    assert.ok(decision.patch.evidence?.some((line) => line.includes(sender.id)));
  });

  test('no confirmation from a sender outside the match window, or whose finding is no longer stored', () => {
    const stored = new Map<string, Finding>();
    const cross = verdicts(stored);
    const late = senderOf(8081, 0);
    stored.set(late.id, late);
    cross.observe(late, false, T0);
    assert.deepEqual(cross.observe(receiverOf(8081, 5_000), false, T0 + 5_000), []);
    const gone = senderOf(8082, 0);
    cross.observe(gone, false, T0);
    assert.deepEqual(cross.observe(receiverOf(8082, 100), false, T0 + 100), []);
  });

  test('sightings are forgotten a minute on; fresher ones of the same key stay', () => {
    const stored = new Map<string, Finding>();
    const cross = verdicts(stored);
    const old = senderOf(9000, 0);
    const fresh = senderOf(9001, 50_000);
    stored.set(old.id, old);
    stored.set(fresh.id, fresh);
    cross.observe(old, false, T0);
    cross.observe(fresh, false, T0 + 50_000);
    cross.tick(T0 + 61_000);
    // A receiver of the old reset, arriving late (its agent was away), finds nothing any more.
    assert.deepEqual(cross.observe(receiverOf(9000, 0), false, T0 + 61_000), []);
    assert.equal(cross.observe(receiverOf(9001, 50_100), false, T0 + 61_000)[0]?.verdict, 'confirmed-endpoint');
  });

  test("a receiver seen alone while the sender's agent watched kernel events is a middlebox after the grace window", () => {
    const cross = verdicts(new Map());
    const receiver = receiverOf(7000, 0, { src: endpoint('10.244.2.20', 7000, null, 'node-b') });
    assert.deepEqual(cross.observe(receiver, false, T0), []);
    assert.deepEqual(cross.tick(T0 + 500), [], 'still within the grace window');
    const [decision] = cross.tick(T0 + 1_500);
    assert.equal(decision.verdict, 'middlebox');
    assert.equal(decision.patch.sentBy, 'middlebox');
  });
});
