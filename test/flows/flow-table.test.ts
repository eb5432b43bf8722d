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
