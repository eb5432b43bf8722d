/**
 * The demo's failure modes (DESIGN.md, "The failure modes it must diagnose"), one
 * scenario each, and the finding each must produce. The demo drives them in this
 * order; test/demo/demo.lab.test.ts checks the expectations against what the agent
 * reported. Addresses and ports are fixed so every scenario's findings are told
 * apart by their upstream address and port alone.
 */
import type { Finding, ResetCause } from '../protocol/finding';

export const GATEWAY_NODE = { name: 'gateway-node', underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' } as const;
export const UPSTREAM_NODE = { name: 'upstream-node', underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' } as const;

/** The pods, as an Istio "bookinfo"-like app behind an nginx ingress gateway. */
export const PODS = {
  gateway: { namespace: 'istio-system', name: 'ingress-gateway-0', ip: '10.244.1.10' },
  reviews: { namespace: 'bookinfo', name: 'reviews-v1-0', ip: '10.244.2.20' },
  ratings: { namespace: 'bookinfo', name: 'ratings-v1-0', ip: '10.244.2.30' },
  details: { namespace: 'bookinfo', name: 'details-v1-0', ip: '10.244.2.40' },
  productpage: { namespace: 'bookinfo', name: 'productpage-v1-0', ip: '10.244.2.50' },
} as const;

/** The fabric's MTU towards the upstream node: smaller than the pods' 1500. */
export const FABRIC_MTU_BYTES = 1400;

export type ScenarioId = 'crash' | 'restart' | 'keepalive-race' | 'sidecar' | 'reject' | 'silent-drop' | 'not-listening' | 'mtu';

export interface Scenario {
  readonly id: ScenarioId;
  /** DESIGN.md failure mode number. */
  readonly mode: 1 | 2 | 3 | 4 | 5 | 6;
  readonly title: string;
  /** What the demo does, printed before it does it. */
  readonly action: string;
  /** The upstream the traffic goes to. */
  readonly upstreamIp: string;
  readonly port: number | null;
  /** The finding this scenario must produce. */
  readonly expect:
    | { readonly kind: 'reset'; readonly cause: ResetCause; readonly sentBy?: 'endpoint' | 'middlebox' }
    | { readonly kind: 'syn-timeout' }
    | { readonly kind: 'pmtu'; readonly pmtuBytes: number; readonly blackHole: boolean };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'crash',
    mode: 1,
    title: 'upstream crashing',
    action: 'reviews-v1 crashes (exits) while a request through the gateway is still unread; the kernel resets the connection',
    upstreamIp: PODS.reviews.ip,
    port: 8090,
    expect: { kind: 'reset', cause: 'process-exit', sentBy: 'endpoint' },
  },
  {
    id: 'restart',
    mode: 1,
    title: 'upstream restarted (new pod, same IP)',
    action: 'ratings-v1 is replaced by a new pod on the same IP; the gateway reuses its pooled connection while the new pod starts, and the new pod has no socket for it',
    upstreamIp: PODS.ratings.ip,
    port: 8070,
    expect: { kind: 'reset', cause: 'no-connection', sentBy: 'endpoint' },
  },
  {
    id: 'keepalive-race',
    mode: 2,
    title: "upstream idle timeout shorter than the gateway's",
    action: 'reviews-v1 closes idle keep-alive connections after 1 s; the gateway sends its next request on one it closed',
    upstreamIp: PODS.reviews.ip,
    port: 8080,
    expect: { kind: 'reset', cause: 'keepalive-race', sentBy: 'endpoint' },
  },
  {
    id: 'sidecar',
    mode: 3,
    title: 'sidecar proxy resetting',
    action: "details-v1's sidecar (a process named envoy) accepts connections and aborts them",
    upstreamIp: PODS.details.ip,
    port: 9080,
    expect: { kind: 'reset', cause: 'sidecar', sentBy: 'endpoint' },
  },
  {
    id: 'reject',
    mode: 4,
    title: 'firewall rejecting',
    action: 'the fabric rejects connections to productpage-v1:8081 with a forged TCP reset (iptables REJECT --reject-with tcp-reset)',
    upstreamIp: PODS.productpage.ip,
    port: 8081,
    expect: { kind: 'reset', cause: 'middlebox', sentBy: 'middlebox' },
  },
  {
    id: 'silent-drop',
    mode: 4,
    title: 'firewall dropping silently',
    action: 'the fabric drops SYNs to productpage-v1:8082 without an answer (iptables DROP)',
    upstreamIp: PODS.productpage.ip,
    port: 8082,
    expect: { kind: 'syn-timeout' },
  },
  {
    id: 'not-listening',
    mode: 5,
    title: 'upstream not listening on the port',
    action: 'the gateway routes to reviews-v1:9999, where nothing listens',
    upstreamIp: PODS.reviews.ip,
    port: 9999,
    expect: { kind: 'reset', cause: 'not-listening', sentBy: 'endpoint' },
  },
  {
    id: 'mtu',
    mode: 6,
    title: 'MTU mismatch and PMTU black hole',
    action: `the fabric carries ${FABRIC_MTU_BYTES} bytes towards upstream-node and drops ICMP "fragmentation needed"; pods use 1500, so a large upload hangs`,
    upstreamIp: UPSTREAM_NODE.underlayIp,
    port: null,
    expect: { kind: 'pmtu', pmtuBytes: FABRIC_MTU_BYTES, blackHole: true },
  },
];

/** True when `finding` is the one `scenario` expects. */
export function matchesScenario(scenario: Scenario, finding: Finding): boolean {
  const expect = scenario.expect;
  if (finding.kind !== expect.kind) return false;
  if (finding.kind === 'pmtu' && expect.kind === 'pmtu') {
    return finding.to.ip === scenario.upstreamIp && finding.pmtu === expect.pmtuBytes && finding.blackHole === expect.blackHole;
  }
  if (finding.kind === 'pmtu') return false;
  if (finding.src.ip !== scenario.upstreamIp || finding.src.port !== scenario.port) return false;
  if (expect.kind !== 'reset') return true;
  return finding.cause === expect.cause && (expect.sentBy === undefined || finding.sentBy === expect.sentBy);
}

/** Findings about a scenario's upstream address and port, whatever they say (for reports). */
export function aboutScenario(scenario: Scenario, finding: Finding): boolean {
  if (finding.kind === 'pmtu') return scenario.expect.kind === 'pmtu' && finding.to.ip === scenario.upstreamIp;
  return finding.src.ip === scenario.upstreamIp && finding.src.port === scenario.port;
}
