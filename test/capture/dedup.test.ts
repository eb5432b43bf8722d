import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { DuplicateFilter, ipHeaderOffset, packetIdentity } from '../../src/capture/dedup';
import { buildTcp, type TcpBuildOptions } from '../support/packet-builder';
import { tcpObservation } from '../support/observations';

const rst: TcpBuildOptions = { src: '10.244.2.20', dst: '10.244.1.10', srcPort: 8080, dstPort: 40000, flags: 'RST', seq: 1000, ipId: 7 };
const identity = (options: TcpBuildOptions): number => packetIdentity(buildTcp({ ...options, link: 'raw' }), 0);

test('a forwarded copy (TTL one lower, new checksum) has the same identity; any other change does not', () => {
  assert.equal(identity({ ...rst, ttl: 64 }), identity({ ...rst, ttl: 63 }));
  assert.equal(identity({ ...rst, src: 'fd00::1', dst: 'fd00::2', ttl: 64 }), identity({ ...rst, src: 'fd00::1', dst: 'fd00::2', ttl: 63 }));
  assert.notEqual(identity(rst), identity({ ...rst, seq: 1001 }));
  assert.notEqual(identity(rst), identity({ ...rst, ipId: 8 }));
  assert.notEqual(identity(rst), identity({ ...rst, srcPort: 8081 }));
  assert.notEqual(identity(rst), identity({ ...rst, flags: ['RST', 'ACK'] }));
});

test('identities of distinct packets do not collide (property)', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 2, maxLength: 200 }), (seqs) => {
      const ids = new Set(seqs.map((seq) => identity({ ...rst, seq })));
      return ids.size === seqs.length;
    }),
    { numRuns: 200 },
  );
});

test('not IP, or too short: no identity', () => {
  assert.equal(packetIdentity(Uint8Array.from([0x10, 0, 0]), 0), -1);
  assert.equal(packetIdentity(new Uint8Array(0), 0), -1);
  assert.equal(ipHeaderOffset(0x0806, new Uint8Array(28)), -1);
  assert.equal(ipHeaderOffset(0x8100, Uint8Array.from([0, 5, 0x08, 0x00])), 4);
  assert.equal(ipHeaderOffset(0x8100, Uint8Array.from([9, 9, 0, 5, 0x08, 0x00]), 2), 6);
});

test('the first copy is kept and raised to the highest TTL; a repeat after the window is new', () => {
  const filter = new DuplicateFilter(50);
  const id = identity(rst);
  const uplink = tcpObservation({ ...rst, ttl: 63 }, 1_000, { pktType: 4 });
  assert.equal(filter.duplicateOf(id, 1_000, 63), null);
  filter.remember(id, uplink);
  assert.equal(filter.duplicateOf(id, 1_000.2, 64), uplink);
  assert.equal(uplink.packet.ip.ttl, 64);
  assert.equal(filter.duplicateOf(id, 1_100, 64), null);
});

test('old entries are expired so memory stays bounded', () => {
  const filter = new DuplicateFilter(10);
  for (let i = 0; i < 5_000; i++) filter.remember(i, tcpObservation({ ...rst, seq: i }, i));
  filter.duplicateOf(-5, 5_000, 64);
  const size = (filter as unknown as { recent: Map<number, unknown> }).recent.size;
  assert.ok(size <= 11, `expected only the last window's entries, got ${size}`);
});
