import type { IncomingMessage } from 'node:http';
import type { HttpServer } from '../agent/http-server';
import type { Logger } from '../common/log';
import type { AggregatorMetrics } from '../common/metrics';
import type { Finding } from '../protocol/finding';
import { AgentDirectory } from './agent-directory';
import { AgentIngest } from './agent-ingest';
import { registerApi } from './api';
import type { Authenticator } from './auth';
import { CrossNodeVerdicts, type CrossNodeDecision, type PodDirectory } from './cross-node';
import { FindingStream } from './finding-stream';
import type { FindingStore, StoredChange } from './store';
import { WalCheckpointer } from './wal-checkpointer';
import { presentedToken } from './ui/access-token';
import { serveUi } from './ui/serve-ui';

export interface AggregatorOptions {
  http: HttpServer;
  store: FindingStore;
  metrics: AggregatorMetrics;
  log: Logger;
  /** Serve `/api/v1/agents` (the aggregator command); the standalone agent publishes in-process instead. */
  ingest: boolean;
  /** Who may stream (null: anyone — only for tests and loopback-only setups). */
  agentAuth: Authenticator | null;
  /** When set, the UI, the read API and the stream need a token it accepts (Bearer, or the UI's cookie). */
  apiAuth: Authenticator | null;
  /** The cluster-wide pod map, when the aggregator watches Kubernetes. */
  pods?: PodDirectory | null;
  crossNodeGraceMs?: number;
  idleTimeoutMs?: number;
  /** How often retention runs. */
  retentionEveryMs?: number;
  /** Serve the web UI at `/`. */
  ui?: boolean;
}

/** How often pending cross-node verdicts are decided. */
const VERDICT_TICK_MS = 500;

/** Resets stored by one commit, summed per label set of rstprobe_resets_total (keyed by the labels joined). */
type ResetCounts = Map<string, { labels: { cause: string; namespace: string; sent_by: string }; added: number }>;

/**
 * The aggregator: agents' findings in (`/api/v1/agents`), one store, cross-node
 * verdicts, the read API, the live stream, the UI and metrics out. It only composes;
 * each concept lives in its own file of this folder. The aggregator command and the
 * standalone agent both run it on their HttpServer.
 */
export class Aggregator {
  readonly name = 'aggregator';
  readonly agents = new AgentDirectory();
  readonly stream: FindingStream;
  readonly ingest: AgentIngest | null;
  private readonly verdicts: CrossNodeVerdicts;
  private readonly log: Logger;
  private readonly pmtuBlackHoles = new Map<string, boolean>();
  private timers: NodeJS.Timeout[] = [];
  private checkpointer: WalCheckpointer | null = null;
  private stopped: Promise<void> | null = null;

  constructor(private readonly options: AggregatorOptions) {
    this.log = options.log.child({ component: 'aggregator' });
    const admit = async (request: IncomingMessage): Promise<boolean> => {
      if (options.apiAuth === null) return true;
      const token = presentedToken(request);
      return token !== null && (await options.apiAuth.authenticate(token)).ok;
    };
    this.stream = new FindingStream(options.log.child({ component: 'finding-stream' }), admit);
    this.verdicts = new CrossNodeVerdicts(this.agents, options.pods ?? null, options.crossNodeGraceMs ?? 10_000, (id) => options.store.get(id));
    this.ingest = options.ingest
      ? new AgentIngest({
          store: options.store,
          authenticator: options.agentAuth,
          agents: this.agents,
          metrics: options.metrics,
          log: options.log.child({ component: 'agent-ingest' }),
          idleTimeoutMs: options.idleTimeoutMs,
          onStored: (changed) => this.afterStored(changed),
        })
      : null;
    const { http } = options;
    registerApi(http, options.store, admit);
    http.upgrade('/api/v1/stream', (request, socket, head) => this.stream.handleUpgrade(request, socket, head));
    if (this.ingest !== null) {
      const ingest = this.ingest;
      http.upgrade('/api/v1/agents', (request, socket, head) => ingest.handleUpgrade(request, socket, head));
    }
    if (options.ui !== false) serveUi(http, { log: options.log, authenticator: options.apiAuth });
  }

  start(signal: AbortSignal): void {
    const { store } = this.options;
    this.checkpointer = new WalCheckpointer(store.path, this.log, (on) => store.setAutoCheckpoint(on));
    this.checkpointer.start();
    this.stream.start();
    this.ingest?.start();
    this.timers.push(setInterval(() => this.applyDecisions(this.verdicts.tick()), VERDICT_TICK_MS));
    this.timers.push(setInterval(() => this.enforceRetention(), this.options.retentionEveryMs ?? 60_000));
    this.enforceRetention();
    signal.addEventListener('abort', () => void this.stop(), { once: true });
  }

  /** Standalone agent: a finding from this process, stored and streamed like an agent's. */
  publishLocal(finding: Finding, update: boolean): void {
    const stored = this.options.store.mergeFinding(finding);
    this.afterStored([{ ...stored, update }]);
  }

  /** Standalone agent: evidence produced in this process. */
  attachLocalEvidence(findingId: string, pcapng: Buffer): void {
    this.options.store.putEvidence(findingId, pcapng);
  }

  private afterStored(changed: StoredChange[]): void {
    const resets: ResetCounts = new Map();
    for (const { finding, update, added } of changed) {
      this.count(finding, added, resets);
      this.stream.publish(finding, update);
      this.applyDecisions(this.verdicts.observe(finding, update));
    }
    // One labelled increment per label set of the batch (prom-client hashes the labels on every call).
    for (const { labels, added } of resets.values()) this.options.metrics.resets?.inc(labels, added);
  }

  private applyDecisions(decisions: CrossNodeDecision[]): void {
    for (const decision of decisions) {
      const finding = this.options.store.patchFinding(decision.id, decision.patch);
      if (finding === null) continue;
      if (decision.verdict !== 'attributed') this.options.metrics.crossNodeVerdicts.inc({ verdict: decision.verdict });
      this.log.debug({ id: decision.id, verdict: decision.verdict }, 'cross-node decision');
      this.stream.publish(finding, true);
    }
  }

  /** Metrics of one stored finding; reset counts are summed into `resets` by label set. */
  private count(finding: Finding, added: number, resets: ResetCounts): void {
    const { metrics } = this.options;
    if (finding.kind === 'pmtu') {
      const toNode = finding.to.node ?? finding.to.ip;
      metrics.pmtuBytes.set({ from_node: finding.from.node, to_node: toNode }, finding.pmtu);
      this.pmtuBlackHoles.set(`${finding.from.node}→${toNode}`, finding.blackHole);
      metrics.pmtuBlackHoles.set([...this.pmtuBlackHoles.values()].filter(Boolean).length);
      return;
    }
    if (added <= 0) return;
    if (finding.kind === 'syn-timeout') {
      metrics.synTimeouts.inc(added);
      return;
    }
    const namespace = finding.src.pod?.namespace ?? finding.dst.pod?.namespace ?? '';
    const key = `${finding.cause}\u0000${namespace}\u0000${finding.sentBy}`;
    const sum = resets.get(key);
    if (sum === undefined) resets.set(key, { labels: { cause: finding.cause, namespace, sent_by: finding.sentBy }, added });
    else sum.added += added;
  }

  private enforceRetention(): void {
    try {
      const { deleted } = this.options.store.enforceRetention();
      if (deleted > 0) this.log.info({ deleted }, 'retention deleted old findings');
    } catch (err) {
      this.log.error({ err }, 'retention failed');
    }
  }

  /**
   * Commits and acks what is pending, closes the connections, and waits for the WAL
   * checkpointer's last checkpoint and close, so the store's files are quiet when it
   * resolves. Once; later calls wait for the first.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.ingest?.stop();
    this.stream.stop();
    await this.checkpointer?.stop();
    this.checkpointer = null;
  }
}
