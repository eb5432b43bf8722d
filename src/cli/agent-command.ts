import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { Agent, assertAgentPrivileges } from '../agent/agent';
import { parseListenAddress } from '../agent/http-server';
import { startFindingSink } from './finding-sink-setup';
import { createRootLogger, type LogLevel } from '../common/log';
import { KERNEL_EVENTS_MODES, type KernelEventsMode } from '../kernel/mode';
import type { CaptureMode } from '../capture/packet-capture';
import { abortOnSignals, addSharedOptions, reportFailure } from './shared';
import { formatFindingLine } from './finding-text';
import { pmtuAgentOptions } from './pmtu-command';

interface AgentFlags {
  json: boolean;
  logLevel: LogLevel;
  nodeName?: string;
  interfaces: string;
  capture: CaptureMode;
  cniCacheDir: string[];
  kubeconfig?: string;
  watchScope?: 'node' | 'cluster';
  pmtuTargets?: string;
  gatewaySelector?: string;
  pmtuInterval?: string;
  kernelEvents: KernelEventsMode;
  tokenFile?: string;
  listen: string;
  aggregator?: string;
  spoolDir?: string;
  spoolMaxMb: string;
  agentId?: string;
  db?: string;
  apiTokenFile?: string;
  evidenceDir?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerAgentCommand(program: Command): void {
  const command = program
    .command('agent')
    .description('capture resets on this node, find who sent them and why, and serve /healthz and /metrics');
  addSharedOptions(command)
    .option('--node-name <name>', 'name of this node (default: $NODE_NAME, else the hostname)')
    .option('--interfaces <list>', "interfaces to capture: 'any', or names and patterns like eth0,veth*", 'any')
    .addOption(
      new Option('--capture <mode>', 'control: RST/SYN/FIN and ICMP too-big only; headers: every TCP segment, cut to its headers')
        .choices(['control', 'headers'])
        .default('control'),
    )
    .option('--cni-cache-dir <dir>', "CNI state directory (may repeat; default /var/lib/cni); NODE=DIR for another node's copy", collect, [])
    .option('--kubeconfig <path>', 'kubeconfig file (in-cluster config is detected)')
    .addOption(new Option('--watch-scope <scope>', 'pods to watch').choices(['node', 'cluster']))
    .option('--pmtu-targets <ips>', 'addresses to measure path MTU to, comma-separated')
    .option('--gateway-selector <labels>', 'with Kubernetes: measure from nodes running pods with these labels (k=v,…; default istio=ingressgateway)')
    .option('--pmtu-interval <seconds>', 'seconds between path-MTU measurements (default 300, with ±20% jitter)')
    .addOption(
      new Option('--kernel-events <mode>', 'read tcp_send_reset/tcp_receive_reset from tracefs')
        .choices([...KERNEL_EVENTS_MODES])
        .default('auto'),
    )
    .option('--token-file <path>', 'bearer token for the aggregator')
    .option('--listen <host:port>', 'address for /healthz and /metrics (and the UI when standalone)', '127.0.0.1:7070')
    .option('--aggregator <url>', 'stream findings to this aggregator (ws://host:port/api/v1/agents)')
    .option('--spool-dir <dir>', 'where findings wait on disk while the aggregator is away (default: /var/lib/rstprobe/spool, else the OS temp dir)')
    .option('--spool-max-mb <mb>', 'bound of the on-disk spool; findings past it are dropped and counted', '64')
    .option('--agent-id <id>', 'identity towards the aggregator (default: the node name)')
    .option('--db <file>', 'standalone: keep findings in this SQLite file (default: a temporary file)')
    .option('--api-token-file <path>', 'standalone: token(s) the UI and API require')
    .option('--evidence-dir <dir>', 'where each new reset finding\'s pcapng of its flow is kept, oldest deleted past 500 files or 64 MB (default: rstprobe-evidence in the OS temp dir)')
    .action(async (flags: AgentFlags) => {
      await runAgent(flags).catch(reportFailure);
    });
}

async function runAgent(flags: AgentFlags): Promise<void> {
  const log = createRootLogger(flags.logLevel);
  const listen = parseListenAddress(flags.listen);
  const interfaces =
    flags.interfaces.trim() === 'any'
      ? 'any'
      : flags.interfaces
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name.length > 0);
  const controller = new AbortController();
  assertAgentPrivileges();
  const agent = new Agent({
    nodeName: flags.nodeName ?? process.env.NODE_NAME ?? hostname(),
    interfaces,
    captureMode: flags.capture,
    kernelEvents: flags.kernelEvents,
    listen,
    log,
    attribution: {
      cniCacheDirs: flags.cniCacheDir,
      kubeconfigPath: flags.kubeconfig ?? null,
      // Streaming to an aggregator, which completes remote ends, each agent needs only its own node's pods.
      watchScope: flags.watchScope ?? (flags.aggregator === undefined ? 'cluster' : 'node'),
    },
    pmtu: pmtuAgentOptions(flags.pmtuTargets, flags.gatewaySelector, flags.pmtuInterval),
    // Standalone: stdout and the embedded aggregator; with --aggregator: stdout and the stream (src/cli/finding-sink-setup.ts).
    publish: (finding, update) => sink.publish(finding, update),
    attachEvidence: (findingId, pcapng) => sink.attachEvidence(findingId, pcapng),
    evidence: { dir: flags.evidenceDir },
  });
  const sink = startFindingSink(flags, agent, log, controller.signal, (finding) => (flags.json ? JSON.stringify(finding) : formatFindingLine(finding)));
  const removeSignalHandlers = abortOnSignals(controller);
  try {
    await agent.start(controller.signal);
  } catch (err) {
    await agent.stop();
    await sink.stop();
    removeSignalHandlers();
    throw err;
  }
  const address = agent.listenAddress;
  if (!flags.json && address !== null) {
    const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    // Standalone, the embedded aggregator serves the UI here: say so, it is what `npm start` is for.
    process.stderr.write(
      flags.aggregator === undefined
        ? `rstprobe agent: UI on http://${where}/ (API /api/v1/findings, /healthz, /metrics); Ctrl-C stops\n`
        : `rstprobe agent on ${where} (/healthz, /metrics), streaming to ${flags.aggregator}; Ctrl-C stops\n`,
    );
  }
  await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  await agent.stop();
  await sink.stop();
}
