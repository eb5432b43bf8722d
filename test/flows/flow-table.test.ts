import assert from 'node:assert/strict';
import test from 'node:test';
import { FlowTable } from '../../src/flows/flow-table';
import { tcpObservation } from '../support/observations';

const client = { src: '10.244.1.10', dst: '10.244.2.20', srcPort: 40000, dstPort: 8080 };
const server = { src: '10.244.2.20', dst: '10.244.1.10', srcPort: 8080, dstPort: 40000 };

test('tracks the handshake, FIN and TTL of each side', () => {
  const table = new FlowTable();
  table.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100, mss: 1460, ttl: 62 }, 1_000));
  table.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 900, ack: 101, ttl: 63 }, 1_001));
  table.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'], seq: 901, ack: 101, ttl: 63 }, 6_000));
  const view = table.snapshot({ ip: server.src, port: server.srcPort }, { ip: client.src, port: client.srcPort });
  assert.ok(view !== null);
  assert.deepEqual(view.flow.client, { ip: client.src, port: client.srcPort });
  assert.equal(view.receiver?.synSeq, 100);
  assert.equal(view.receiver?.mss, 1460);
  assert.equal(view.receiver?.ttl, 62);
  assert.equal(view.sender?.synAck, true);
  assert.equal(view.sender?.finMs, 6_000);
  assert.equal(view.sender?.packets, 2);
});

test('a snapshot gives sequence numbers past 2^31 unsigned, as on the wire', () => {
  const table = new FlowTable();
  table.observe(tcpObservation({ ...client, flags: 'SYN', seq: 0xffff_fffe }, 1_000));
  table.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 0x8000_0000, ack: 0xffff_ffff }, 1_001));
  const view = table.snapshot({ ip: client.src, port: client.srcPort }, { ip: server.src, port: server.srcPort });
  assert.equal(view?.sender?.synSeq, 0xffff_fffe);
  assert.equal(view?.receiver?.synSeq, 0x8000_0000);
});

test('a snapshot does not change when the table moves on', () => {
  const table = new FlowTable();
  table.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100 }, 1_000));
  const view = table.snapshot({ ip: client.src, port: client.srcPort }, { ip: server.src, port: server.srcPort });
  table.observe(tcpObservation({ ...client, flags: 'ACK', seq: 101 }, 2_000));
  assert.equal(view?.sender?.lastSeenMs, 1_000);
});

test('memory is bounded: past the cap the least recently active flow is evicted and counted', () => {
  const table = new FlowTable(100);
  for (let port = 1; port <= 150; port++) table.observe(tcpObservation({ ...client, srcPort: port, flags: 'SYN' }, port));
  assert.equal(table.size, 100);
  assert.equal(table.evicted, 50);
  assert.equal(table.snapshot({ ip: client.src, port: 1 }, { ip: server.src, port: 8080 }), null);
  assert.notEqual(table.snapshot({ ip: client.src, port: 150 }, { ip: server.src, port: 8080 }), null);
});

test('flows idle past the expiry are dropped', () => {
  const table = new FlowTable(100, 1_000);
  table.observe(tcpObservation({ ...client, flags: 'SYN' }, 0));
  table.observe(tcpObservation({ ...client, srcPort: 2, flags: 'SYN' }, 5_000));
  table.expire(5_500);
  assert.equal(table.size, 1);
});

test('an active flow survives eviction (second chance) while idle ones go', () => {
  const table = new FlowTable(3);
  for (let port = 1; port <= 3; port++) table.observe(tcpObservation({ ...client, srcPort: port, flags: 'SYN' }, port));
  table.observe(tcpObservation({ ...client, srcPort: 4, flags: 'SYN' }, 4)); // all touched: the hand clears 1, 2, 3 and evicts 1
  table.observe(tcpObservation({ ...client, srcPort: 2, flags: 'ACK' }, 5)); // 2 is active again
  table.observe(tcpObservation({ ...client, srcPort: 5, flags: 'SYN' }, 6));
  assert.equal(table.evicted, 2);
  assert.notEqual(table.snapshot({ ip: client.src, port: 2 }, { ip: server.src, port: 8080 }), null, 'the active flow stayed');
  assert.equal(table.snapshot({ ip: client.src, port: 3 }, { ip: server.src, port: 8080 }), null, 'the idle one went');
});

test('closed flows expire sooner than open ones', () => {
  const table = new FlowTable(100, 60_000, 1_000);
  table.observe(tcpObservation({ ...client, flags: ['FIN', 'ACK'] }, 0));
  table.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'] }, 1));
  table.observe(tcpObservation({ ...client, srcPort: 2, flags: 'ACK' }, 1));
  table.expire(10_000);
  assert.equal(table.size, 1, 'the FIN/FIN flow went, the open one stayed');
});

test('flows that share their ports but not their addresses stay apart', () => {
  const table = new FlowTable();
  table.observe(tcpObservation({ ...client, flags: 'SYN', ttl: 60 }, 1));
  table.observe(tcpObservation({ ...client, src: '10.244.1.11', flags: 'SYN', ttl: 50 }, 2));
  table.observe(tcpObservation({ ...server, dst: '10.244.1.11', flags: ['SYN', 'ACK'], ttl: 40 }, 3));
  const first = table.snapshot({ ip: server.src, port: 8080 }, { ip: client.src, port: client.srcPort });
  const second = table.snapshot({ ip: server.src, port: 8080 }, { ip: '10.244.1.11', port: client.srcPort });
  assert.equal(first?.receiver?.ttl, 60);
  assert.equal(first?.sender, null, 'the SYN-ACK went to the other client');
  assert.equal(second?.receiver?.ttl, 50);
  assert.equal(second?.sender?.ttl, 40);
});

test('the silence before a FIN and before the burst that ends a flow are measured; snapshots give epoch ms', () => {
  const table = new FlowTable();
  const t0 = 1_764_000_000_000.25;
  table.observe(tcpObservation({ ...client, flags: 'SYN' }, t0));
  table.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'] }, t0 + 1));
  table.observe(tcpObservation({ ...server, flags: ['PSH', 'ACK'], payload: new Uint8Array(10) }, t0 + 10));
  table.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'] }, t0 + 4_010));
  table.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], payload: new Uint8Array(10) }, t0 + 4_012));
  const view = table.snapshot({ ip: server.src, port: 8080 }, { ip: client.src, port: client.srcPort });
  assert.equal(view?.sender?.idleBeforeFinMs, 4_000);
  assert.equal(view?.flow.gapBeforeBurstMs, 4_000);
  assert.equal(view?.sender?.finMs, Math.floor(t0) + 4_010);
  assert.equal(view?.receiver?.lastPayloadMs, Math.floor(t0) + 4_012);
  assert.equal(view?.flow.closed, false);
});

test('a flood from many addresses with one source port does not degrade lookups', () => {
  const table = new FlowTable();
  const started = process.hrtime.bigint();
  for (let i = 0; i < 20_000; i++) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    table.observe(tcpObservation({ ...client, src, srcPort: 1234, flags: 'SYN' }, i));
  }
  // With all 20,000 flows in one bucket this would be 2·10^8 comparisons; hashed, it is about one per packet.
  for (let i = 0; i < 20_000; i += 97) {
    const src = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    assert.notEqual(table.snapshot({ ip: src, port: 1234 }, { ip: client.dst, port: 8080 }), null);
  }
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(table.size, 20_000);
  assert.ok(elapsedMs < 5_000, `${elapsedMs.toFixed(0)} ms`);
});

test('lookups stay exact while the table grows its buckets and flows leave it', () => {
  const table = new FlowTable(5_000, 4_000);
  // 3,000 flows: the buckets double several times on the way.
  for (let i = 0; i < 3_000; i++) {
    const src = `10.1.${i >> 8}.${i & 255}`;
    table.observe(tcpObservation({ ...client, src, srcPort: 1_000 + (i % 7), flags: 'SYN' }, 0));
  }
  assert.equal(table.size, 3_000);
  for (let i = 0; i < 3_000; i++) {
    const src = `10.1.${i >> 8}.${i & 255}`;
    const view = table.snapshot({ ip: client.dst, port: 8080 }, { ip: src, port: 1_000 + (i % 7) });
    assert.equal(view?.receiver?.address.ip, src, src);
    assert.equal(view?.sender, null);
    assert.equal(table.snapshot({ ip: src, port: 1_000 + ((i + 1) % 7) }, { ip: client.dst, port: 8080 }), null);
  }
  // Every other flow is answered (two sides), then the unanswered ones expire.
  for (let i = 0; i < 3_000; i += 2) {
    const src = `10.1.${i >> 8}.${i & 255}`;
    table.observe(tcpObservation({ ...server, dst: src, dstPort: 1_000 + (i % 7), flags: ['SYN', 'ACK'] }, 3_000));
  }
  table.expire(6_000);
  assert.equal(table.size, 1_500);
  for (let i = 0; i < 3_000; i++) {
    const src = `10.1.${i >> 8}.${i & 255}`;
    const view = table.snapshot({ ip: src, port: 1_000 + (i % 7) }, { ip: client.dst, port: 8080 });
    if (i % 2 === 1) {
      assert.equal(view, null, src);
    } else {
      assert.equal(view?.flow.sides.length, 2);
      assert.equal(view?.receiver?.synAck, true);
      assert.deepEqual(view?.flow.client, { ip: src, port: 1_000 + (i % 7) });
    }
  }
});
