import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { defaultStaticDir } from '../../src/aggregator/ui/assets';
import type { Endpoint, Finding, PmtuFinding, ResetFinding } from '../../src/protocol/finding';
import { RESET_CAUSES } from '../../src/protocol/finding-schema';

/**
 * The front end's pure logic, run in Node on the very files the browser loads (ES
 * modules; Node ≥ 20.19 `require`s them): endpoint and time text, rollup ordering,
 * filters, stream messages, the MTU pairs.
 */
const moduleFile = (name: string): string => path.join(defaultStaticDir(), 'js', name);

interface FormatModule {
  socketText(ip: string, port: number): string;
  endpointName(endpoint: Endpoint): string;
  endpointDetail(endpoint: Endpoint): string;
  durationText(ms: number | null): string;
  timeAgo(iso: string, nowMs: number): string;
  CAUSES: readonly string[];
  causeText(cause: string): string;
}
interface StoreModule {
  isNewer(candidate: Finding, current: Finding | undefined): boolean;
  byLastSeenDesc(a: Finding, b: Finding): number;
}
interface FiltersModule {
  matchesFilters(finding: Finding, filters: { namespace: string; node: string; cause: string }): boolean;
}
interface ApiModule {
  findingInMessage(message: unknown): Finding | null;
}
interface MtuModule {
  latestPairs(findings: Map<string, Finding>): Map<string, PmtuFinding>;
}

const load = <T>(name: string): T => require(moduleFile(name)) as T;
const format = load<FormatModule>('format.js');
const store = load<StoreModule>('findings-store.js');
const filters = load<FiltersModule>('filters.js');
const api = load<ApiModule>('api.js');
const mtu = load<MtuModule>('mtu-view.js');

const pod = (namespace: string, name: string, container: string | null): Endpoint['pod'] => ({ namespace, name, uid: 'u', container });

function reset(overrides: Partial<ResetFinding> = {}): ResetFinding {
  return {
    kind: 'reset',
    id: 'r1',
    node: 'node-b',
    time: '2026-11-24T10:00:00.000Z',
    lastSeen: '2026-11-24T10:00:05.000Z',
    count: 2,
    src: { ip: '10.244.2.20', port: 9999, kind: 'pod', pod: pod('default', 'reviews-0', 'app'), node: 'node-b', process: { pid: 42, comm: 'envoy' } },
    dst: { ip: '10.244.1.10', port: 41230, kind: 'pod', pod: pod('istio-system', 'gateway-0', null), node: 'node-a', process: null },
    sentBy: 'endpoint',
    cause: 'not-listening',
    kernelReason: 'NO_SOCKET',
    state: null,
    ttl: 62,
    expectedTtl: 62,
    idleMs: 0,
    evidence: [],
    advice: '',
    ...overrides,
  };
}

describe('UI text', () => {
  test('endpoints read as namespace/pod (container), with address and process below; others as ip:port', () => {
    const finding = reset();
    assert.equal(format.endpointName(finding.src), 'default/reviews-0 (app)');
    assert.equal(format.endpointDetail(finding.src), '10.244.2.20:9999 · process envoy (pid 42)');
    assert.equal(format.endpointName(finding.dst), 'istio-system/gateway-0');
    const external: Endpoint = { ip: '2001:db8::1', port: 443, kind: 'external', pod: null, node: null, process: null };
    assert.equal(format.endpointName(external), '[2001:db8::1]:443');
    assert.equal(format.endpointDetail(external), '');
    assert.equal(format.endpointName({ ...external, ip: '10.210.0.12', kind: 'node', node: 'node-b' }), 'node node-b');
  });

  test("the cause filter offers exactly the contract's causes, each in words", () => {
    // The UI has no build step, so its list is a copy of RESET_CAUSES: this keeps the two equal.
    assert.deepEqual([...format.CAUSES], [...RESET_CAUSES]);
    // Every compound id has words of its own (a cause missing from the table would show its raw id).
    for (const cause of RESET_CAUSES.filter((id) => id.includes('-'))) assert.notEqual(format.causeText(cause), cause);
  });

  test('durations and ages', () => {
    assert.equal(format.durationText(null), '—');
    assert.equal(format.durationText(850), '850 ms');
    assert.equal(format.durationText(5012), '5.0 s');
    assert.equal(format.durationText(125_000), '2 min 5 s');
    assert.equal(format.durationText(3 * 3600_000 + 4 * 60_000), '3 h 4 min');
    const nowMs = Date.parse('2026-11-24T10:10:00.000Z');
    assert.equal(format.timeAgo('2026-11-24T10:09:56.000Z', nowMs), '4 s ago');
    assert.equal(format.timeAgo('2026-11-24T09:58:00.000Z', nowMs), '12 min ago');
    assert.equal(format.timeAgo('not a time', nowMs), '—');
  });
});

describe('UI state', () => {
  test('a rollup update replaces the row; an older copy never does', () => {
    const first = reset();
    const grown = reset({ count: 5, lastSeen: '2026-11-24T10:00:09.000Z' });
    const patched = reset({ sentBy: 'middlebox' }); // same count and lastSeen: a cross-node verdict
    assert.equal(store.isNewer(first, undefined), true);
    assert.equal(store.isNewer(grown, first), true);
    assert.equal(store.isNewer(first, grown), false);
    assert.equal(store.isNewer(patched, first), true);
    assert.deepEqual([first, grown].sort(store.byLastSeenDesc).map((f) => f.lastSeen), [grown.lastSeen, first.lastSeen]);
  });

  test('filters match either end\'s namespace, the reporting or either end\'s node, and the cause', () => {
    const finding = reset();
    const none = { namespace: '', node: '', cause: '' };
    assert.equal(filters.matchesFilters(finding, none), true);
    assert.equal(filters.matchesFilters(finding, { ...none, namespace: 'istio-system' }), true);
    assert.equal(filters.matchesFilters(finding, { ...none, namespace: 'shop' }), false);
    assert.equal(filters.matchesFilters(finding, { ...none, node: 'node-a' }), true);
    assert.equal(filters.matchesFilters(finding, { ...none, node: 'node-c' }), false);
    assert.equal(filters.matchesFilters(finding, { ...none, cause: 'not-listening', namespace: 'default' }), true);
    assert.equal(filters.matchesFilters(finding, { ...none, cause: 'middlebox' }), false);
  });

  test('stream messages: the aggregator envelope or a bare finding; anything else is ignored', () => {
    const finding = reset();
    assert.equal(api.findingInMessage({ type: 'finding', update: false, finding })?.id, 'r1');
    assert.equal(api.findingInMessage(finding)?.id, 'r1');
    assert.equal(api.findingInMessage({ type: 'hello' }), null);
    assert.equal(api.findingInMessage({ kind: 'reset' }), null, 'no id');
    assert.equal(api.findingInMessage(null), null);
    assert.equal(api.findingInMessage('text'), null);
  });

  test('the MTU matrix keeps the latest measurement per pair', () => {
    const measurement = (id: string, to: string | null, toIp: string, pmtuBytes: number, lastSeen: string): PmtuFinding => ({
      kind: 'pmtu', id, node: 'node-a', time: lastSeen, lastSeen, count: 1,
      from: { node: 'node-a', ip: '10.210.0.11' }, to: { ip: toIp, node: to, pod: null },
      pmtu: pmtuBytes, localMtu: 1500, mismatch: pmtuBytes < 1500, blackHole: false, icmpSeen: true, probes: 9, durationMs: 100, advice: '',
    });
    const findings = new Map<string, Finding>([
      ['a', measurement('a', 'node-b', '10.210.0.12', 1500, '2026-11-24T10:00:00.000Z')],
      ['b', measurement('b', 'node-b', '10.210.0.12', 1400, '2026-11-24T10:05:00.000Z')],
      ['c', measurement('c', null, '10.210.0.13', 9000, '2026-11-24T10:01:00.000Z')],
      ['r', reset()],
    ]);
    const pairs = mtu.latestPairs(findings);
    assert.equal(pairs.size, 2);
    assert.equal(pairs.get('node-a\u0000node-b')?.pmtu, 1400);
    assert.equal(pairs.get('node-a\u000010.210.0.13')?.pmtu, 9000, 'a target without a node is named by its address');
  });
});
