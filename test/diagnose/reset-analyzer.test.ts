import assert from 'node:assert/strict';
import test from 'node:test';
import type { Attributor } from '../../src/attribution/attributor';
import { RouteTable } from '../../src/attribution/routes';
import type { KernelResetRecord } from '../../src/diagnose/kernel-join';
import { ResetAnalyzer } from '../../src/diagnose/reset-analyzer';
import type { Endpoint, ResetFinding } from '../../src/protocol/finding';
import { tcpObservation } from '../support/observations';

const GATEWAY = '10.244.1.10';
const UPSTREAM = '10.244.2.20';
const client = { src: GATEWAY, dst: UPSTREAM, srcPort: 40000, dstPort: 8080 };
const server = { src: UPSTREAM, dst: GATEWAY, srcPort: 8080, dstPort: 40000 };

function harness(options: { kernelEvents?: boolean; local?: string[]; routes?: RouteTable | null; maxPending?: number } = {}) {
  const findings: Array<{ finding: ResetFinding; update: boolean }> = [];
  const local = new Set(options.local ?? []);
  const attributor: Attributor = {
    endpoint: (ip, port): Endpoint => ({ ip, port, kind: local.has(ip) ? 'pod' : 'external', pod: null, node: null, process: null }),
    isOnThisKernel: (ip) => local.has(ip),
  };
  const analyzer = new ResetAnalyzer({
    nodeName: 'node-b',
    attributor,
    routes: () => options.routes ?? null,
    kernelEventsActive: () => options.kernelEvents ?? true,
    joinDelayMs: options.maxPending === undefined ? 0 : 60_000,
    maxPending: options.maxPending,
    onFinding: (finding, update) => findings.push({ finding, update }),
  });
  return { analyzer, findings };
}

function sendEvent(timeMs: number, reason: string, extra: Partial<KernelResetRecord> = {}): KernelResetRecord {
  return {
    direction: 'send',
    timeMs,
    src: { ip: UPSTREAM, port: 8080 },
    dst: { ip: GATEWAY, port: 40000 },
    state: null,
    reason,
    process: null,
    ...extra,
  };
}

test('a RST answering a SYN, joined with its NO_SOCKET event, is not-listening and sent by the endpoint', () => {
  const { analyzer, findings } = harness({ local: [UPSTREAM] });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 5000, ttl: 63 }, now));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 5001, ttl: 64 }, now + 1));
  assert.equal(findings.length, 0, 'waits for the kernel event');
  analyzer.addKernelEvent(sendEvent(now + 1.2, 'NO_SOCKET'));
  assert.equal(findings.length, 1);
  const { finding } = findings[0];
  assert.equal(finding.cause, 'not-listening');
  assert.equal(finding.sentBy, 'endpoint');
  assert.equal(finding.kernelReason, 'NO_SOCKET');
  assert.equal(finding.evidence[0], 'RST answered a SYN');
  assert.equal(finding.src.ip, UPSTREAM);
  assert.equal(finding.src.port, 8080);
  assert.equal(finding.ttl, 64);
  assert.match(finding.advice, /targetPort/);
});

test('the kernel event may come first', () => {
  const { analyzer, findings } = harness({ local: [UPSTREAM] });
  const now = Date.now();
  analyzer.addKernelEvent(sendEvent(now, 'TCP_ABORT_ON_CLOSE', { state: 'TCP_CLOSE', process: { pid: 4242, comm: 'node' } }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 77, ack: 88 }, now + 0.5));
  assert.equal(findings.length, 1);
  const { finding } = findings[0];
  assert.equal(finding.cause, 'abort-on-close');
  assert.equal(finding.state, 'TCP_CLOSE');
  assert.deepEqual(finding.src.process, { pid: 4242, comm: 'node' });
  assert.ok(finding.evidence.some((line) => line.includes('pid 4242')));
});

test('a RST claiming a sender on this kernel with no kernel event is forged: middlebox', () => {
  const { analyzer, findings } = harness({ local: [UPSTREAM] });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 1 }, now));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 2 }, now + 1));
  analyzer.tick(now + 10_000);
  assert.equal(findings.length, 1);
  assert.equal(findings[0].finding.sentBy, 'middlebox');
  assert.equal(findings[0].finding.cause, 'middlebox');
  assert.equal(findings[0].finding.kernelReason, null);
  assert.equal(findings[0].finding.evidence[0], 'RST answered a SYN');
});

test('a RST whose TTL differs from the sender baseline is a middlebox, with the hop difference', () => {
  const { analyzer, findings } = harness({ kernelEvents: false });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 1, ttl: 64 }, now));
  analyzer.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 10, ack: 2, ttl: 61 }, now + 1));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 11, ttl: 63 }, now + 2));
  assert.equal(findings.length, 1);
  const { finding } = findings[0];
  assert.equal(finding.sentBy, 'middlebox');
  assert.equal(finding.expectedTtl, 61);
  assert.ok(finding.evidence.some((line) => line.includes('2 hops nearer')), finding.evidence.join('|'));
});

test('a RST arriving with an unspent TTL from a sender behind a router is a middlebox', () => {
  const routes = new RouteTable([
    { family: 4, prefix: 0n, prefixBits: 0, gateway: '10.210.0.1', ifname: 'eth0' },
  ]);
  const { analyzer, findings } = harness({ kernelEvents: false, routes });
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 2, ttl: 64 }, Date.now()));
  assert.equal(findings[0].finding.sentBy, 'middlebox');
});

test('without a kernel event, a matching TTL or any proof, the sender stays unknown', () => {
  const { analyzer, findings } = harness({ kernelEvents: false });
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 5, ttl: 60 }, Date.now()));
  assert.equal(findings[0].finding.sentBy, 'unknown');
  assert.equal(findings[0].finding.cause, 'unknown');
});

test('identical resets roll up into one finding whose count and lastSeen grow', () => {
  const { analyzer, findings } = harness({ kernelEvents: false });
  const start = Date.now();
  for (let i = 0; i < 5; i++) {
    const port = 41000 + i;
    analyzer.observe(tcpObservation({ ...client, srcPort: port, flags: 'SYN', seq: 100 }, start + i * 10));
    analyzer.observe(tcpObservation({ ...server, dstPort: port, flags: ['RST', 'ACK'], seq: 0, ack: 101 }, start + i * 10 + 1));
  }
  assert.equal(findings.length, 1);
  analyzer.tick(start + 100);
  assert.equal(findings.length, 2);
  assert.equal(findings[1].update, true);
  assert.equal(findings[1].finding.id, findings[0].finding.id);
  assert.equal(findings[1].finding.count, 5);
  assert.equal(findings[1].finding.lastSeen, new Date(start + 41).toISOString());
});

test('the rollup never hides a new cause or a new sender', () => {
  const { analyzer, findings } = harness({ local: [UPSTREAM] });
  const now = Date.now();
  analyzer.addKernelEvent(sendEvent(now, 'TCP_ABORT_ON_CLOSE'));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 7 }, now));
  analyzer.addKernelEvent(sendEvent(now + 5, 'TCP_TIMEWAIT_SOCKET', { state: 'TCP_TIME_WAIT' }));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 9 }, now + 5));
  analyzer.addKernelEvent({ ...sendEvent(now + 6, 'TCP_ABORT_ON_CLOSE'), src: { ip: '10.244.2.21', port: 8080 } });
  analyzer.observe(tcpObservation({ ...server, src: '10.244.2.21', flags: ['RST', 'ACK'], seq: 7 }, now + 6));
  assert.deepEqual(
    findings.map(({ finding }) => `${finding.src.ip} ${finding.cause}`),
    [`${UPSTREAM} abort-on-close`, `${UPSTREAM} keepalive-race`, '10.244.2.21 abort-on-close'],
  );
});

test('idle time before the reset is measured from the flow', () => {
  const { analyzer, findings } = harness({ kernelEvents: false });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 1 }, now));
  analyzer.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 10, ack: 2 }, now + 1));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 11 }, now + 5_001));
  assert.equal(findings[0].finding.idleMs, 5_000);
});

test('in a storm, RSTs waiting for kernel events are bounded: the oldest are judged at once and counted', () => {
  const { analyzer, findings } = harness({ maxPending: 3 });
  const now = Date.now();
  for (let i = 0; i < 5; i++) analyzer.observe(tcpObservation({ ...server, dstPort: 42000 + i, flags: 'RST', seq: i }, now + i));
  assert.equal(analyzer.counters.pendingOverflow, 2);
  assert.equal(analyzer.counters.unjoined, 2);
  assert.equal(findings.length, 1, 'the two judged early roll up into one finding');
  analyzer.addKernelEvent({ ...sendEvent(now + 4, 'NO_SOCKET'), dst: { ip: GATEWAY, port: 42004 } });
  assert.equal(analyzer.counters.joined, 1, 'a waiting RST still joins its event');
  analyzer.tick(now, true);
  assert.equal(analyzer.counters.resets, 5);
  assert.equal(analyzer.counters.joined + analyzer.counters.unjoined, 5);
});

test('storm counts join the finding of their class, even when its analysed RST is still waiting', () => {
  const { analyzer, findings } = harness({ maxPending: 100 });
  const now = Date.now();
  const observation = tcpObservation({ ...server, flags: 'RST', seq: 1 }, now);
  observation.stormClass = 77;
  analyzer.observe(observation);
  analyzer.addCountedResets(77, 500, now, now + 1_000);
  assert.equal(findings.length, 0);
  analyzer.tick(now, true);
  analyzer.tick(now + 1);
  const latest = findings[findings.length - 1].finding;
  assert.equal(latest.count, 501);
  assert.ok(latest.evidence.some((line) => /storm: 500 more RSTs .* at about 500\/s/.test(line)), latest.evidence.join(' | '));
  analyzer.addCountedResets(77, 10, now + 1_000, now + 1_010);
  analyzer.tick(now + 2);
  const updated = findings[findings.length - 1].finding;
  assert.equal(updated.count, 511);
  assert.equal(updated.evidence.filter((line) => line.startsWith('storm:')).length, 1, 'one storm line, updated in place');
  assert.equal(analyzer.counters.resets, 511);
});
