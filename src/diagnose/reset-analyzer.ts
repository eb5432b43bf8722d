import type { Attributor } from '../attribution/attributor';
import type { RouteTable } from '../attribution/routes';
import { PACKET_OUTGOING, type PacketObservation } from '../capture/observation';
import { TcpFlag } from '../decode/types';
import { directionalKey } from '../flows/flow-key';
import { FlowTable } from '../flows/flow-table';
import type { ResetFinding } from '../protocol/finding';
import { FactGatherer, type DiagnosisSources } from './fact-gatherer';
import type { FlowDetail } from './idle';
import { KernelEventIndex, type KernelResetRecord } from './kernel-join';
import { answersSyn, judgeReset, type ResetContext, type ResetVerdict } from './reset-verdict';
import { ResetRollup } from './rollup';
import { SynWatch, type UnansweredSyn } from './syn-watch';
import { judgeSynTimeout } from './syn-timeout';
import { TtlBaseline } from './ttl';

export interface ResetAnalyzerOptions {
  nodeName: string;
  attributor: Attributor;
  /** Routing table of the capture's namespace; null offline. */
  routes: () => RouteTable | null;
  /** Whether kernel reset events are being read right now. */
  kernelEventsActive: () => boolean;
  /** How long a RST waits for its kernel event before it is judged without one. */
  joinDelayMs?: number;
  /** At most this many RSTs wait for kernel events; past it (a storm) the oldest is judged at once. */
  maxPending?: number;
  flowTable?: FlowTable;
  /** What the capture records: every TCP segment (`headers`) or SYN/FIN/RST only (`control`, the default). */
  captureMode?: FlowDetail;
  /** Cluster, namespace and process facts for the verdicts (fact-gatherer.ts); none by default. */
  sources?: DiagnosisSources;
  /** SYNs unanswered this long (with a retransmission) become syn-timeout findings. */
  synTimeoutMs?: number;
  /**
   * Updates (below) are snapshots of the finding (default), or the open finding
   * itself, which keeps counting after the call: only for a consumer that reads
   * findings once the analysis is over (offline).
   */
  updates?: 'snapshots' | 'live';
  /** Called with each new finding, and with rolled-up findings whose count changed (`update` true). */
  onFinding: (finding: ResetFinding, update: boolean) => void;
  /** Called once per judged RST (rolled up or not), e.g. for counters. */
  onVerdict?: (verdict: ResetVerdict) => void;
}

/** A RST and its kernel event are the same reset when their times are this close (clock conversion error included). */
const KERNEL_JOIN_TOLERANCE_MS = 2_000;
const DEFAULT_MAX_PENDING = 10_000;
/** How often a flow side's TTL is refreshed in the baseline. */
const TTL_REFRESH_MS = 1_000;
const MAX_STORM_CLASSES = 20_000;

interface PendingReset {
  context: ResetContext;
  key: string;
  deadlineMs: number;
  done: boolean;
}

export interface ResetAnalyzerCounters {
  resets: number;
  joined: number;
  unjoined: number;
  /** RSTs judged before their join delay ran out because too many were waiting. */
  pendingOverflow: number;
  /** RSTs of a storm counted into a finding without individual analysis. */
  countedOnly: number;
  /** Counted-only RSTs whose class had no open finding any more. */
  countedUnattached: number;
}

/**
 * From packets and kernel events to reset findings. Pure composition of the flow
 * table, the TTL baseline, the kernel join, the verdict and the rollup: no I/O, so
 * the live agent and offline analysis use the same code.
 */
export class ResetAnalyzer {
  private readonly flows: FlowTable;
  private readonly ttl = new TtlBaseline();
  private readonly kernelEvents = new KernelEventIndex(KERNEL_JOIN_TOLERANCE_MS);
  private readonly rollup: ResetRollup;
  /** RSTs waiting for their kernel event: in arrival order (deadlines) and by direction key (joins). */
  private pendingQueue: PendingReset[] = [];
  private pendingHead = 0;
  private readonly pendingByKey = new Map<string, PendingReset[]>();
  private readonly joinDelayMs: number;
  readonly counters: ResetAnalyzerCounters = { resets: 0, joined: 0, unjoined: 0, pendingOverflow: 0, countedOnly: 0, countedUnattached: 0 };
  /** The finding each storm class's last analysed RST went to, and counts waiting for one. */
  private readonly stormFindings = new Map<number, string>();
  private readonly countedWaiting = new Map<number, { count: number; firstMs: number; lastMs: number }>();
  private pendingCount = 0;
  private readonly facts: FactGatherer;
  private readonly synWatch: SynWatch;
  private readonly detail: FlowDetail;

  constructor(private readonly options: ResetAnalyzerOptions) {
    this.flows = options.flowTable ?? new FlowTable();
    this.joinDelayMs = options.joinDelayMs ?? 300;
    this.facts = new FactGatherer(options.sources ?? {});
    this.synWatch = new SynWatch(options.synTimeoutMs);
    this.detail = options.captureMode ?? 'control';
    this.rollup = new ResetRollup(undefined, options.updates !== 'live');
  }

  observe(observation: PacketObservation): void {
    const { ip, tcp } = observation.packet;
    if (tcp === null) return;
    if ((tcp.flags & TcpFlag.RST) === 0) {
      const flow = this.flows.observe(observation);
      if (flow === null) return;
      if ((tcp.flags & TcpFlag.SYN) !== 0) this.synWatch.observeSyn(observation, flow);
      const side = flow.lastSide;
      // The baseline needs each source's TTL, not every packet's: refresh it per side when it changes, or once a second.
      if ((side.ttlRecordedMs === null || side.ttl !== side.ttlRecorded || side.lastSeenMs - side.ttlRecordedMs >= TTL_REFRESH_MS)) {
        this.ttl.record(side.address.ip, side.ttl, observation.timeMs); // the interned address: its hash is cached
        side.ttlRecordedMs = side.lastSeenMs; // the live side's scale (FlowTable.tableTimeMs)
        side.ttlRecorded = side.ttl;
      }
      return;
    }
    this.counters.resets++;
    const src = { ip: ip.src, port: tcp.srcPort };
    const dst = { ip: ip.dst, port: tcp.dstPort };
    const route = this.options.routes()?.lookup(ip.src) ?? null;
    const context: ResetContext = {
      timeMs: observation.timeMs,
      src,
      dst,
      tcp,
      ttl: ip.ttl,
      ipId: ip.ipId,
      arrived: observation.pktType !== PACKET_OUTGOING,
      flow: this.flows.snapshot(src, dst),
      detail: this.detail,
      kernelEvent: null,
      kernelEventsActive: this.options.kernelEventsActive(),
      senderOnThisKernel: this.options.attributor.isOnThisKernel(ip.src, observation.timeMs),
      senderBehindRouter: route === null ? null : route.gateway !== null,
      expectedTtl: this.ttl.expected(ip.src, observation.timeMs),
      stormClass: observation.stormClass ?? null,
    };
    if (context.flow !== null) this.flows.observe(observation); // a RST alone does not open a flow
    context.kernelEvent = this.kernelEvents.take('send', src, dst, observation.timeMs);
    if (context.kernelEvent !== null || !context.kernelEventsActive) {
      this.finish(context);
    } else {
      const pending: PendingReset = { context, key: directionalKey(src, dst), deadlineMs: Date.now() + this.joinDelayMs, done: false };
      this.pendingQueue.push(pending);
      const list = this.pendingByKey.get(pending.key);
      if (list === undefined) this.pendingByKey.set(pending.key, [pending]);
      else list.push(pending);
      if (++this.pendingCount > (this.options.maxPending ?? DEFAULT_MAX_PENDING)) {
        this.counters.pendingOverflow++;
        this.judgeOldestPending(Infinity, 1);
      }
    }
  }

  addKernelEvent(event: KernelResetRecord): void {
    if (event.direction === 'send') {
      const key = directionalKey(event.src, event.dst);
      const list = this.pendingByKey.get(key);
      const index = list?.findIndex(({ context }) => Math.abs(context.timeMs - event.timeMs) <= KERNEL_JOIN_TOLERANCE_MS) ?? -1;
      if (list !== undefined && index >= 0) {
        const [pending] = list.splice(index, 1);
        if (list.length === 0) this.pendingByKey.delete(key);
        pending.done = true;
        this.pendingCount--;
        pending.context.kernelEvent = event;
        this.finish(pending.context);
        return;
      }
    }
    this.kernelEvents.add(event);
  }

  /** Judges RSTs whose kernel event did not come in time, publishes rollup updates, expires old state. */
  tick(nowMs = Date.now(), force = false): void {
    this.judgeOldestPending(force ? Infinity : nowMs, Infinity);
    for (const syn of this.synWatch.expire(nowMs)) this.reportSynTimeout(syn, nowMs);
    for (const finding of this.rollup.takeUpdates(nowMs)) this.options.onFinding(finding, true);
    this.kernelEvents.expire(nowMs);
    this.flows.expire(nowMs);
  }

  /** Judges up to `limit` waiting RSTs, oldest first, whose deadline is at or before `untilMs`. */
  private judgeOldestPending(untilMs: number, limit: number): void {
    const queue = this.pendingQueue;
    let judged = 0;
    while (judged < limit && this.pendingHead < queue.length && queue[this.pendingHead].deadlineMs <= untilMs) {
      const pending = queue[this.pendingHead++];
      if (pending.done) continue;
      pending.done = true;
      this.pendingCount--;
      judged++;
      const list = this.pendingByKey.get(pending.key);
      if (list !== undefined) {
        list.splice(list.indexOf(pending), 1);
        if (list.length === 0) this.pendingByKey.delete(pending.key);
      }
      this.finish(pending.context);
    }
    if (this.pendingHead === queue.length) {
      this.pendingQueue = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > queue.length) {
      this.pendingQueue = queue.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  get flowTable(): FlowTable {
    return this.flows;
  }

  /** Connection attempts being watched for an answer. */
  get synWatchSize(): number {
    return this.synWatch.size;
  }

  private reportSynTimeout(syn: UnansweredSyn, nowMs: number): void {
    const facts = this.facts.gather({ timeMs: syn.lastMs, src: syn.server, dst: syn.client, kernelEvent: null, wantListening: false });
    const verdict = judgeSynTimeout(syn, facts, nowMs);
    const { attributor, nodeName } = this.options;
    const finding = this.rollup.add(
      {
        kind: 'syn-timeout',
        node: nodeName,
        timeMs: syn.firstMs,
        src: attributor.endpoint(syn.server.ip, syn.server.port, syn.lastMs),
        dst: attributor.endpoint(syn.client.ip, syn.client.port, syn.lastMs),
        sentBy: verdict.sentBy,
        cause: verdict.cause,
        kernelReason: null,
        state: null,
        ttl: syn.ttl,
        expectedTtl: null,
        idleMs: null,
        evidence: verdict.evidence,
        advice: verdict.advice,
      },
      syn.server.port,
    );
    if (finding.isNew) this.options.onFinding(finding.finding, false);
  }

  private finish(context: ResetContext): void {
    if (context.kernelEvent !== null) this.counters.joined++;
    else this.counters.unjoined++;
    const facts = this.facts.gather({ timeMs: context.timeMs, src: context.src, dst: context.dst, kernelEvent: context.kernelEvent, wantListening: answersSyn(context) });
    const verdict = judgeReset(context, facts);
    this.options.onVerdict?.(verdict);
    const { attributor, nodeName } = this.options;
    const src = attributor.endpoint(context.src.ip, context.src.port, context.timeMs);
    const process = context.kernelEvent?.process ?? null;
    if (process !== null && src.process === null) src.process = { pid: process.pid, comm: process.comm ?? `pid ${process.pid}` };
    if (process !== null) attributor.completeProcess?.(src, process, context.timeMs);
    const dst = attributor.endpoint(context.dst.ip, context.dst.port, context.timeMs);
    const client = context.flow?.flow.client;
    const servicePort =
      client === null || client === undefined
        ? Math.min(context.src.port, context.dst.port)
        : client.port === context.src.port && client.ip === context.src.ip
          ? context.dst.port
          : context.src.port;
    const finding = this.rollup.add(
      {
        kind: 'reset',
        node: nodeName,
        timeMs: context.timeMs,
        src,
        dst,
        sentBy: verdict.sentBy,
        cause: verdict.cause,
        kernelReason: context.kernelEvent?.reason ?? null,
        state: context.kernelEvent?.state ?? null,
        ttl: context.ttl,
        expectedTtl: context.expectedTtl,
        idleMs: verdict.idleMs,
        evidence: verdict.evidence,
        advice: verdict.advice,
      },
      servicePort,
    );
    if (finding.isNew) this.options.onFinding(finding.finding, false);
    if (context.stormClass !== null) {
      if (this.stormFindings.size >= MAX_STORM_CLASSES) this.stormFindings.clear();
      this.stormFindings.set(context.stormClass, finding.finding.id);
      const waiting = this.countedWaiting.get(context.stormClass);
      if (waiting !== undefined) {
        this.countedWaiting.delete(context.stormClass);
        this.attachCounted(context.stormClass, waiting.count, waiting.firstMs, waiting.lastMs);
      }
    }
  }

  /**
   * Adds RSTs that the storm guard counted without analysis to the finding of
   * the last analysed RST of their class (same sender and receiver addresses).
   */
  addCountedResets(classKey: number, count: number, firstMs: number, lastMs: number): void {
    this.counters.resets += count;
    this.counters.countedOnly += count;
    if (this.stormFindings.has(classKey)) {
      this.attachCounted(classKey, count, firstMs, lastMs);
      return;
    }
    // The class's analysed RST is still waiting for its kernel event: keep the count for it.
    const waiting = this.countedWaiting.get(classKey);
    if (waiting !== undefined) {
      waiting.count += count;
      waiting.lastMs = lastMs;
    } else if (this.countedWaiting.size < MAX_STORM_CLASSES) {
      this.countedWaiting.set(classKey, { count, firstMs, lastMs });
    } else {
      this.counters.countedUnattached += count;
    }
  }

  private attachCounted(classKey: number, count: number, firstMs: number, lastMs: number): void {
    const findingId = this.stormFindings.get(classKey)!;
    const rateText = lastMs > firstMs ? ` at about ${Math.round((count * 1000) / (lastMs - firstMs))}/s` : '';
    const attached = this.rollup.addCounted(
      findingId,
      count,
      lastMs,
      (total) => `storm: ${total} more RSTs between these addresses arrived${rateText}, past the analysis budget; they were counted here without individual analysis`,
    );
    if (!attached) this.counters.countedUnattached += count;
  }
}
