/**
 * One path-MTU measurement towards one address: the search (search.ts) driven over
 * raw sockets (probe-socket.ts), ICMP echo first and UDP to a closed port when echo
 * gets no answer at all. Every loop is bounded by a probe count and a wall-clock cap.
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../common/errors';
import { routeTowards, type LocalRoute } from './local-route';
import { buildEchoRequest, buildUdpProbe, minimumProbeBytes, parseProbeAnswer, type IpFamily, type ProbeIdentity, type ProbeMethod } from './probe-packet';
import { openProbeSockets, ProbeSendError, type ProbeSocketFactory, type ProbeSockets } from './probe-socket';
import { RttEstimator, type RttOptions } from './rtt';
import { PmtuSearch, type LimitedBy, type ProbeOutcome, type SearchResult } from './search';

/** RFC 791: every IPv4 host takes 576-byte datagrams; RFC 8200 §5: every IPv6 link carries 1280. */
export const DEFAULT_MIN_BYTES: Record<IpFamily, number> = { 4: 576, 6: 1280 };
export const DEFAULT_MAX_PROBES = 150;
/** The IPv4 total length field (and the IPv6 payload length without jumbograms) is 16 bits. */
const MAX_IP_PACKET_BYTES = 65_535;
export const DEFAULT_MAX_WALL_MS = 30_000;
/**
 * Linux answers with port unreachable at most ~6 at once and then 1 per second per
 * peer (net.ipv4.icmp_ratelimit = 1000 ms, XRLIM_BURST_FACTOR 6 in net/ipv4/icmp.c;
 * net.ipv6.icmp.ratelimit alike): UDP probes are paced so a rate-limited answer is
 * not taken for a too-big packet.
 */
const UDP_BURST = 5;
const UDP_REFILL_MS = 1_000;
/** How often outstanding probes are checked against their timeout. */
const TIMEOUT_CHECK_MS = 5;

export interface MeasureOptions {
  minBytes?: number;
  maxBytes?: number;
  maxProbes?: number;
  maxWallMs?: number;
  /** The route towards the target when the caller already looked it up. */
  route?: LocalRoute;
  sockets?: ProbeSocketFactory;
  rtt?: RttOptions;
  signal?: AbortSignal;
}

export interface PathMeasurement {
  targetIp: string;
  family: IpFamily;
  route: LocalRoute;
  /** The method whose answers gave the result; null when nothing answered. */
  method: ProbeMethod | null;
  pmtuBytes: number | null;
  limitedBy: LimitedBy;
  blackHole: boolean;
  icmpSeen: boolean;
  announcedMtusBytes: number[];
  lossSeen: boolean;
  probes: number;
  durationMs: number;
  /** False when the probe or time cap ended the search first (pmtuBytes is then a lower bound). */
  complete: boolean;
  srttMs: number | null;
  minBytes: number;
  maxBytes: number;
}

export function addressFamily(ip: string): IpFamily {
  const version = isIP(ip);
  if (version === 0) throw new UsageError(`${JSON.stringify(ip)} is not an IP address`);
  return version as IpFamily;
}

export async function measurePath(targetIp: string, options: MeasureOptions = {}): Promise<PathMeasurement> {
  const family = addressFamily(targetIp);
  const startedMs = performance.now();
  const route = options.route ?? (await routeTowards(targetIp, family));
  const maxBytes = Math.min(options.maxBytes ?? route.localMtuBytes, route.localMtuBytes, MAX_IP_PACKET_BYTES);
  const minBytes = Math.max(options.minBytes ?? DEFAULT_MIN_BYTES[family], minimumProbeBytes(family));
  if (minBytes > maxBytes) {
    throw new UsageError(`--min ${minBytes} is above the largest size ${route.ifname} lets out towards ${targetIp} (${maxBytes}): lower --min`);
  }
  const factory = options.sockets ?? openProbeSockets;
  const budget = {
    probesLeft: options.maxProbes ?? DEFAULT_MAX_PROBES,
    deadlineMs: startedMs + (options.maxWallMs ?? DEFAULT_MAX_WALL_MS),
    signal: options.signal,
  };
  const rtt = new RttEstimator(options.rtt);
  const echo = new PmtuSearch({ minBytes, maxBytes });
  await runMethod('icmp-echo', family, targetIp, echo, factory, rtt, budget);
  let result: SearchResult = echo.result();
  let method: ProbeMethod | null = result.pmtuBytes === null ? null : 'icmp-echo';
  let finished = echo.done;
  if (result.pmtuBytes === null && echo.done && result.limitedBy !== 'local') {
    // Echo filtered (or the target ignores it): ask a closed UDP port instead, keeping what ICMP errors said.
    const udp = new PmtuSearch({ minBytes, maxBytes, skipPlateaus: true, maxInFlight: 1, announcedMtusBytes: result.announcedMtusBytes });
    await runMethod('udp', family, targetIp, udp, factory, rtt, budget);
    const udpResult = udp.result();
    finished = udp.done;
    if (udpResult.pmtuBytes !== null) method = 'udp';
    result = { ...udpResult, icmpSeen: udpResult.icmpSeen || result.icmpSeen, lossSeen: udpResult.lossSeen || result.lossSeen };
  }
  const probes = (options.maxProbes ?? DEFAULT_MAX_PROBES) - budget.probesLeft;
  return {
    targetIp,
    family,
    route,
    method,
    pmtuBytes: result.pmtuBytes,
    limitedBy: result.limitedBy,
    blackHole: result.blackHole,
    icmpSeen: result.icmpSeen,
    announcedMtusBytes: result.announcedMtusBytes,
    lossSeen: result.lossSeen,
    probes,
    durationMs: Math.round(performance.now() - startedMs),
    complete: finished,
    srttMs: rtt.smoothedMs,
    minBytes,
    maxBytes,
  };
}

interface Budget {
  probesLeft: number;
  deadlineMs: number;
  signal: AbortSignal | undefined;
}

interface SentProbe {
  sizeBytes: number;
  sentAtMs: number;
  /** Set while the probe's round waits for it; cleared once it has an outcome. */
  settle: ((outcome: ProbeOutcome) => void) | null;
}

/** Runs rounds of `search` with one method until it is done or the budget is spent. */
async function runMethod(
  method: ProbeMethod,
  family: IpFamily,
  targetIp: string,
  search: PmtuSearch,
  factory: ProbeSocketFactory,
  rtt: RttEstimator,
  budget: Budget,
): Promise<void> {
  const sockets: ProbeSockets = factory(family, method);
  // Echo id: random 16 bits; UDP source port: random in the dynamic range (RFC 6335 §6).
  const identity: ProbeIdentity = { family, method, targetIp, id: method === 'udp' ? randomInt(49152, 65536) : randomInt(0, 65536) };
  const sent = new Map<number, SentProbe>();
  let nextSeq = 0;
  let udpTokens = UDP_BURST;
  let udpRefilledAtMs = performance.now();

  sockets.onMessage((message, sourceIp) => {
    const answer = parseProbeAnswer(message, sourceIp, identity);
    const probe = answer === null ? undefined : sent.get(answer.seq);
    if (answer === null || probe === undefined) return;
    if (answer.outcome.kind !== 'silent') rtt.sample(performance.now() - probe.sentAtMs);
    if (probe.settle !== null) {
      const settle = probe.settle;
      probe.settle = null;
      settle(answer.outcome);
    } else if (answer.outcome.kind !== 'silent') {
      search.record(probe.sizeBytes, answer.outcome); // a late answer still counts
    }
  });

  const timeouts = setInterval(() => {
    const nowMs = performance.now();
    const limitMs = rtt.timeoutMs();
    for (const probe of sent.values()) {
      if (probe.settle !== null && nowMs - probe.sentAtMs > limitMs) {
        const settle = probe.settle;
        probe.settle = null;
        settle({ kind: 'silent' });
      }
    }
  }, TIMEOUT_CHECK_MS);

  const paceUdp = async (): Promise<void> => {
    for (;;) {
      const nowMs = performance.now();
      const refills = Math.floor((nowMs - udpRefilledAtMs) / UDP_REFILL_MS);
      if (refills > 0) {
        udpTokens = Math.min(UDP_BURST, udpTokens + refills);
        udpRefilledAtMs += refills * UDP_REFILL_MS;
      }
      if (udpTokens > 0 || nowMs >= budget.deadlineMs || budget.signal?.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(UDP_REFILL_MS - (nowMs - udpRefilledAtMs) + 1, budget.deadlineMs - nowMs)));
    }
    udpTokens -= 1;
  };

  const probeOnce = async (sizeBytes: number): Promise<ProbeOutcome> => {
    if (method === 'udp') await paceUdp();
    const seq = nextSeq;
    nextSeq += 1;
    budget.probesLeft -= 1;
    const packet = method === 'udp' ? buildUdpProbe(family, identity.id, seq, sizeBytes) : buildEchoRequest(family, identity.id, seq, sizeBytes);
    return new Promise<ProbeOutcome>((resolve) => {
      const probe: SentProbe = { sizeBytes, sentAtMs: performance.now(), settle: resolve };
      sent.set(seq, probe);
      sockets.send(packet, targetIp).catch((err: unknown) => {
        if (probe.settle === null) return;
        probe.settle = null;
        // EMSGSIZE: bigger than the interface (or route) MTU — the local end is the limit.
        const local = err instanceof ProbeSendError && err.errno === 'EMSGSIZE';
        resolve(local ? { kind: 'too-big', source: 'local', mtuBytes: null } : { kind: 'silent' });
      });
    });
  };

  try {
    while (!search.done && budget.probesLeft > 0 && performance.now() < budget.deadlineMs && budget.signal?.aborted !== true) {
      const sizes = search.nextRound().slice(0, budget.probesLeft);
      if (sizes.length === 0) break;
      const outcomes = await Promise.all(sizes.map(probeOnce));
      sizes.forEach((size, index) => search.record(size, outcomes[index]!));
    }
  } finally {
    clearInterval(timeouts);
    sockets.close();
  }
}
