/**
 * `rstprobe demo`: a throw-away "cluster" of network namespaces (src/lab) that
 * reproduces each failure mode of DESIGN.md in turn, watched by a real agent.
 *
 *   gateway-node                      fabric (MTU 1400 to upstream-node,       upstream-node
 *     ingress-gateway-0 (nginx) ──────  ICMP frag-needed dropped, REJECT ────── reviews-v1, ratings-v1,
 *     rstprobe agent (node netns)       on :8081, DROP on :8082)                 details-v1 (+ "envoy"), productpage-v1
 *
 * Where the agent runs: inside the gateway node's network namespace, as it would on
 * a real node (hostNetwork). Packet capture (AF_PACKET) only sees the namespace it
 * runs in, so an agent in this machine's own namespace would see none of the lab's
 * packets — and the lab is never connected to it. The kernel's reset events are
 * kernel-wide, so the agent also learns which process of an upstream pod sent each
 * RST. Both nodes' CNI directories are given to it, so it names every pod. Its UI
 * reaches this machine through a Unix-socket relay (ui-relay.ts).
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DemoError } from '../common/errors';
import { Lab, waitForOutput, type LabFabric, type LabNode, type LabPod } from '../lab/lab';
import type { Finding } from '../protocol/finding';
import { FABRIC_MTU_BYTES, GATEWAY_NODE, matchesScenario, PODS, SCENARIOS, UPSTREAM_NODE, type Scenario, type ScenarioId } from './scenarios';
import { UiRelay } from './ui-relay';
import {
  abortingProxyScript,
  connectScript,
  crashingServerScript,
  httpGetScript,
  httpPostScript,
  keepAliveServerScript,
  nginxConfig,
  plainServerScript,
  pooledConnectionScript,
  unixToTcpRelayScript,
} from './workloads';

export const DEMO_LAB_PREFIX = 'demo';
/** Where the agent listens inside the gateway node (its own namespace: no clash with this machine). */
const AGENT_LISTEN = { host: '127.0.0.1', port: 7070 };
const GATEWAY_LISTEN = '127.0.0.1:8000';
const KEEPALIVE_TIMEOUT_MS = 1_000;
const PORTS = { reviews: 8080, crash: 8090, ratings: 8070, sidecar: 9080 } as const;

export interface DemoOptions {
  /** Where this machine reaches the UI (port 0: any free port). */
  readonly listen: { host: string; port: number };
  /** One pass over the scenarios, then tear down. */
  readonly once: boolean;
  /** Pause between passes when not `once`. */
  readonly pauseMs?: number;
  /** How long to wait for each scenario's finding (the path-MTU one gets longer). */
  readonly findingWaitMs?: number;
  readonly pmtuWaitMs?: number;
  /** The compiled CLI (dist/src/cli/main.js), run as the agent. */
  readonly cliPath: string;
  readonly agentLogLevel?: string;
  /** Each finding the agent reports (new and updated). */
  readonly onFinding: (finding: Finding) => void;
  /** One line of progress for people. */
  readonly say: (line: string) => void;
  /** One line describing a finding, for `say`. */
  readonly describe: (finding: Finding) => string;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  /** What the client in the gateway pod saw. */
  readonly clientSaw: string;
  readonly finding: Finding | null;
}

interface Pods {
  gateway: LabPod;
  reviews: LabPod;
  ratings: LabPod;
  details: LabPod;
  productpage: LabPod;
}

export class Demo {
  readonly name = 'demo';
  readonly findings: Finding[] = [];
  private lab: Lab | null = null;
  private agent: ChildProcess | null = null;
  private agentStderrTail = '';
  private relay: UiRelay | null = null;
  private crashServer: ChildProcess | null = null;
  private nginxErrorLog = '';
  private nginxLogOffset = 0;
  private stopping: Promise<void> | null = null;
  /** Set once the user asked to stop: children dying then is expected, not news. */
  private quiet = false;

  constructor(private readonly options: DemoOptions) {}

  /** Builds the lab, runs passes until `signal` aborts (or once), tears everything down. Returns the last pass. */
  async start(signal: AbortSignal): Promise<ScenarioResult[]> {
    const say = this.options.say;
    let results: ScenarioResult[] = [];
    signal.addEventListener('abort', () => (this.quiet = true), { once: true });
    try {
      const swept = await Lab.sweepStale(DEMO_LAB_PREFIX);
      if (swept.length > 0) say(`removed ${swept.length} namespaces left by an earlier demo that did not exit cleanly`);
      const { nodes, pods, fabric } = await this.buildLab();
      await this.startWorkloads(pods);
      await this.startAgent(nodes.gateway);
      const ui = await this.startUi(nodes.gateway);
      say(`rstprobe UI: http://${ui.host}:${ui.port}/  (agent inside ${GATEWAY_NODE.name}; /healthz, /metrics and /api/v1/findings there too)`);
      say(this.options.once ? 'one pass over every failure mode, then the lab is removed' : 'Ctrl-C removes the lab and everything in it');
      for (let pass = 1; !signal.aborted; pass++) {
        say(`── pass ${pass} ─────────────────────────────────────────────`);
        results = await this.runPass(pods, fabric, nodes, signal);
        this.summarize(results);
        if (this.options.once || signal.aborted) break;
        await sleep(this.options.pauseMs ?? 20_000, signal);
      }
    } catch (err) {
      // Stopping mid-scenario tears the lab down under the scenario's feet: not a failure.
      if (!signal.aborted) throw err;
    } finally {
      await this.stop();
    }
    return results;
  }

  /** Stops the agent gracefully (it removes its tracefs instance), then the lab. Idempotent. */
  async stop(): Promise<void> {
    this.quiet = true;
    this.stopping ??= (async () => {
      await this.relay?.stop();
      const agent = this.agent;
      if (agent !== null && agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise<void>((resolve) => agent.once('exit', () => resolve()));
        agent.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000)]);
      }
      if (this.lab !== null) {
        await this.lab.destroy();
        this.options.say('lab removed');
      }
    })();
    return this.stopping;
  }

  /**
   * For signal handlers, which run before the lab's own (that one SIGKILLs everything
   * in the lab at once): asks the agent to stop and waits, synchronously and at most
   * `graceMs`, until it has exited, so it removes its tracefs instance itself.
   */
  stopAgentSync(graceMs = 3_000): void {
    this.quiet = true;
    const pid = this.agent?.pid;
    if (pid === undefined || this.agent?.exitCode !== null || this.agent?.signalCode !== null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const deadline = Date.now() + graceMs; Date.now() < deadline; ) {
      // An exited child stays a zombie (state Z, proc(5)) until Node reaps it.
      let state = 'Z';
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      } catch {
        state = 'Z';
      }
      if (state === 'Z' || state === 'X') return;
      Atomics.wait(pause, 0, 0, 50);
    }
  }

  // ── building ───────────────────────────────────────────────────────────────

  private async buildLab(): Promise<{ nodes: { gateway: LabNode; upstream: LabNode }; pods: Pods; fabric: LabFabric }> {
    const say = this.options.say;
    const lab = await Lab.create({ prefix: DEMO_LAB_PREFIX });
    this.lab = lab;
    say(`building lab ${lab.prefix}-${lab.id}: a fabric, ${GATEWAY_NODE.name} and ${UPSTREAM_NODE.name} (network namespaces)`);
    const fabric = await lab.addFabric();
    const gateway = await lab.addNode(GATEWAY_NODE.name, { underlayIp: GATEWAY_NODE.underlayIp, podCidr: GATEWAY_NODE.podCidr });
    const upstream = await lab.addNode(UPSTREAM_NODE.name, { underlayIp: UPSTREAM_NODE.underlayIp, podCidr: UPSTREAM_NODE.podCidr });
    const pods: Pods = {
      gateway: await lab.addPod(gateway, PODS.gateway),
      reviews: await lab.addPod(upstream, PODS.reviews),
      ratings: await lab.addPod(upstream, PODS.ratings),
      details: await lab.addPod(upstream, PODS.details),
      productpage: await lab.addPod(upstream, PODS.productpage),
    };
    say(`pods: ${Object.values(pods).map((pod) => `${pod.namespace}/${pod.name} ${pod.ip}`).join(', ')}`);
    // Failure mode 6: the fabric link towards upstream-node is smaller than the pods'
    // 1500, and it drops the ICMP that would tell senders so (a PMTU black hole).
    await lab.setMtu(fabric, upstream.fabricIfname, FABRIC_MTU_BYTES);
    await lab.dropFragNeeded(fabric);
    // Failure mode 4: a firewall on the path, rejecting one port and dropping another.
    await lab.rejectWithTcpReset(fabric, { dst: PODS.productpage.ip, dport: scenario('reject').port! });
    await lab.insertRule(fabric, 4, 'FORWARD', ['-d', PODS.productpage.ip, '-p', 'tcp', '--dport', String(scenario('silent-drop').port), '-j', 'DROP']);
    say(`fabric: MTU ${FABRIC_MTU_BYTES} towards ${UPSTREAM_NODE.name} with ICMP frag-needed dropped; REJECT on ${PODS.productpage.ip}:8081, DROP on :8082`);
    return { nodes: { gateway, upstream }, pods, fabric };
  }

  private async startWorkloads(pods: Pods): Promise<void> {
    const lab = this.requireLab();
    await this.startServer(pods.reviews, process.execPath, ['-e', keepAliveServerScript(PORTS.reviews, KEEPALIVE_TIMEOUT_MS)]);
    this.crashServer = await this.startServer(pods.reviews, process.execPath, ['-e', crashingServerScript(PORTS.crash)]);
    await this.startServer(pods.ratings, process.execPath, ['-e', plainServerScript(PORTS.ratings)]);
    // The sidecar is a process named envoy: the kernel names a task after the file it executes.
    const envoy = path.join(lab.dir, 'envoy');
    fs.symlinkSync(process.execPath, envoy);
    await this.startServer(pods.details, envoy, ['-e', abortingProxyScript(PORTS.sidecar)]);
    // The ingress gateway: nginx in the gateway pod, proxying to the upstreams.
    const nginxDir = path.join(lab.dir, 'nginx');
    fs.mkdirSync(nginxDir);
    this.nginxErrorLog = path.join(nginxDir, 'error.log');
    const routes = [
      { path: '/crash', upstream: `${PODS.reviews.ip}:${PORTS.crash}` },
      { path: '/not-listening', upstream: `${PODS.reviews.ip}:${scenario('not-listening').port}` },
      { path: '/', upstream: `${PODS.reviews.ip}:${PORTS.reviews}` },
    ];
    fs.writeFileSync(path.join(nginxDir, 'nginx.conf'), nginxConfig(nginxDir, GATEWAY_LISTEN, routes));
    const nginx = lab.spawn(pods.gateway, 'nginx', ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf'), '-e', this.nginxErrorLog]);
    nginx.once('exit', (code) => {
      if (this.stopping === null && !this.quiet) this.options.say(`nginx gateway exited (${code ?? 'signal'}): ${readTail(this.nginxErrorLog)}`);
    });
    await this.waitForGateway(pods.gateway);
    this.options.say(`nginx gateway on ${PODS.gateway.ip} (${GATEWAY_LISTEN} in its pod); upstream servers running`);
  }

  private async startServer(pod: LabPod, command: string, args: string[]): Promise<ChildProcess> {
    const child = this.requireLab().spawn(pod, command, args);
    await waitForOutput(child, /^listening/, 15_000);
    return child;
  }

  private async waitForGateway(gateway: LabPod): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { stdout } = await this.requireLab().exec(gateway, [process.execPath, '-e', connectScript('127.0.0.1', 8000, null, 500)], { check: false });
      if (stdout.trim() === 'timeout') return; // connected and stayed open: nginx listens
      if (Date.now() > deadline) throw new DemoError(`the nginx gateway did not start: ${readTail(this.nginxErrorLog)}`);
      await sleep(200);
    }
  }

  private async startAgent(node: LabNode): Promise<void> {
    const lab = this.requireLab();
    const args = [
      this.options.cliPath,
      'agent',
      '--json',
      '--capture',
      'headers',
      '--node-name',
      GATEWAY_NODE.name,
      '--listen',
      `${AGENT_LISTEN.host}:${AGENT_LISTEN.port}`,
      '--cni-cache-dir',
      lab.cniDir(node),
      // NODE=DIR: the other node's pods are named with their own node, as an aggregator would.
      ...this.otherCniDirs(node).flatMap((dir) => ['--cni-cache-dir', `${path.basename(dir)}=${dir}`]),
      '--pmtu-targets',
      UPSTREAM_NODE.underlayIp,
      // The first measurement runs 2 s after start; then again each pass or so.
      '--pmtu-interval',
      '30',
      '--log-level',
      this.options.agentLogLevel ?? 'info',
    ];
    this.options.say(`starting the agent in ${GATEWAY_NODE.name}: rstprobe ${args.slice(1).join(' ')}`);
    const agent = lab.spawn(node, process.execPath, args);
    this.agent = agent;
    let buffered = '';
    agent.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          const finding = JSON.parse(line) as Finding;
          this.findings.push(finding);
          this.options.onFinding(finding);
        } catch {
          this.options.say(`agent printed a line that is not a finding: ${line.slice(0, 200)}`);
        }
      }
    });
    agent.stderr?.on('data', (chunk: Buffer) => {
      this.agentStderrTail = (this.agentStderrTail + chunk.toString('utf8')).slice(-4_000);
    });
    try {
      await waitForOutput(agent, /"msg":"agent running"/, 30_000);
    } catch (err) {
      throw new DemoError(`the agent did not start in the lab: ${lastLines(this.agentStderrTail, 3)}`, { cause: err });
    }
    this.options.say(`agent running (pid ${agent.pid ?? '?'})`);
    agent.once('exit', (code, signal) => {
      if (this.stopping === null && !this.quiet) this.options.say(`the agent exited (${code ?? signal}): ${lastLines(this.agentStderrTail, 3)}`);
    });
  }

  private otherCniDirs(node: LabNode): string[] {
    const lab = this.requireLab();
    const root = path.dirname(lab.cniDir(node));
    return fs
      .readdirSync(root)
      .map((entry) => path.join(root, entry))
      .filter((dir) => dir !== lab.cniDir(node));
  }

  private async startUi(node: LabNode): Promise<{ host: string; port: number }> {
    const lab = this.requireLab();
    const socketPath = path.join(lab.dir, 'ui.sock');
    const inner = lab.spawn(node, process.execPath, ['-e', unixToTcpRelayScript(socketPath, AGENT_LISTEN.host, AGENT_LISTEN.port)]);
    await waitForOutput(inner, /relay listening/, 10_000);
    this.relay = new UiRelay(this.options.listen, socketPath);
    try {
      return await this.relay.start();
    } catch (err) {
      throw new DemoError(
        `cannot listen on ${this.options.listen.host}:${this.options.listen.port} for the UI (${(err as Error).message}); choose another with --listen HOST:PORT`,
        { cause: err },
      );
    }
  }

  // ── scenarios ──────────────────────────────────────────────────────────────

  private async runPass(pods: Pods, fabric: LabFabric, nodes: { gateway: LabNode; upstream: LabNode }, signal: AbortSignal): Promise<ScenarioResult[]> {
    const results: ScenarioResult[] = [];
    for (const [index, current] of SCENARIOS.entries()) {
      if (signal.aborted) break;
      this.options.say(`[${index + 1}/${SCENARIOS.length}] failure mode ${current.mode}, ${current.title}: ${current.action}`);
      const seenBefore = this.findings.length;
      const clientSaw = await this.drive(current.id, pods, fabric, nodes);
      this.options.say(`    the gateway saw: ${clientSaw}`);
      for (const line of this.newNginxErrors()) this.options.say(`    nginx error.log: ${line}`);
      const waitMs = current.expect.kind === 'pmtu' ? (this.options.pmtuWaitMs ?? 30_000) : (this.options.findingWaitMs ?? 12_000);
      const finding = await this.waitForFinding(current, waitMs, signal, seenBefore);
      this.options.say(finding === null ? `    rstprobe: no ${describeExpectation(current)} finding within ${waitMs / 1000} s` : `    rstprobe: ${this.options.describe(finding)}`);
      results.push({ scenario: current, clientSaw, finding });
    }
    return results;
  }

  private async drive(id: ScenarioId, pods: Pods, _fabric: LabFabric, nodes: { gateway: LabNode; upstream: LabNode }): Promise<string> {
    const lab = this.requireLab();
    const node = process.execPath;
    const run = async (pod: LabPod, script: string, timeoutMs = 20_000): Promise<string> => {
      const { stdout } = await lab.exec(pod, [node, '-e', script], { timeoutMs, check: false });
      return stdout.trim().split('\n').join('; ') || '(nothing)';
    };
    switch (id) {
      case 'crash': {
        if (this.crashServer === null || this.crashServer.exitCode !== null || this.crashServer.signalCode !== null) {
          this.crashServer = await this.startServer(pods.reviews, node, ['-e', crashingServerScript(PORTS.crash)]);
        }
        const saw = await run(pods.gateway, httpGetScript(`http://${GATEWAY_LISTEN}/crash`, 8_000));
        // As a kubelet would, start the crashed server again for the next pass.
        this.crashServer = await this.startServer(pods.reviews, node, ['-e', crashingServerScript(PORTS.crash)]);
        return `GET /crash through nginx → ${saw}`;
      }
      case 'restart': {
        const client = lab.spawn(pods.gateway, node, ['-e', pooledConnectionScript(PODS.ratings.ip, PORTS.ratings, 'stdin')], { stdio: ['pipe', 'pipe', 'pipe'] });
        const outcome = collectOutput(client);
        await waitForOutput(client, /connection pooled/, 10_000);
        await lab.removePod(pods.ratings);
        pods.ratings = await lab.addPod(nodes.upstream, PODS.ratings);
        // The gateway reuses the connection while the new pod's server is still starting:
        // its kernel has no socket at all for the segment (NO_SOCKET on a non-SYN).
        await sleep(1_000); // the sandbox is up a moment before the app in it listens
        client.stdin?.write('go\n');
        const saw = await outcome;
        await this.startServer(pods.ratings, node, ['-e', plainServerScript(PORTS.ratings)]);
        return `pooled connection to ratings-v1, pod replaced on the same IP, reused before its server is up → ${saw}`;
      }
      case 'keepalive-race':
        return `pooled connection to reviews-v1, idle past its ${KEEPALIVE_TIMEOUT_MS} ms keep-alive → ${await run(pods.gateway, pooledConnectionScript(PODS.reviews.ip, PORTS.reviews, 'server-fin'))}`;
      case 'sidecar':
        return `request to details-v1:${PORTS.sidecar} → ${await run(pods.gateway, connectScript(PODS.details.ip, PORTS.sidecar, 'GET / HTTP/1.1\r\nHost: details\r\n\r\n', 5_000))}`;
      case 'reject':
        return `connect to productpage-v1:8081 → ${await run(pods.gateway, connectScript(PODS.productpage.ip, 8081, null, 5_000))}`;
      case 'silent-drop':
        return `connect to productpage-v1:8082 → ${await run(pods.gateway, connectScript(PODS.productpage.ip, 8082, null, 7_000))}`;
      case 'not-listening':
        return `GET /not-listening through nginx → ${await run(pods.gateway, httpGetScript(`http://${GATEWAY_LISTEN}/not-listening`, 8_000))}`;
      case 'mtu':
        // Towards upstream-node: full-size segments need the fabric's ICMP to shrink, and it is dropped.
        return `POST 256 KiB to reviews-v1 → ${await run(pods.gateway, httpPostScript(`http://${PODS.reviews.ip}:${PORTS.reviews}/upload`, 256 * 1024, 4_000))}`;
    }
  }

  private async waitForFinding(current: Scenario, waitMs: number, signal: AbortSignal, fromIndex: number): Promise<Finding | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      // A finding of an earlier pass counts too: the rollup folds repeats into it.
      const found = this.findings.slice(fromIndex).find((f) => matchesScenario(current, f)) ?? this.findings.find((f) => matchesScenario(current, f));
      if (found !== undefined) return found;
      if (Date.now() >= deadline || signal.aborted) return null;
      await sleep(250, signal);
    }
  }

  private summarize(results: readonly ScenarioResult[]): void {
    const found = results.filter((r) => r.finding !== null).length;
    this.options.say(`pass done: ${found} of ${results.length} failure-mode scenarios produced the finding they should`);
    for (const result of results) {
      this.options.say(`    ${result.finding === null ? '✗' : '✓'} mode ${result.scenario.mode} ${result.scenario.id}: expected ${describeExpectation(result.scenario)}`);
    }
  }

  private newNginxErrors(): string[] {
    try {
      const text = fs.readFileSync(this.nginxErrorLog, 'utf8');
      const fresh = text.slice(this.nginxLogOffset);
      this.nginxLogOffset = text.length;
      return fresh
        .split('\n')
        .filter((line) => /\[(error|warn)\]/.test(line))
        .map((line) => line.replace(/^\S+ \S+ /, '').slice(0, 240));
    } catch {
      return [];
    }
  }

  private requireLab(): Lab {
    if (this.lab === null) throw new DemoError('the demo lab is not built');
    return this.lab;
  }
}

function scenario(id: ScenarioId): Scenario {
  const found = SCENARIOS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new DemoError(`no scenario ${id}`);
  return found;
}

export function describeExpectation(current: Scenario): string {
  const expect = current.expect;
  if (expect.kind === 'pmtu') return `pmtu (${expect.pmtuBytes} bytes${expect.blackHole ? ', black hole' : ''}) to ${current.upstreamIp}`;
  if (expect.kind === 'syn-timeout') return `syn-timeout at ${current.upstreamIp}:${current.port}`;
  return `reset from ${current.upstreamIp}:${current.port}, cause ${expect.cause}${expect.sentBy === undefined ? '' : `, sent by ${expect.sentBy}`}`;
}

/** Resolves with the child's stdout lines joined, once it exits. */
function collectOutput(child: ChildProcess): Promise<string> {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return new Promise((resolve) => child.once('exit', () => resolve(text.trim().split('\n').join('; '))));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function readTail(file: string): string {
  try {
    return lastLines(fs.readFileSync(file, 'utf8'), 2);
  } catch {
    return '(no log)';
  }
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}
