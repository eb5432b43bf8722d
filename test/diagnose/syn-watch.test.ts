import assert from 'node:assert/strict';
import test from 'node:test';
import { SynWatch } from '../../src/diagnose/syn-watch';
import { FlowTable } from '../../src/flows/flow-table';
import { tcpObservation } from '../support/observations';

const client = { src: '10.244.1.10', dst: '10.244.2.20', srcPort: 40000, dstPort: 8080 };
function feed(watch: SynWatch, flows: FlowTable, options: Parameters<typeof tcpObservation>[0], timeMs: number): void {
  const observation = tcpObservation(options, timeMs);
  const flow = flows.observe(observation);
  if (flow !== null) watch.observeSyn(observation, flow);
}

test('a single unanswered SYN is not reported (no retransmission), and is forgotten', () => {
  const watch = new SynWatch(3_000);
  const flows = new FlowTable();
  feed(watch, flows, { ...client, flags: 'SYN' }, 0);
  assert.deepEqual(watch.expire(3_500), []);
  assert.deepEqual(watch.expire(20_000), []);
  assert.equal(watch.size, 0);
});

test('a completed handshake the capture only half saw (client ACKs) is answered', () => {
  const watch = new SynWatch(3_000);
  const flows = new FlowTable();
  feed(watch, flows, { ...client, flags: 'SYN' }, 0);
  feed(watch, flows, { ...client, flags: 'SYN' }, 1_000);
  feed(watch, flows, { ...client, flags: 'ACK' }, 1_100);
  assert.deepEqual(watch.expire(5_000), []);
  assert.equal(watch.size, 0);
});

test('a SYN flood cannot grow the watch past its bound; evictions are counted', () => {
  const watch = new SynWatch(3_000, 100);
  const flows = new FlowTable();
  for (let port = 1; port <= 250; port++) feed(watch, flows, { ...client, srcPort: port, flags: 'SYN' }, port);
  assert.equal(watch.size, 100);
  assert.equal(watch.evicted, 150);
});

test('a flow the table evicted cannot be judged and is dropped, not reported', () => {
  const watch = new SynWatch(3_000);
  const flows = new FlowTable(1);
  feed(watch, flows, { ...client, flags: 'SYN' }, 0);
  feed(watch, flows, { ...client, flags: 'SYN' }, 1_000);
  feed(watch, flows, { ...client, srcPort: 1, dstPort: 9, flags: 'ACK' }, 1_001); // pushes the watched flow out
  assert.deepEqual(watch.expire(4_000), []);
});
