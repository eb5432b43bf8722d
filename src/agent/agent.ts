import { AttributionService } from '../attribution/attribution-service';
import type { Attributor } from '../attribution/attributor';
import type { ClusterView } from '../attribution/kubernetes/types';
import { RouteTable } from '../attribution/routes';
import { PrivilegeError } from '../common/errors';
import type { Logger } from '../common/log';
import { createAgentMetrics, createPmtuMetrics, type AgentMetrics } from '../common/metrics';
import { PacketCapture, type CaptureMode } from '../capture/packet-capture';
import type { PacketObservation } from '../capture/observation';
import { hostSources } from '../diagnose/fact-gatherer';
import { EvidenceRecorder, type EvidenceRecorderOptions } from '../evidence/evidence-recorder';
import { ResetAnalyzer } from '../diagnose/reset-analyzer';
import { startWithKernelEventsMode, type KernelEventsMode } from '../kernel/mode';
import { KernelResetEvents } from '../kernel/reset-events';
import { PmtuScheduler } from '../pmtu/scheduler';
import type { Finding } from '../protocol/finding';
import { HttpServer, sendText } from './http-server';
import { CAP_NET_RAW, hasCapability } from './privileges';

export interface AgentOptions {
  nodeName: string;
  interfaces: 'any' | string[];
  captureMode: CaptureMode;
  kernelEvents: KernelEventsMode;
  listen: { host: string; port: number };
  log: Logger;
  /** Receives every finding: new ones, and rolled-up ones whose count grew (`update`). */
  publish: (finding: Finding, update: boolean) => void;
  /** Receives a finding's evidence capture (pcapng bytes), stored and served at /api/v1/findings/:id/pcap. */
  attachEvidence?: (findingId: string, pcapng: Buffer) => void;
  /** Evidence captures of each new reset finding (`--evidence-dir`; bounded store); null turns them off. */
  evidence?: Pick<EvidenceRecorderOptions, 'dir' | 'maxFiles' | 'maxBytes'> | null;
  /** Replaces the attribution service (tests); without it the agent attributes from CNI cache and Kubernetes. */
  attributor?: Attributor;
  /** Where attribution learns who owns an address (`--cni-cache-dir`, `--kubeconfig`, `--watch-scope`). */
  attribution?: { cniCacheDirs: string[]; kubeconfigPath: string | null; watchScope: 'node' | 'cluster' };
  /** Path-MTU measurement (`--pmtu-targets`, `--gateway-selector`, `--pmtu-interval`). */
  pmtu?: { targets: string[]; gatewaySelector?: Record<string, string>; intervalMs?: number };
}

/** How often pending RSTs are judged, rollups published and state expired. */
const TICK_MS = 250;
/** How often kernel drop counters and gauges are refreshed. */
const STATS_MS = 1_000;
/** How often the routing table is re-read. */
const ROUTES_MS = 10_000;

/**
 * The node agent: composes capture, kernel events, analysis and the HTTP endpoints.
 * Lifecycle: start(signal) until the signal aborts or stop() is called.
 */
export class Agent {
  readonly name = 'agent';
  readonly metrics: AgentMetrics;
  private readonly log: Logger;
  /** The agent's HTTP server; the standalone agent adds the embedded aggregator's routes before start(). */
  readonly http: HttpServer;
  private readonly capture: PacketCapture;
  private readonly analyzer: ResetAnalyzer;
  /** Who owns which address (CNI cache, Kubernetes); null when a test supplied its own attributor. */
  readonly attribution: AttributionService | null;
  private kernelEvents: KernelResetEvents | null = null;
  private routes: RouteTable | null = null;
  private routesReadAtMs = 0;
  private timers: NodeJS.Timeout[] = [];
  private stopped: Promise<void> | null = null;
  private reportedDrops = 0;
  private reportedEvicted = 0;
  private reportedDuplicates = 0;
  private reportedFrames = 0;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log.child({ component: 'agent' });
    this.metrics = createAgentMetrics();
    this.http = new HttpServer(options.listen, options.log.child({ component: 'http' }));
    this.capture = new PacketCapture({
      interfaces: options.interfaces,
      mode: options.captureMode,
      log: options.log.child({ component: 'capture' }),
    });
    this.attribution =
      options.attributor === undefined
        ? new AttributionService({
            nodeName: options.nodeName,
            cniCacheDirs: options.attribution?.cniCacheDirs ?? [],
            kubeconfigPath: options.attribution?.kubeconfigPath ?? null,
            watchScope: options.attribution?.watchScope ?? 'cluster',
            log: options.log,
          })
        : null;
    this.analyzer = new ResetAnalyzer({
      nodeName: options.nodeName,
      attributor: options.attributor ?? this.attribution!.attributor,
      routes: () => this.currentRoutes(),
      kernelEventsActive: () => this.kernelEvents !== null,
      captureMode: options.captureMode,
      sources: hostSources({ cluster: () => this.cluster, netnsOf: (ip, timeMs) => this.podNetnsPath(ip, timeMs) }),
      onFinding: (finding, update) => this.onFinding(finding, update),
      onVerdict: (verdict) => this.metrics.resets.inc({ cause: verdict.cause, sent_by: verdict.sentBy }),
    });
    this.pmtu = new PmtuScheduler({
      nodeName: options.nodeName,
      log: options.log,
      staticTargets: options.pmtu?.targets ?? [],
      gatewaySelector: options.pmtu?.gatewaySelector,
      intervalMs: options.pmtu?.intervalMs,
      cluster: () => this.cluster,
      cniDirs: options.attribution?.cniCacheDirs ?? [],
      metrics: createPmtuMetrics(this.metrics.registry),
      publish: (finding) => this.onFinding(finding, false),
    });
    this.evidence = null;
    if (options.evidence !== null) {
      try {
        this.evidence = new EvidenceRecorder({ ...options.evidence, nodeName: options.nodeName, log: options.log });
      } catch (err) {
        this.log.warn({ err, dir: options.evidence?.dir }, 'evidence captures are off: the evidence directory cannot be used');
      }
    }
  }

  /** The last packets of each flow, written as a pcapng for every new reset finding; null when off. */
  readonly evidence: EvidenceRecorder | null;

  /** Periodic path-MTU measurement; the capture feeds it SYN MSS values and ICMP too-big errors. */
  readonly pmtu: PmtuScheduler;

  /** Address the HTTP endpoints listen on, once started. */
  listenAddress: { host: string; port: number } | null = null;

  /** The network namespace of the pod holding `ip`, from the CNI cache (diagnosis reads its listening sockets). */
  private podNetnsPath(ip: string, timeMs: number): string | null {
    const uid = this.attribution?.attributor.endpoint(ip, 0, timeMs).pod?.uid;
    return uid === undefined ? null : (this.attribution?.podNetwork(uid)?.netnsPath ?? null);
  }

  /** The Kubernetes view (for diagnosis and path-MTU targets); null without Kubernetes. */
  get cluster(): ClusterView | null {
    return this.attribution?.cluster ?? null;
  }

  /** True while kernel reset events are being read (sent to the aggregator in hello and heartbeats). */
  get kernelEventsActive(): boolean {
    return this.kernelEvents !== null;
  }

  async start(signal: AbortSignal): Promise<void> {
    assertAgentPrivileges();
    this.http.route('/healthz', (_request, response) =>
      this.capture.running
        ? sendText(response, 200, this.attribution === null ? 'ok\n' : `ok\n${this.attribution.healthLine()}\n`)
        : sendText(response, 503, 'capture not running\n'),
    );
    this.http.route('/metrics', async (_request, response) => {
      this.refreshGauges();
      sendText(response, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
    });
    this.capture.on('packet', (observation: PacketObservation) => {
      this.evidence?.record(observation); // before the analyzer, so a finding's capture holds its RST
      this.analyzer.observe(observation);
      this.pmtu.observe(observation);
    });
    this.capture.on('decode-error', (error: { layer: string }) => this.metrics.decodeErrors.inc({ layer: error.layer }));
    this.capture.on('error', (err: Error) => this.log.error({ err }, 'capture failed'));

    // Attribution first: the CNI cache is read before the first packet needs it.
    await this.attribution?.start(signal);
    await this.capture.start(signal);
    this.metrics.captureUp.set(1);
    this.kernelEvents = await startWithKernelEventsMode(
      this.options.kernelEvents,
      () => new KernelResetEvents({ logger: this.options.log }),
      signal,
      this.log,
    );
    this.kernelEvents?.on('event', (event) => {
      this.metrics.kernelEvents.inc({ direction: event.direction });
      this.analyzer.addKernelEvent(event);
    });
    this.kernelEvents?.on('failed', (err) => {
      this.log.warn({ err }, 'kernel reset events stopped; continuing from packets alone');
      this.kernelEvents = null;
    });
    this.metrics.kernelEventsUp.set(this.kernelEvents === null ? 0 : 1);
    const address = await this.http.start();
    this.listenAddress = { host: address.address, port: address.port };
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.refreshGauges(), STATS_MS));
    await this.pmtu.start(signal);
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.log.info({ node: this.options.nodeName, listen: this.listenAddress, kernelEvents: this.kernelEvents !== null }, 'agent running');
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.pmtu.stop();
    await this.capture.stop();
    this.tick(true);
    await this.attribution?.stop();
    await this.kernelEvents?.stop();
    this.kernelEvents = null;
    await this.http.stop();
    // An agent that never ran (e.g. no CAP_NET_RAW) leaves the one-line error alone on stderr.
    if (this.listenAddress !== null) this.log.info({ counters: this.analyzer.counters, capture: this.capture.counters }, 'agent stopped');
  }

  private tick(force = false): void {
    const nowMs = Date.now();
    for (const counted of this.capture.drainStormCounts()) {
      this.analyzer.addCountedResets(counted.classKey, counted.count, counted.firstMs, counted.lastMs);
    }
    this.analyzer.tick(nowMs, force);
  }

  private onFinding(finding: Finding, update: boolean): void {
    if (!update) this.metrics.findings.inc({ kind: finding.kind });
    this.options.publish(finding, update);
    if (!update && finding.kind === 'reset' && this.evidence !== null) {
      const pcapng = this.evidence.captureFinding(finding);
      if (pcapng !== null) this.options.attachEvidence?.(finding.id, pcapng);
    }
  }

  private currentRoutes(): RouteTable {
    const nowMs = Date.now();
    if (this.routes === null || nowMs - this.routesReadAtMs > ROUTES_MS) {
      this.routes = RouteTable.read();
      this.routesReadAtMs = nowMs;
    }
    return this.routes;
  }

  private refreshGauges(): void {
    const kernel = this.capture.readKernelStats();
    this.metrics.kernelDrops.inc(kernel.drops - this.reportedDrops);
    this.reportedDrops = kernel.drops;
    const flows = this.analyzer.flowTable;
    this.metrics.flowsTracked.set(flows.size);
    this.metrics.flowsEvicted.inc(flows.evicted - this.reportedEvicted);
    this.reportedEvicted = flows.evicted;
    // Storm-suppressed RSTs were captured too; they are counted, not delivered one by one.
    const frames = this.capture.counters.frames + this.capture.counters.stormSuppressed;
    const { duplicates } = this.capture.counters;
    this.metrics.duplicatePackets.inc(duplicates - this.reportedDuplicates);
    this.reportedDuplicates = duplicates;
    this.metrics.packetsCaptured.inc(frames - this.reportedFrames);
    this.reportedFrames = frames;
    if (this.attribution !== null) {
      const health = this.attribution.health();
      this.metrics.attributionAddresses.set(health.addresses);
      this.metrics.attributionCniPods.set(health.cni.pods);
      this.metrics.cniMalformedFiles.set(health.cni.malformedFiles);
      this.metrics.kubernetesStale.set(health.kubernetes?.stale === true ? 1 : 0);
    }
  }
}

/** Fails with one line before anything is built (or logged) when the agent cannot capture at all. */
export function assertAgentPrivileges(): void {
  if (!hasCapability(CAP_NET_RAW)) {
    throw new PrivilegeError(
      'the agent needs CAP_NET_RAW to capture packets: run it as root (sudo), or grant NET_RAW (setcap cap_net_raw+ep, or securityContext.capabilities.add)',
    );
  }
}
