import assert from 'node:assert/strict';
import test from 'node:test';
import { DuplicateFilter } from '../../src/capture/dedup';
import { tcpObservation } from '../support/observations';

const rst = { src: '10.244.2.20', dst: '10.244.1.10', srcPort: 8080, dstPort: 40000, flags: 'RST' as const, seq: 1000, ipId: 7 };

test('a forwarded copy with its TTL one lower is the same packet, and the higher TTL is kept', () => {
  const filter = new DuplicateFilter(50);
  const uplink = tcpObservation({ ...rst, ttl: 63 }, 1_000, { pktType: 4 });
  const veth = tcpObservation({ ...rst, ttl: 64 }, 1_000.2, { pktType: 0 });
  assert.equal(filter.accept(uplink), true);
  assert.equal(filter.accept(veth), false);
  assert.equal(uplink.packet.ip.ttl, 64);
});

test('loopback copies (outgoing and incoming, same TTL) count once', () => {
  const filter = new DuplicateFilter(50);
  assert.equal(filter.accept(tcpObservation({ ...rst, ttl: 64 }, 5_000, { pktType: 4 })), true);
  assert.equal(filter.accept(tcpObservation({ ...rst, ttl: 64 }, 5_000.01, { pktType: 0 })), false);
});

test('two different resets are both kept, and a repeat after the window is a new packet', () => {
  const filter = new DuplicateFilter(50);
  assert.equal(filter.accept(tcpObservation({ ...rst, ttl: 64 }, 1_000)), true);
  assert.equal(filter.accept(tcpObservation({ ...rst, seq: 2000, ttl: 64 }, 1_001)), true);
  assert.equal(filter.accept(tcpObservation({ ...rst, ttl: 64 }, 1_100)), true);
});

test('old entries are expired so memory stays bounded', () => {
  const filter = new DuplicateFilter(10);
  for (let i = 0; i < 5_000; i++) filter.accept(tcpObservation({ ...rst, seq: i, ttl: 64 }, i));
  const size = (filter as unknown as { recent: Map<string, unknown> }).recent.size;
  assert.ok(size < 100, `expected a handful of live entries, got ${size}`);
});
