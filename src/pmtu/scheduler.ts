/**
 * The agent's periodic path-MTU measurement (issue 5): every interval (with jitter,
 * so a DaemonSet's agents do not probe in step) it picks the targets (targets.ts),
 * measures them a few at a time, compares each path with this node's interfaces
 * (mismatch.ts), attaches what the capture saw (path-observer.ts), and publishes a
 * finding only when a path is new or its pmtu, mismatch or black-hole verdict changed.
 * Lifecycle: start(signal), stop(); a measurement in flight is aborted at stop.
 */
import type { ClusterView } from '../attribution/kubernetes/types';
import type { PacketObservation } from '../capture/observation';
import type { Logger } from '../common/log';
import type { PmtuMetrics } from '../common/metrics';
import type { PmtuFinding } from '../protocol/finding';
import { readNodeInterfaces, type NodeInterface } from './interfaces';
import { compareMeasuredPath } from './mismatch';
import { measurePath, type MeasureOptions, type PathMeasurement } from './path-prober';
import { PathObserver } from './path-observer';
import { buildPmtuFinding, type PmtuTarget } from './pmtu-finding';
import { readPodInterfaceMtus, type PodInterfaceMtu } from './pod-mtu';
import { DEFAULT_GATEWAY_SELECTOR, selectTargets } from './targets';

export interface PmtuSchedulerOptions {
  nodeName: string;
  log: Logger;
  /** `--pmtu-targets`. */
  staticTargets: readonly string[];
  cluster: () => ClusterView | null;
  gatewaySelector?: Readonly<Record<string, string>>;
  cniDirs: readonly string[];
  publish: (finding: PmtuFinding) => void;
  metrics?: PmtuMetrics;
  /** Default 5 minutes: path MTUs change with the fabric, not by the second. */
  intervalMs?: number;
  /** Share of the interval added or removed at random (default 0.2). */
  jitter?: number;
  /** Delay before the first cycle (default 2 s, so Kubernetes and the capture have started). */
  firstDelayMs?: number;
  /** Measurements at once (default 2). */
  concurrency?: number;
  /** Replaces measurePath (tests). */
  measure?: (targetIp: string, options: MeasureOptions) => Promise<PathMeasurement>;
}

export const DEFAULT_PMTU_INTERVAL_MS = 5 * 60_000;
const MAX_REMEMBERED_PATHS = 4096;

export class PmtuScheduler {
  readonly name = 'pmtu';
  readonly observer = new PathObserver();
  private readonly log: Logger;
  private readonly lastState = new Map<string, string>();
  private readonly problems = new Map<string, { mismatch: boolean; blackHole: boolean }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private abort = new AbortController();
  private stopped = false;

  constructor(private readonly options: PmtuSchedulerOptions) {
    this.log = options.log.child({ component: 'pmtu' });
  }

  /** Feeds the capture's packets (SYN MSS, ICMP too-big, gateway peers). */
  observe(observation: PacketObservation): void {
    this.observer.observe(observation);
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.schedule(this.options.firstDelayMs ?? 2_000);
    this.log.info(
      { staticTargets: this.options.staticTargets, intervalMs: this.intervalMs, gatewaySelector: this.options.gatewaySelector ?? DEFAULT_GATEWAY_SELECTOR },
      'path-MTU measurement scheduled',
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** One measurement cycle now (also what the timer runs); resolves when it is done. */
  runCycle(): Promise<void> {
    this.running ??= this.cycle().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private get intervalMs(): number {
    return this.options.intervalMs ?? DEFAULT_PMTU_INTERVAL_MS;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runCycle().finally(() => {
        const jitter = this.options.jitter ?? 0.2;
        this.schedule(this.intervalMs * (1 + jitter * (2 * Math.random() - 1)));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    const selection = selectTargets(
      this.options.nodeName,
      this.options.staticTargets,
      this.options.cluster(),
      this.options.gatewaySelector ?? DEFAULT_GATEWAY_SELECTOR,
      this.observer.peerAddresses(),
    );
    this.observer.setLocalSources(selection.gatewayIps);
    if (selection.targets.length === 0) {
      this.log.debug({ reason: selection.reason }, 'no path-MTU targets this cycle');
      return;
    }
    this.log.debug({ targets: selection.targets.length, reason: selection.reason }, 'path-MTU cycle');
    const interfaces = await readNodeInterfaces().catch((err: unknown) => {
      this.log.warn({ err }, 'cannot list interfaces; comparing with the route device only');
      return [] as NodeInterface[];
    });
    const pods = await readPodInterfaceMtus({ cniDirs: this.options.cniDirs, hostMtus: new Map(interfaces.map((link) => [link.ifname, link.mtuBytes])) }).catch(
      (err: unknown) => {
        this.log.warn({ err }, 'cannot read pod interface MTUs');
        return [] as PodInterfaceMtu[];
      },
    );
    let smallest: number | null = null;
    const queue = [...selection.targets];
    const worker = async (): Promise<void> => {
      for (let target = queue.shift(); target !== undefined && !this.stopped; target = queue.shift()) {
        const pmtu = await this.measureOne(target, interfaces, pods);
        if (pmtu !== null) smallest = smallest === null ? pmtu : Math.min(smallest, pmtu);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency ?? 2) }, worker));
    if (smallest !== null) this.options.metrics?.smallestPathMtu.set(smallest);
    const problems = [...this.problems.values()];
    this.options.metrics?.problemPaths.set({ problem: 'mismatch' }, problems.filter((problem) => problem.mismatch).length);
    this.options.metrics?.problemPaths.set({ problem: 'black_hole' }, problems.filter((problem) => problem.blackHole).length);
  }

  /** Measures one target and publishes when its verdict changed; returns the path MTU, or null. */
  private async measureOne(target: PmtuTarget, interfaces: readonly NodeInterface[], pods: readonly PodInterfaceMtu[]): Promise<number | null> {
    const measure = this.options.measure ?? measurePath;
    let measurement: PathMeasurement;
    try {
      measurement = await measure(target.ip, { signal: this.abort.signal });
    } catch (err) {
      this.options.metrics?.measurements.inc({ result: 'error' });
      this.log.warn({ err, target: target.ip }, 'path-MTU measurement failed');
      return null;
    }
    this.options.metrics?.probes.inc(measurement.probes);
    if (measurement.pmtuBytes === null) {
      this.options.metrics?.measurements.inc({ result: 'no_answer' });
      if (!this.stopped) this.log.warn({ target: target.ip, probes: measurement.probes }, 'no answer to ICMP echo or UDP probes; path MTU unknown');
      return null;
    }
    this.options.metrics?.measurements.inc({ result: 'ok' });
    const answered = measurement as PathMeasurement & { pmtuBytes: number };
    const comparison = compareMeasuredPath(target.ip, answered, interfaces, pods);
    this.problems.set(target.ip, { mismatch: comparison.mismatch, blackHole: answered.blackHole });
    const state = `${answered.pmtuBytes}|${comparison.mismatch}|${answered.blackHole}`;
    if (this.lastState.get(target.ip) !== state && !this.stopped) {
      this.lastState.delete(target.ip);
      this.lastState.set(target.ip, state);
      // Targets come and go with pods: keep the most recent verdicts only.
      if (this.lastState.size > MAX_REMEMBERED_PATHS) {
        const oldest = this.lastState.keys().next().value;
        if (oldest !== undefined) {
          this.lastState.delete(oldest);
          this.problems.delete(oldest);
        }
      }
      const passive = this.observer.evidenceFor(target.ip, answered.pmtuBytes, answered.family);
      this.options.publish(buildPmtuFinding(this.options.nodeName, target, answered, comparison, passive));
    }
    return answered.pmtuBytes;
  }
}
