import type { ClusterView } from '../attribution/kubernetes/types';
import type { Endpoint, Finding, ResetFinding } from '../protocol/finding';
import type { AgentDirectory } from './agent-directory';
import type { FindingPatch } from './store';

/**
 * Verdicts only the whole cluster can give (issue 6, "cross-node verdicts").
 *
 * A RST that crosses nodes is seen twice: by the receiver's agent, which cannot see
 * the sender's kernel (kernelReason null, sentBy often unknown), and by the sender's
 * agent, whose kernel logged tcp_send_reset (kernelReason set). The same reset — same
 * source ip:port and destination ip, within MATCH_WINDOW_MS — seen by both confirms
 * `sentBy: endpoint`. Seen by the receiver only, while the sender's node agent was
 * connected with kernel events on, after a grace window, it was forged on the way:
 * `middlebox` (netfilter REJECT never goes through tcp_send_reset, DESIGN.md "Facts").
 *
 * The destination port is left out of the match because rollups merge resets that
 * differ only in the receiver's ephemeral port (DESIGN.md "Finding": rollup).
 */

export type PodDirectory = Pick<ClusterView, 'podByIp' | 'nodeByAddress'>;

export interface CrossNodeDecision {
  id: string;
  patch: FindingPatch;
  verdict: 'confirmed-endpoint' | 'middlebox' | 'attributed';
}

/** Two sightings of one RST are at most this far apart (clocks of two nodes, batching). */
export const MATCH_WINDOW_MS = 2_000;
/** How long sender-side sightings are remembered for late receivers. */
const REMEMBER_MS = 60_000;
/** Bounds on remembered sightings and on receivers awaiting a verdict. */
const MAX_SENDER_SIGHTINGS = 100_000;
const MAX_PENDING = 50_000;

/** What confirming a receiver takes from the sender's finding. */
type SenderView = Pick<ResetFinding, 'id' | 'node' | 'state' | 'kernelReason' | 'cause' | 'advice' | 'src'>;

/** Reads a stored finding back (the sender's, when a receiver matches it). */
export type FindingLookup = (id: string) => Finding | null;

/**
 * Only what matching reads. Up to MAX_SENDER_SIGHTINGS are kept for REMEMBER_MS: at
 * thousands of findings a second, keeping the findings themselves (or their endpoints)
 * held hundreds of MB and made every young-generation collection copy them; the
 * sender's finding is read from the store when a receiver does match, which is rare.
 */
interface SenderSighting {
  node: string;
  timeMs: number;
  id: string;
}

interface ReceiverSighting {
  finding: ResetFinding;
  timeMs: number;
  confirmed: boolean;
}

interface PendingReceiver {
  finding: ResetFinding;
  senderNode: string;
  timeMs: number;
  decideAtMs: number;
}

export class CrossNodeVerdicts {
  readonly name = 'cross-node';
  /** Sender-side sightings by `srcIp|srcPort|dstIp`, newest last. */
  private readonly senders = new Map<string, SenderSighting[]>();
  private senderCount = 0;
  /** Receiver-side sightings not yet confirmed, by the same key, for senders that report later. */
  private readonly receivers = new Map<string, ReceiverSighting[]>();
  private receiverCount = 0;
  private readonly pending = new Map<string, PendingReceiver>();

  constructor(
    private readonly agents: AgentDirectory,
    private readonly pods: PodDirectory | null,
    private readonly graceMs: number,
    /** The store, for the sender's finding of a match. */
    private readonly lookup: FindingLookup,
  ) {}

  /** Looks at a stored finding; returns what the aggregator decides now. */
  observe(finding: Finding, update: boolean, nowMs = Date.now()): CrossNodeDecision[] {
    if (finding.kind !== 'reset') return [];
    const decisions: CrossNodeDecision[] = [];
    const timeMs = Date.parse(update ? finding.lastSeen : finding.time);
    if (finding.kernelReason !== null) {
      // The sender's own kernel logged this RST: it was made on finding.node.
      this.agents.learn(finding.src.ip, finding.node);
      const key = keyOf(finding);
      this.rememberSender(key, { node: finding.node, timeMs, id: finding.id });
      const receivers = this.receivers.get(key) ?? [];
      for (const receiver of receivers) {
        if (receiver.confirmed || receiver.finding.node === finding.node || Math.abs(receiver.timeMs - timeMs) > MATCH_WINDOW_MS) continue;
        receiver.confirmed = true;
        this.pending.delete(receiver.finding.id);
        decisions.push(confirm(receiver.finding, finding));
      }
      return decisions;
    }
    if (update) return decisions;
    const attributed = this.attribute(finding);
    if (attributed !== null) decisions.push(attributed);
    // Even a receiver that judged `endpoint` from the TTL gains the sender's kernel reason.
    const sender = this.findSender(finding, timeMs);
    if (sender !== null) {
      decisions.push(confirm(finding, sender));
      return decisions;
    }
    this.rememberReceiver({ finding, timeMs, confirmed: false });
    if (finding.sentBy === 'endpoint') return decisions;
    const senderNode = finding.src.node ?? this.agents.hostOf(finding.src.ip) ?? this.podNode(finding.src.ip, timeMs);
    if (senderNode !== null && senderNode !== finding.node && finding.sentBy === 'unknown') {
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
      this.pending.set(finding.id, { finding, senderNode, timeMs, decideAtMs: nowMs + this.graceMs });
    }
    return decisions;
  }

  /** Decides receivers whose grace window ended with no sender-side sighting. */
  tick(nowMs = Date.now()): CrossNodeDecision[] {
    const decisions: CrossNodeDecision[] = [];
    for (const [id, waiting] of this.pending) {
      if (waiting.decideAtMs > nowMs) continue;
      this.pending.delete(id);
      if (!this.agents.watchedSince(waiting.senderNode, waiting.timeMs)) continue;
      const { finding, senderNode } = waiting;
      decisions.push({
        id,
        verdict: 'middlebox',
        patch: {
          sentBy: 'middlebox',
          cause: 'middlebox',
          evidence: [
            ...finding.evidence,
            `${finding.src.ip} is on node ${senderNode}, whose agent was connected with kernel reset events on, and that kernel logged no tcp_send_reset for this RST within ${Math.round(this.graceMs / 1000)} s: something between the nodes forged it`,
          ],
          advice: `A box on the path between ${finding.src.ip}:${finding.src.port} and ${finding.dst.ip} answers for the endpoint: look for a firewall or NetworkPolicy REJECT (iptables REJECT --reject-with tcp-reset), a load balancer or a proxy on the way, and for what it dislikes in this connection.`,
        },
      });
    }
    this.senderCount -= expire(this.senders, nowMs);
    this.receiverCount -= expire(this.receivers, nowMs);
    return decisions;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private rememberSender(key: string, sighting: SenderSighting): void {
    this.senderCount += remember(this.senders, key, sighting);
    if (this.senderCount > MAX_SENDER_SIGHTINGS) this.senderCount -= forgetOldestKey(this.senders);
  }

  private rememberReceiver(sighting: ReceiverSighting): void {
    this.receiverCount += remember(this.receivers, keyOf(sighting.finding), sighting);
    if (this.receiverCount > MAX_SENDER_SIGHTINGS) this.receiverCount -= forgetOldestKey(this.receivers);
  }

  /** The newest sender-side sighting that matches, as the sender's finding (null when none, or no longer stored). */
  private findSender(receiver: ResetFinding, timeMs: number): SenderView | null {
    const sightings = this.senders.get(keyOf(receiver)) ?? [];
    for (let index = sightings.length - 1; index >= 0; index -= 1) {
      const sighting = sightings[index];
      if (sighting.node === receiver.node || Math.abs(sighting.timeMs - timeMs) > MATCH_WINDOW_MS) continue;
      const finding = this.lookup(sighting.id);
      if (finding?.kind === 'reset') return finding;
    }
    return null;
  }

  private podNode(ip: string, timeMs: number): string | null {
    if (this.pods === null) return null;
    return this.pods.podByIp(ip, timeMs)?.nodeName ?? this.pods.nodeByAddress(ip)?.name ?? null;
  }

  /** Completes ends the agent left `external` from the cluster-wide pod map. */
  private attribute(finding: ResetFinding): CrossNodeDecision | null {
    if (this.pods === null) return null;
    const timeMs = Date.parse(finding.time);
    const src = this.completed(finding.src, timeMs);
    const dst = this.completed(finding.dst, timeMs);
    if (src === null && dst === null) return null;
    const patch: FindingPatch = {};
    if (src !== null) patch.src = src;
    if (dst !== null) patch.dst = dst;
    return { id: finding.id, patch, verdict: 'attributed' };
  }

  private completed(endpoint: Endpoint, timeMs: number): Endpoint | null {
    if (endpoint.kind !== 'external' || this.pods === null) return null;
    const pod = this.pods.podByIp(endpoint.ip, timeMs);
    if (pod !== null) {
      return {
        ...endpoint,
        kind: pod.hostNetwork ? 'node' : 'pod',
        pod: pod.hostNetwork ? null : { namespace: pod.namespace, name: pod.name, uid: pod.uid, container: null },
        node: pod.nodeName,
      };
    }
    const node = this.pods.nodeByAddress(endpoint.ip);
    return node === null ? null : { ...endpoint, kind: 'node', node: node.name };
  }
}

/**
 * Adds a sighting under its key and moves the key to the end of the map, so the map is
 * ordered by each key's newest sighting and `expire` stops at the first key still
 * fresh. Returns how many sightings the map gained (sightings of this key past
 * REMEMBER_MS are dropped here).
 */
function remember<T extends { timeMs: number }>(map: Map<string, T[]>, key: string, sighting: T): number {
  const list = map.get(key);
  if (list === undefined) {
    map.set(key, [sighting]);
    return 1;
  }
  map.delete(key);
  const stale = list.findIndex((old) => sighting.timeMs - old.timeMs <= REMEMBER_MS);
  const kept = stale === 0 ? list : stale < 0 ? [] : list.slice(stale);
  kept.push(sighting);
  map.set(key, kept);
  return 1 - (list.length - (kept.length - 1));
}

function forgetOldestKey(map: Map<string, Array<unknown>>): number {
  const oldestKey = map.keys().next().value as string;
  const removed = map.get(oldestKey)?.length ?? 0;
  map.delete(oldestKey);
  return removed;
}

/** Forgets keys whose newest sighting is older than REMEMBER_MS, oldest first; returns how many sightings went. */
function expire(map: Map<string, Array<{ timeMs: number }>>, nowMs: number): number {
  let removed = 0;
  for (const [key, sightings] of map) {
    if (nowMs - sightings[sightings.length - 1].timeMs <= REMEMBER_MS) break;
    removed += sightings.length;
    map.delete(key);
  }
  return removed;
}

function keyOf(finding: ResetFinding): string {
  return `${finding.src.ip}|${finding.src.port}|${finding.dst.ip}`;
}

function confirm(receiver: ResetFinding, sender: SenderView): CrossNodeDecision {
  const state = sender.state === null ? '' : ` in state ${sender.state}`;
  const patch: FindingPatch = {
    sentBy: 'endpoint',
    kernelReason: sender.kernelReason,
    state: sender.state,
    evidence: [
      ...receiver.evidence.filter((line) => !line.includes('forged')),
      `node ${sender.node}'s kernel logged tcp_send_reset (reason ${sender.kernelReason}${state}) for this RST: ${receiver.src.ip}:${receiver.src.port} sent it (finding ${sender.id})`,
    ],
  };
  if (receiver.cause === 'unknown' || receiver.cause === 'middlebox') {
    patch.cause = sender.cause;
    patch.advice = sender.advice;
  }
  if (receiver.src.kind === 'external' || receiver.src.process === null) {
    patch.src = { ...receiver.src, ...pick(sender.src, receiver.src), node: sender.src.node ?? sender.node };
  }
  return { id: receiver.id, patch, verdict: 'confirmed-endpoint' };
}

/** The sender's view of its own end, where it knows more than the receiver. */
function pick(known: Endpoint, fallback: Endpoint): Partial<Endpoint> {
  return {
    kind: known.kind === 'external' ? fallback.kind : known.kind,
    pod: known.pod ?? fallback.pod,
    process: known.process ?? fallback.process,
  };
}
