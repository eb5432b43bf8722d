import assert from 'node:assert/strict';
import test from 'node:test';
import type { Attributor } from '../../src/attribution/attributor';
import type { DiagnosisSources } from '../../src/diagnose/fact-gatherer';
import type { FlowDetail } from '../../src/diagnose/idle';
import type { KernelResetRecord } from '../../src/diagnose/kernel-join';
import { ResetAnalyzer } from '../../src/diagnose/reset-analyzer';
import type { Endpoint, ResetFinding } from '../../src/protocol/finding';
import { tcpObservation } from '../support/observations';
import { clusterOf, container, pod, policy, service } from './records';

/**
 * Each cause of issue 4 through the analyzer as the agent composes it: packets of
 * a flow, the kernel event, and cluster/process facts from record fakes.
 */
const GATEWAY = '10.244.1.10';
const UPSTREAM = '10.244.2.20';
const client = { src: GATEWAY, dst: UPSTREAM, srcPort: 40000, dstPort: 8080 };
const server = { src: UPSTREAM, dst: GATEWAY, srcPort: 8080, dstPort: 40000 };
const payload = new Uint8Array(100);

function harness(options: { sources?: DiagnosisSources; kernelEvents?: boolean; local?: string[]; detail?: FlowDetail } = {}) {
  const findings: ResetFinding[] = [];
  const local = new Set(options.local ?? [UPSTREAM]);
  const attributor: Attributor = {
    endpoint: (ip, port): Endpoint => ({ ip, port, kind: 'pod', pod: null, node: null, process: null }),
    isOnThisKernel: (ip) => local.has(ip),
  };
  const analyzer = new ResetAnalyzer({
    nodeName: 'node-b',
    attributor,
    routes: () => null,
    kernelEventsActive: () => options.kernelEvents ?? true,
    joinDelayMs: 0,
    captureMode: options.detail ?? 'headers',
    sources: options.sources,
    synTimeoutMs: 3_000,
    onFinding: (finding, update) => {
      if (!update) findings.push(finding);
    },
  });
  return { analyzer, findings };
}

function sendEvent(timeMs: number, reason: string, extra: Partial<KernelResetRecord> = {}): KernelResetRecord {
  return { direction: 'send', timeMs, src: { ip: UPSTREAM, port: 8080 }, dst: { ip: GATEWAY, port: 40000 }, state: null, reason, process: null, ...extra };
}

/** SYN, SYN-ACK, ACK, a request and its response, from `startMs`. Returns the time of the response. */
function exchange(analyzer: ResetAnalyzer, startMs: number, detail: FlowDetail = 'headers'): number {
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100, ttl: 63 }, startMs));
  analyzer.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 900, ack: 101, ttl: 64 }, startMs + 1));
  if (detail === 'control') return startMs + 1;
  analyzer.observe(tcpObservation({ ...client, flags: 'ACK', seq: 101, ack: 901, ttl: 63 }, startMs + 2));
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 101, ack: 901, ttl: 63, payload }, startMs + 3));
  analyzer.observe(tcpObservation({ ...server, flags: ['PSH', 'ACK'], seq: 901, ack: 201, ttl: 64, payload }, startMs + 10));
  analyzer.observe(tcpObservation({ ...client, flags: 'ACK', seq: 201, ack: 1001, ttl: 63 }, startMs + 11));
  return startMs + 11;
}

test('keepalive-race: the upstream FINs after its idle timeout, the gateway sends, the upstream resets — timeout measured', () => {
  const { analyzer, findings } = harness();
  const start = Date.now();
  const lastMs = exchange(analyzer, start);
  analyzer.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 5_000));
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1002, ttl: 63, payload }, lastMs + 5_002));
  analyzer.addKernelEvent(sendEvent(lastMs + 5_003, 'TCP_ABORT_ON_DATA', { state: 'TCP_FIN_WAIT2' }));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1002, ttl: 64, window: 0 }, lastMs + 5_003));
  const [finding] = findings;
  assert.equal(finding.cause, 'keepalive-race');
  assert.equal(finding.sentBy, 'endpoint');
  assert.equal(finding.idleMs, 5_000);
  assert.ok(finding.evidence.some((line) => /idle for 5000 ms: its idle timeout is about 5\.0 s/.test(line)), finding.evidence.join(' | '));
  assert.ok(finding.evidence.some((line) => /sent data on the connection after that FIN/.test(line)));
  assert.match(finding.advice, /keep-alive timeout above the gateway's/);
});

test('keepalive-race seen from the gateway node, without the upstream kernel: FIN, data, RST on the wire', () => {
  const { analyzer, findings } = harness({ kernelEvents: false, local: [] });
  const start = Date.now();
  const lastMs = exchange(analyzer, start);
  analyzer.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 2_000));
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1002, ttl: 63, payload }, lastMs + 2_001));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1002, ttl: 64, window: 0 }, lastMs + 2_002));
  const [finding] = findings;
  assert.equal(finding.sentBy, 'endpoint', 'its TTL matches the upstream baseline');
  assert.equal(finding.cause, 'keepalive-race');
  assert.ok(finding.evidence.some((line) => line.includes('idle for 2000 ms')), finding.evidence.join(' | '));
});

test('in control mode the race says its timeout is an upper bound, not a measurement', () => {
  const { analyzer, findings } = harness({ detail: 'control' });
  const start = Date.now();
  const lastMs = exchange(analyzer, start, 'control');
  analyzer.observe(tcpObservation({ ...server, flags: ['FIN', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 3_000));
  analyzer.addKernelEvent(sendEvent(lastMs + 3_002, 'TCP_ABORT_ON_DATA', { state: 'TCP_FIN_WAIT2' }));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1002, ttl: 64 }, lastMs + 3_002));
  const [finding] = findings;
  assert.equal(finding.cause, 'keepalive-race');
  assert.equal(finding.idleMs, 3_000);
  assert.ok(finding.evidence.some((line) => /at most 3\.0 s \(control capture sees no data/.test(line)), finding.evidence.join(' | '));
  assert.ok(finding.evidence.some((line) => /idle for at most that long/.test(line)));
});

test('no-connection: NO_SOCKET for a mid-stream segment', () => {
  const { analyzer, findings } = harness();
  const lastMs = exchange(analyzer, Date.now());
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1001, ttl: 63, payload }, lastMs + 50));
  analyzer.addKernelEvent(sendEvent(lastMs + 51, 'NO_SOCKET'));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1001, ttl: 64, window: 0 }, lastMs + 51));
  const [finding] = findings;
  assert.equal(finding.cause, 'no-connection');
  assert.ok(finding.evidence.some((line) => line.includes('mid-stream segment')));
  assert.match(finding.advice, /retry idempotent requests/);
});

test('container-restart: NO_SOCKET from a pod whose container was OOMKilled and restarted during the connection', () => {
  const start = Date.now();
  const restarted = pod({
    containers: [
      container({ restartCount: 3, startedAtMs: start + 1_000, lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAtMs: start + 900 }, memoryLimitBytes: 256 * 1024 * 1024 }),
    ],
  });
  const { analyzer, findings } = harness({ sources: { cluster: () => clusterOf({ pods: [restarted] }) } });
  const lastMs = exchange(analyzer, start);
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1001, ttl: 63, payload }, start + 4_000));
  analyzer.addKernelEvent(sendEvent(start + 4_001, 'NO_SOCKET'));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1001, ttl: 64 }, start + 4_001));
  assert.ok(lastMs < start + 1_000);
  const [finding] = findings;
  assert.equal(finding.cause, 'container-restart');
  assert.equal(finding.sentBy, 'endpoint');
  assert.ok(finding.evidence.some((line) => /container app of pod default\/reviews-0 has restarted 3 times; its current run started 3\.0 s before the RST/.test(line)), finding.evidence.join(' | '));
  assert.ok(finding.evidence.some((line) => /reason OOMKilled, exit code 137/.test(line)));
  assert.ok(finding.evidence.some((line) => line.includes('256 MiB')));
  assert.match(finding.advice, /OOMKilled.*raise its memory limit \(256 MiB\)/);
});

test('a new pod on the address of the old one: no-connection naming the new pod', () => {
  const start = Date.now();
  const newcomer = pod({ name: 'reviews-1', createdAtMs: start + 2_000 });
  const { analyzer, findings } = harness({ sources: { cluster: () => clusterOf({ pods: [newcomer] }) } });
  exchange(analyzer, start);
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1001, ttl: 63, payload }, start + 5_000));
  analyzer.addKernelEvent(sendEvent(start + 5_001, 'NO_SOCKET'));
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1001, ttl: 64 }, start + 5_001));
  const [finding] = findings;
  assert.equal(finding.cause, 'no-connection');
  assert.ok(finding.evidence.some((line) => /now belongs to pod default\/reviews-1, created 2\.0 s after this connection opened/.test(line)), finding.evidence.join(' | '));
  assert.match(finding.advice, /preStop/);
});

test('process-exit: the process named by the kernel event had exited by the verdict', () => {
  const { analyzer, findings } = harness({ sources: { processAlive: (pid) => pid !== 4242 } });
  const lastMs = exchange(analyzer, Date.now());
  analyzer.addKernelEvent(sendEvent(lastMs + 20, 'TCP_ABORT_ON_CLOSE', { state: 'TCP_CLOSE', process: { pid: 4242, comm: 'java' } }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 20));
  const [finding] = findings;
  assert.equal(finding.cause, 'process-exit');
  assert.ok(finding.evidence.some((line) => /process java \(pid 4242\) that owned the socket had exited/.test(line)));
  assert.match(finding.advice, /handle SIGTERM/);
});

test('abort-on-close stays abort-on-close while the closing process lives', () => {
  const { analyzer, findings } = harness({ sources: { processAlive: () => true } });
  const lastMs = exchange(analyzer, Date.now());
  analyzer.addKernelEvent(sendEvent(lastMs + 20, 'TCP_ABORT_ON_CLOSE', { state: 'TCP_CLOSE', process: { pid: 4242, comm: 'java' } }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 20));
  assert.equal(findings[0].cause, 'abort-on-close');
});

test('memory-pressure from TCP_ABORT_ON_MEMORY, naming the process', () => {
  const { analyzer, findings } = harness({ sources: { processAlive: () => true } });
  const lastMs = exchange(analyzer, Date.now());
  analyzer.addKernelEvent(sendEvent(lastMs + 20, 'TCP_ABORT_ON_MEMORY', { state: 'TCP_CLOSE', process: { pid: 77, comm: 'nginx' } }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 20));
  assert.equal(findings[0].cause, 'memory-pressure');
  assert.ok(findings[0].evidence.some((line) => line.includes('process nginx (pid 77)')));
  assert.match(findings[0].advice, /tcp_mem/);
});

test('sidecar: sent by envoy of the istio-proxy container, with its restarts and CPU throttling', () => {
  const proxy = container({ name: 'istio-proxy', containerId: 'b'.repeat(64), restartCount: 2, ports: [], lastTermination: { reason: 'Error', exitCode: 1, finishedAtMs: 0 } });
  const upstream = pod({ containers: [container(), proxy] });
  const { analyzer, findings } = harness({
    sources: {
      cluster: () => clusterOf({ pods: [upstream] }),
      processAlive: () => true,
      containerIdOf: () => 'b'.repeat(64),
      cpuThrottling: () => ({ cgroupPath: '/kubepods/pod/istio-proxy', periods: 1_000, throttledPeriods: 250, throttledUs: 3_500_000 }),
    },
  });
  const lastMs = exchange(analyzer, Date.now());
  analyzer.addKernelEvent(sendEvent(lastMs + 5, 'TCP_ABORT_ON_CLOSE', { state: 'TCP_CLOSE', process: { pid: 31, comm: 'envoy' } }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 5));
  const [finding] = findings;
  assert.equal(finding.cause, 'sidecar');
  assert.equal(finding.kernelReason, 'TCP_ABORT_ON_CLOSE');
  assert.ok(finding.evidence.some((line) => /sidecar proxy process envoy \(pid 31\) in container istio-proxy of pod default\/reviews-0/.test(line)), finding.evidence.join(' | '));
  assert.ok(finding.evidence.some((line) => /restarted 2 times/.test(line)));
  assert.ok(finding.evidence.some((line) => /throttled in 250 scheduler periods \(25\.0% of 1000 periods\), 3\.500 s/.test(line)));
  assert.match(finding.advice, /raise its CPU limit/);
});

test('not-listening: the Service targets 9090, the pod declares and listens on 8080 — the targetPort is named as the fix', () => {
  const upstream = pod();
  const svc = service({ ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9090 }] });
  const { analyzer, findings } = harness({
    sources: {
      cluster: () => clusterOf({ pods: [upstream], services: [svc] }),
      netnsOf: () => '/var/run/netns/reviews',
      listening: () => ({ ports: [8080, 15020], source: 'test' }),
    },
  });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, dstPort: 9090, flags: 'SYN', seq: 5000 }, now));
  analyzer.addKernelEvent({ ...sendEvent(now + 1, 'NO_SOCKET'), src: { ip: UPSTREAM, port: 9090 } });
  analyzer.observe(tcpObservation({ ...server, srcPort: 9090, flags: ['RST', 'ACK'], seq: 0, ack: 5001 }, now + 1));
  const [finding] = findings;
  assert.equal(finding.cause, 'not-listening');
  assert.equal(finding.evidence[0], 'RST answered a SYN');
  assert.ok(finding.evidence.includes('pod default/reviews-0 declares containerPorts 8080 (http); port 9090 is not among them'), finding.evidence.join(' | '));
  assert.ok(finding.evidence.includes('Service default/reviews port 80 targets 9090'));
  assert.ok(finding.evidence.some((line) => line.startsWith("the pod's network namespace listens on TCP 8080, 15020, not on 9090")));
  assert.match(finding.advice, /set the Service's targetPort to 8080/);
});

test('not-listening: a named targetPort the pod does not declare', () => {
  const upstream = pod();
  const svc = service({ ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' }] });
  const { analyzer, findings } = harness({ sources: { cluster: () => clusterOf({ pods: [upstream], services: [svc] }) } });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, dstPort: 9090, flags: 'SYN', seq: 5000 }, now));
  analyzer.addKernelEvent({ ...sendEvent(now + 1, 'NO_SOCKET'), src: { ip: UPSTREAM, port: 9090 } });
  analyzer.observe(tcpObservation({ ...server, srcPort: 9090, flags: ['RST', 'ACK'], seq: 0, ack: 5001 }, now + 1));
  assert.ok(findings[0].evidence.some((line) => line.includes('names no container port')), findings[0].evidence.join(' | '));
  assert.match(findings[0].advice, /targets port "web", which no container of the pod declares/);
});

test('not-listening: nothing listens yet in the pod — advice is the readiness probe', () => {
  const { analyzer, findings } = harness({
    sources: { cluster: () => clusterOf({ pods: [pod()] }), netnsOf: () => '/x', listening: () => ({ ports: [], source: 'test' }) },
  });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 5000 }, now));
  analyzer.addKernelEvent(sendEvent(now + 1, 'NO_SOCKET'));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 5001 }, now + 1));
  assert.ok(findings[0].evidence.includes('pod default/reviews-0 declares containerPorts 8080 (http); port 8080 is among them'));
  assert.match(findings[0].advice, /readinessProbe on port 8080/);
});

test('middlebox: a forged RST to a pod selected by a NetworkPolicy that does not admit the gateway', () => {
  const gateway = pod({ name: 'gateway-0', namespace: 'istio-system', ips: [GATEWAY], labels: { app: 'gateway' } });
  const deny = policy({ ingress: [{ peers: [{ podSelector: { matchLabels: { app: 'ratings' }, matchExpressions: [] }, namespaceSelector: null, ipBlock: null }], ports: [] }] });
  const { analyzer, findings } = harness({ sources: { cluster: () => clusterOf({ pods: [pod(), gateway], policies: [deny] }) } });
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 1 }, now));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 2, window: 0, ipId: 0 }, now + 1));
  analyzer.tick(now + 10_000);
  const [finding] = findings;
  assert.equal(finding.sentBy, 'middlebox');
  assert.equal(finding.cause, 'middlebox');
  assert.ok(
    finding.evidence.some((line) => /NetworkPolicies selecting pod default\/reviews-0: default\/reviews-ingress \(does not admit it\); none of them admits pod istio-system\/gateway-0/.test(line)),
    finding.evidence.join(' | '),
  );
  assert.match(finding.advice, /NetworkPolicy default\/reviews-ingress .* add an ingress rule/);
});

test('idle-timeout: a box on the path resets a connection it had let through, after it sat idle', () => {
  const { analyzer, findings } = harness({ kernelEvents: false, local: [] });
  const lastMs = exchange(analyzer, Date.now());
  analyzer.observe(tcpObservation({ ...client, flags: ['PSH', 'ACK'], seq: 201, ack: 1001, ttl: 63, payload }, lastMs + 7_000));
  // The box answers in the upstream's name, with its own unspent TTL.
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 1001, ttl: 63, window: 0, ipId: 0 }, lastMs + 7_001));
  const [finding] = findings;
  assert.equal(finding.sentBy, 'middlebox');
  assert.equal(finding.cause, 'idle-timeout');
  assert.equal(finding.idleMs, 7_000);
  assert.ok(finding.evidence.some((line) => /after 7000 ms of silence/.test(line)), finding.evidence.join(' | '));
  assert.match(finding.advice, /keep-alives more often than that timeout/);
});

test('keepalive-timeout: the endpoint kernel gave up on keep-alive probes', () => {
  const { analyzer, findings } = harness();
  const lastMs = exchange(analyzer, Date.now());
  analyzer.addKernelEvent(sendEvent(lastMs + 9_000, 'TCP_KEEPALIVE_TIMEOUT', { state: 'TCP_ESTABLISHED' }));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 1001, ack: 201, ttl: 64 }, lastMs + 9_000));
  assert.equal(findings[0].cause, 'keepalive-timeout');
  assert.equal(findings[0].idleMs, 9_000);
  assert.match(findings[0].advice, /keep-alives more often/);
});

test('the netfilter fingerprint does not override a matching kernel event', () => {
  const { analyzer, findings } = harness();
  const now = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 1 }, now));
  analyzer.addKernelEvent(sendEvent(now + 1, 'NO_SOCKET'));
  analyzer.observe(tcpObservation({ ...server, flags: ['RST', 'ACK'], seq: 0, ack: 2, window: 0, ipId: 0 }, now + 1));
  assert.equal(findings[0].sentBy, 'endpoint');
  assert.equal(findings[0].cause, 'not-listening');
});

test('the netfilter fingerprint alone, with no kernel event or TTL baseline, is not conclusive: unknown, and the evidence says why', () => {
  // Linux's own socketless RSTs carry IP ID 0 and window 0 too (ip_send_unicast_reply).
  const { analyzer, findings } = harness({ kernelEvents: false, local: [] });
  analyzer.observe(tcpObservation({ ...server, flags: 'RST', seq: 5, ttl: 60, window: 0, ipId: 0 }, Date.now()));
  assert.equal(findings[0].sentBy, 'unknown');
  assert.notEqual(findings[0].cause, 'middlebox');
  assert.ok(findings[0].evidence.some((line) => line.includes('as a netfilter REJECT writes them') && line.includes('not conclusive')));
});

test('syn-timeout: retransmitted SYNs with no answer become one finding with attempts, seconds and the denying policy', () => {
  const gateway = pod({ name: 'gateway-0', namespace: 'istio-system', ips: [GATEWAY], labels: { app: 'gateway' } });
  const deny = policy({ ingress: [{ peers: [{ podSelector: null, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'default' }, matchExpressions: [] }, ipBlock: null }], ports: [] }] });
  const { analyzer, findings } = harness({ sources: { cluster: () => clusterOf({ pods: [pod(), gateway], policies: [deny] }) } });
  const start = Date.now();
  for (const offsetMs of [0, 1_000, 3_000]) analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100, ttl: 63 }, start + offsetMs));
  analyzer.tick(start + 2_500);
  assert.equal(findings.length, 0, 'not yet timed out');
  analyzer.tick(start + 3_200);
  assert.equal(findings.length, 1);
  const [finding] = findings;
  assert.equal(finding.kind, 'syn-timeout');
  assert.equal(finding.src.ip, UPSTREAM);
  assert.equal(finding.src.port, 8080);
  assert.equal(finding.dst.ip, GATEWAY);
  assert.equal(finding.cause, 'middlebox');
  assert.equal(finding.sentBy, 'unknown');
  assert.equal(finding.ttl, 63);
  assert.ok(finding.evidence[0].startsWith('3 SYNs from 10.244.1.10:40000 to 10.244.2.20:8080 over 3.2 s got no answer'), finding.evidence[0]);
  assert.ok(finding.evidence.some((line) => line.includes('default/reviews-ingress (does not admit it)')));
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100 }, start + 7_000));
  analyzer.tick(start + 12_000);
  assert.equal(findings.length, 1, 'one stubborn client is one finding');
});

test('a SYN answered by SYN-ACK or RST is no syn-timeout', () => {
  const { analyzer, findings } = harness({ kernelEvents: false });
  const start = Date.now();
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100 }, start));
  analyzer.observe(tcpObservation({ ...client, flags: 'SYN', seq: 100 }, start + 1_000));
  analyzer.observe(tcpObservation({ ...server, flags: ['SYN', 'ACK'], seq: 9, ack: 101 }, start + 1_001));
  analyzer.tick(start + 10_000);
  assert.equal(findings.filter((finding) => finding.kind === 'syn-timeout').length, 0);
  assert.equal(analyzer.synWatchSize, 0);
});
