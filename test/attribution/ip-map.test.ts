import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IpOwnershipMap, type IpOwner } from '../../src/attribution/ip-map';

function pod(name: string, node: string | null = 'node-a'): IpOwner {
  const uid = `uid-${name}`;
  return { kind: 'pod', key: uid, pod: { namespace: 'default', name, uid }, node, service: null };
}

const IP = '10.244.1.7';

describe('IpOwnershipMap', () => {
  it('answers who held an address at a time, before and after reuse', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim(IP, pod('a'), 1_000, 'cni');
    map.release(IP, 'uid-a', 5_000, 'cni');
    map.claim(IP, pod('b'), 6_000, 'cni');
    assert.equal(map.lookup(IP, 999), null, 'before anyone held it');
    assert.equal(map.lookup(IP, 1_000)?.pod?.name, 'a');
    assert.equal(map.lookup(IP, 4_999)?.pod?.name, 'a');
    assert.equal(map.lookup(IP, 5_500), null, 'between the two pods nobody held it');
    assert.equal(map.lookup(IP, 6_000)?.pod?.name, 'b');
    assert.equal(map.lookup(IP, 60_000)?.pod?.name, 'b', 'an open tenure holds until released');
    assert.equal(map.lookup('10.244.1.8', 2_000), null, 'an unknown address has no owner');
  });

  it('a claim by a new owner ends the open tenure of the old one at the new start', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim(IP, pod('a'), 1_000, 'cni');
    map.claim(IP, pod('b'), 3_000, 'cni'); // the release of a was never seen
    assert.deepEqual(
      map.history(IP).map((t) => [t.owner.pod?.name, t.fromMs, t.untilMs]),
      [
        ['a', 1_000, 3_000],
        ['b', 3_000, null],
      ],
    );
    assert.equal(map.lookup(IP, 2_999)?.pod?.name, 'a');
    assert.equal(map.lookup(IP, 3_000)?.pod?.name, 'b');
  });

  it('the lead gives a packet slightly older than the first claim to its owner, but never reaches into the previous tenure', () => {
    const map = new IpOwnershipMap({ leadMs: 5_000 });
    map.claim(IP, pod('a'), 10_000, 'cni');
    assert.equal(map.lookup(IP, 6_000)?.pod?.name, 'a', 'within the lead');
    assert.equal(map.lookup(IP, 4_000), null, 'before the lead');
    map.release(IP, 'uid-a', 20_000, 'cni');
    map.claim(IP, pod('b'), 22_000, 'cni');
    assert.equal(map.lookup(IP, 19_000)?.pod?.name, 'a', 'before a ended');
    assert.equal(map.lookup(IP, 20_500)?.pod?.name, 'b', "in b's lead, after a ended");
  });

  it('the same owner claimed again by another source is one tenure; it ends only when every source released it', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim(IP, pod('a', null), 1_000, 'kubernetes');
    map.claim(IP, pod('a', 'node-a'), 1_200, 'cni');
    assert.equal(map.tenures, 1);
    assert.equal(map.lookup(IP, 1_500)?.node, 'node-a', 'the second source filled in the node');
    map.release(IP, 'uid-a', 2_000, 'cni');
    assert.equal(map.lookup(IP, 3_000)?.pod?.name, 'a', 'kubernetes still claims it');
    map.release(IP, 'uid-a', 4_000, 'kubernetes');
    assert.equal(map.lookup(IP, 4_000), null);
    assert.equal(map.lookup(IP, 3_999)?.pod?.name, 'a');
  });

  it('a release by a source or owner that does not hold the address changes nothing', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim(IP, pod('b'), 1_000, 'cni');
    map.release(IP, 'uid-a', 2_000, 'cni');
    map.release('10.9.9.9', 'uid-b', 2_000, 'cni');
    assert.equal(map.lookup(IP, 3_000)?.pod?.name, 'b');
  });

  it('an owner that comes back before its end was final reopens the same tenure (a re-list after an outage)', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim(IP, pod('a'), 1_000, 'kubernetes');
    map.release(IP, 'uid-a', 5_000, 'kubernetes');
    map.claim(IP, pod('a'), 4_000, 'kubernetes');
    assert.equal(map.tenures, 1);
    assert.equal(map.lookup(IP, 9_000)?.pod?.name, 'a');
  });

  it('releaseAllExcept ends what a resync no longer lists, only for that source', () => {
    const map = new IpOwnershipMap({ leadMs: 0 });
    map.claim('10.0.0.1', pod('a'), 1_000, 'cni');
    map.claim('10.0.0.2', pod('b'), 1_000, 'cni');
    map.claim('10.0.0.3', pod('c'), 1_000, 'kubernetes');
    map.releaseAllExcept('cni', (ip) => ip === '10.0.0.1', 2_000);
    assert.equal(map.lookup('10.0.0.1', 3_000)?.pod?.name, 'a');
    assert.equal(map.lookup('10.0.0.2', 3_000), null);
    assert.equal(map.lookup('10.0.0.3', 3_000)?.pod?.name, 'c');
  });

  it('prune drops tenures that ended before the retention window and keeps open and recent ones', () => {
    const map = new IpOwnershipMap({ retentionMs: 10_000, leadMs: 0 });
    map.claim(IP, pod('a'), 0, 'cni');
    map.release(IP, 'uid-a', 1_000, 'cni');
    map.claim(IP, pod('b'), 2_000, 'cni');
    map.claim('10.0.0.9', pod('c'), 0, 'cni');
    map.release('10.0.0.9', 'uid-c', 5_000, 'cni');
    map.prune(12_000);
    assert.deepEqual(map.history(IP).map((t) => t.owner.pod?.name), ['b'], "a ended 11 s ago: gone");
    assert.equal(map.history('10.0.0.9').length, 1, 'c ended 7 s ago: kept');
    assert.equal(map.tenures, 2);
    map.prune(16_000);
    assert.equal(map.addresses, 1, 'an address with no tenure left is forgotten');
    assert.equal(map.lookup('10.0.0.9', 4_000), null);
  });

  it('an address pruned down to one tenure answers as before, and takes a new owner after it', () => {
    // One tenure is stored without a list around it; these steps cross both forms.
    const map = new IpOwnershipMap({ retentionMs: 10_000, leadMs: 0 });
    map.claim(IP, pod('a'), 0, 'kubernetes');
    map.claim(IP, pod('b'), 1_000, 'kubernetes');
    map.claim(IP, pod('c'), 2_000, 'kubernetes');
    map.prune(12_500);
    assert.deepEqual(map.history(IP).map((t) => [t.owner.pod?.name, t.fromMs, t.untilMs]), [['c', 2_000, null]]);
    assert.equal(map.tenures, 1);
    assert.equal(map.lookup(IP, 1_999), null, "b's tenure is gone");
    assert.equal(map.lookup(IP, 2_000)?.pod?.name, 'c');
    map.release(IP, 'uid-c', 20_000, 'kubernetes');
    assert.equal(map.lookup(IP, 20_000), null);
    map.claim(IP, pod('d'), 21_000, 'kubernetes');
    assert.deepEqual(map.history(IP).map((t) => [t.owner.pod?.name, t.fromMs, t.untilMs]), [['c', 2_000, 20_000], ['d', 21_000, null]]);
    assert.equal(map.lookup(IP, 19_999)?.pod?.name, 'c');
    assert.equal(map.lookup(IP, 20_500), null, 'nobody between the release and the next claim');
    assert.equal(map.lookup(IP, 21_000)?.pod?.name, 'd');
    map.prune(31_000);
    assert.deepEqual(map.history(IP).map((t) => t.owner.pod?.name), ['d']);
    map.release(IP, 'uid-d', 32_000, 'kubernetes');
    map.prune(43_000);
    assert.equal(map.addresses, 0);
    assert.equal(map.tenures, 0);
  });

  it('kinds other than pods: nodes and services', () => {
    const map = new IpOwnershipMap();
    map.claim('10.210.0.11', { kind: 'node', key: 'node/node-a', pod: null, node: 'node-a', service: null }, 0, 'kubernetes');
    map.claim('10.96.0.10', { kind: 'service', key: 'service/kube-system/dns', pod: null, node: null, service: { namespace: 'kube-system', name: 'dns' } }, 0, 'kubernetes');
    assert.equal(map.lookup('10.210.0.11', 1)?.kind, 'node');
    assert.equal(map.lookup('10.96.0.10', 1)?.service?.name, 'dns');
  });

  it('property: a lookup at any time names the owner whose interval holds it, for any sequence of reuses', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 50 }), holdMs: fc.integer({ min: 1, max: 50 }) }), { minLength: 1, maxLength: 12 }), (spans) => {
        const map = new IpOwnershipMap({ leadMs: 0 });
        const truth: Array<{ name: string; fromMs: number; untilMs: number }> = [];
        let t = 0;
        spans.forEach(({ gapMs, holdMs }, index) => {
          t += gapMs;
          const name = `p${index}`;
          map.claim(IP, pod(name), t, 'cni');
          if (index > 0 && gapMs === 0) truth[truth.length - 1].untilMs = t;
          truth.push({ name, fromMs: t, untilMs: t + holdMs });
          t += holdMs;
          map.release(IP, `uid-${name}`, t, 'cni');
        });
        for (let probe = 0; probe <= t + 5; probe++) {
          const expected = truth.find((span) => probe >= span.fromMs && probe < span.untilMs)?.name ?? null;
          assert.equal(map.lookup(IP, probe)?.pod?.name ?? null, expected, `at ${probe}`);
        }
      }),
      { numRuns: 200 },
    );
  });
});
