import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NODE_FLAGS } from '../src/cli/main';
import { Lab, waitForOutput, type LabNetns } from '../test/lab/lab';

const CLI_PATH = path.resolve(__dirname, '../src/cli/main.js');
const LOAD_PATH = path.resolve(__dirname, 'aggregator-load.js');

/**
 * Issue 6 benchmarks.
 * 1. Ingest: `rstprobe aggregator` (a child process, real SQLite file) and 1,000
 *    simulated agents (real WebSocket clients in four child processes), 10 findings/s
 *    each for 30 s. Targets: all 10k/s ingested, p99 ack ≤ 100 ms, RSS ≤ 500 MB.
 * 2. Lab: a RST on the wire to its finding in the aggregator's API/stream, p50/p99
 *    over 1,000 resets (agent in a lab node namespace streaming to an aggregator).
 */

export interface IngestFigures {
  agents: number;
  durationS: number;
  offeredPerS: number;
  ingestedPerS: number;
  storedItems: number;
  sent: number;
  acked: number;
  failed: number;
  ackP50Ms: number;
  ackP99Ms: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  aggregatorCpuS: number;
  /** The load generators' CPU, all processes, while they sent and drained acks. */
  generatorsCpuS: number;
  /** How late the generators' sends were against their schedule (worst process's p99). */
  sendLagP99Ms: number;
  processes: number;
}

function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
}

async function startAggregator(args: readonly string[], spawnIn?: (argv: string[]) => ChildProcess): Promise<{ child: ChildProcess; port: number }> {
  // Run as deployed: with the node flags of every rstprobe entry point (the shebang, npm start, the image).
  const argv = [...NODE_FLAGS, CLI_PATH, 'aggregator', '--log-level', 'info', ...args];
  const child = spawnIn === undefined ? spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] }) : spawnIn(argv);
  const line = await waitForOutput(child, /"msg":"aggregator running"/, 20_000);
  const port = Number(/"port":(\d+)/.exec(line)?.[1]);
  return { child, port };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function scrape(port: number, metric: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) if (line.startsWith(metric) && !line.startsWith('#')) total += Number(line.split(' ').at(-1));
  return total;
}

export async function runAggregatorIngest(agents = 1_000, ratePerS = 10, durationS = 30, processes = 4): Promise<IngestFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-bench-agg-'));
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'bench-token\n');
  const { child, port } = await startAggregator(['--listen', '127.0.0.1:0', '--db', path.join(dir, 'bench.db'), '--token-file', tokenFile]);
  try {
    const before = await scrape(port, 'rstprobe_ingested_items_total{kind="finding"}');
    const cpuBefore = cpuSeconds(child.pid!);
    const perProcess = Math.ceil(agents / processes);
    const loads = Array.from({ length: processes }, (_, index) => {
      const first = index * perProcess;
      const count = Math.min(perProcess, agents - first);
      const load = spawn(process.execPath, [LOAD_PATH, `ws://127.0.0.1:${port}/api/v1/agents`, 'bench-token', String(first), String(count), String(ratePerS), String(durationS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      load.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      return new Promise<{ sent: number; acked: number; failed: number; latenciesMs: number[]; cpuS: number; sendLagP99Ms: number }>((resolve, reject) =>
        load.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`load generator exited with ${code}`)))),
      );
    });
    const results = await Promise.all(loads);
    const rssPeakMiB = procStatus(child.pid!, 'VmHWM');
    const rssEndMiB = procStatus(child.pid!, 'VmRSS');
    const aggregatorCpuS = cpuSeconds(child.pid!) - cpuBefore;
    const storedItems = (await scrape(port, 'rstprobe_ingested_items_total{kind="finding"}')) - before;
    const latencies = results.flatMap((result) => result.latenciesMs).sort((a, b) => a - b);
    const sent = results.reduce((sum, result) => sum + result.sent, 0);
    return {
      agents,
      durationS,
      offeredPerS: agents * ratePerS,
      ingestedPerS: storedItems / durationS,
      storedItems,
      sent,
      acked: results.reduce((sum, result) => sum + result.acked, 0),
      failed: results.reduce((sum, result) => sum + result.failed, 0),
      ackP50Ms: percentile(latencies, 0.5),
      ackP99Ms: percentile(latencies, 0.99),
      rssPeakMiB,
      rssEndMiB,
      aggregatorCpuS,
      generatorsCpuS: results.reduce((sum, result) => sum + result.cpuS, 0),
      sendLagP99Ms: Math.max(...results.map((result) => result.sendLagP99Ms)),
      processes,
    };
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LabLatencyFigures {
  resets: number;
  /** Distinct resets the agent itself printed (its --json output). */
  printedByAgent: number;
  seen: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Prints one line per finding from /api/v1/stream: `<epoch ms> <finding json>`. */
const STREAM_WATCHER = `
const WebSocket = require(${JSON.stringify(require.resolve('ws'))});
const socket = new WebSocket(process.argv[1]);
socket.on('open', () => process.stdout.write('open\\n'));
socket.on('message', (data) => process.stdout.write(Date.now() + ' ' + data.toString() + '\\n'));
`;

/** Connects to each closed port once (one RST each), printing `<port> <epoch ms of the refusal>`. */
const RESET_MAKER = `
const net = require('net');
const [host, first, count] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < Number(count); i += 1) {
    const port = Number(first) + i;
    await new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.on('error', () => { process.stdout.write(port + ' ' + Date.now() + '\\n'); resolve(); });
      socket.on('connect', () => { socket.destroy(); resolve(); });
    });
    // 50 ms apart: 20 RSTs/s stays under the agent's storm budget (25 RSTs/s per address pair), so each is analysed.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
})();
`;

export async function runAggregatorLabLatency(resets = 1_000): Promise<LabLatencyFigures> {
  const lab = await Lab.create({ prefix: 'bagg' });
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-bench-agg-lab-'));
  try {
    const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    const client = await lab.addPod(node, { namespace: 'bench', name: 'client-0', ip: '10.244.1.10' });
    const server = await lab.addPod(node, { namespace: 'bench', name: 'server-0', ip: '10.244.1.20' });
    const spawnIn = (where: LabNetns) => (argv: string[]) => {
      const child = lab.spawn(where, process.execPath, argv);
      children.push(child);
      return child;
    };
    writeFileSync(path.join(dir, 'token'), 'lab-token\n');
    const aggregator = await startAggregator(['--listen', '127.0.0.1:7071', '--db', path.join(dir, 'lab.db'), '--token-file', path.join(dir, 'token')], spawnIn(node));
    const agent = spawnIn(node)([CLI_PATH, 'agent', '--json', '--listen', '127.0.0.1:7070', '--cni-cache-dir', node.cniDir, '--aggregator', `ws://127.0.0.1:${aggregator.port}/api/v1/agents`, '--token-file', path.join(dir, 'token'), '--spool-dir', path.join(dir, 'spool')]);
    // The agent's own --json output: which resets it found at all (to tell its misses from the stream's).
    const printedPorts = new Set<number>();
    let agentBuffered = '';
    agent.stdout?.on('data', (chunk: Buffer) => {
      agentBuffered += chunk.toString('utf8');
      const lines = agentBuffered.split('\n');
      agentBuffered = lines.pop() ?? '';
      for (const line of lines) {
        const finding = JSON.parse(line) as { kind: string; src?: { ip: string; port: number } };
        if (finding.kind === 'reset' && finding.src?.ip === server.ip) printedPorts.add(finding.src.port);
      }
    });
    await waitForOutput(agent, /"msg":"connected to the aggregator"/, 30_000);
    const watcher = spawnIn(node)(['-e', STREAM_WATCHER, `ws://127.0.0.1:${aggregator.port}/api/v1/stream`]);
    await waitForOutput(watcher, /^open$/m, 10_000);
    const arrivals = new Map<number, number>();
    let buffered = '';
    watcher.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        if (space < 0) continue;
        const message = JSON.parse(line.slice(space + 1)) as { update: boolean; finding: { kind: string; src?: { ip: string; port: number } } };
        const src = message.finding.src;
        if (message.finding.kind === 'reset' && src?.ip === server.ip && !arrivals.has(src.port)) arrivals.set(src.port, Number(line.slice(0, space)));
      }
    });
    const firstPort = 20_000;
    const maker = spawnIn(client)(['-e', RESET_MAKER, server.ip, String(firstPort), String(resets)]);
    const refusedAt = new Map<number, number>();
    let makerBuffered = '';
    maker.stdout?.on('data', (chunk: Buffer) => {
      makerBuffered += chunk.toString('utf8');
      const lines = makerBuffered.split('\n');
      makerBuffered = lines.pop() ?? '';
      for (const line of lines) {
        const [port, atMs] = line.split(' ').map(Number);
        refusedAt.set(port, atMs);
      }
    });
    await new Promise((resolve) => maker.once('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (arrivals.size < refusedAt.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const latencies = [...refusedAt].filter(([port]) => arrivals.has(port)).map(([port, atMs]) => arrivals.get(port)! - atMs).sort((a, b) => a - b);
    return { resets: refusedAt.size, printedByAgent: printedPorts.size, seen: latencies.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: latencies.at(-1) ?? NaN };
  } finally {
    for (const child of children) await stopChild(child);
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both parts, printed with PASS/FAIL lines through `check` (bench/run.ts). */
export async function reportAggregatorBench(check: (ok: boolean, text: string) => void): Promise<void> {
  const ingest = await runAggregatorIngest();
  console.log(`\nAggregator ingest: ${ingest.agents} simulated agents (real WebSockets, ${ingest.processes} processes), ${ingest.offeredPerS / ingest.agents} findings/s each, ${ingest.durationS} s`);
  console.table({
    'rstprobe aggregator': {
      'offered/s': ingest.offeredPerS,
      'ingested/s': Math.round(ingest.ingestedPerS),
      'sent / acked': `${ingest.sent} / ${ingest.acked}`,
      'ack p50 ms': ingest.ackP50Ms.toFixed(1),
      'ack p99 ms': ingest.ackP99Ms.toFixed(1),
      'RSS peak MiB': ingest.rssPeakMiB.toFixed(0),
      'CPU s': ingest.aggregatorCpuS.toFixed(1),
      'µs CPU/item': ((ingest.aggregatorCpuS / ingest.storedItems) * 1e6).toFixed(0),
    },
  });
  console.log(`load generators: ${ingest.generatorsCpuS.toFixed(1)} CPU s in all · send lag p99 ${ingest.sendLagP99Ms.toFixed(1)} ms behind schedule`);
  console.log(`ingested/offered = ${((ingest.ingestedPerS / ingest.offeredPerS) * 100).toFixed(2)}%  ·  connection errors ${ingest.failed}`);
  check(ingest.storedItems >= ingest.sent && ingest.ingestedPerS >= ingest.offeredPerS * 0.99, `aggregator: ${Math.round(ingest.ingestedPerS)}/s ingested of ${ingest.offeredPerS}/s offered, ${ingest.storedItems} of ${ingest.sent} sent stored (target: all)`);
  check(ingest.ackP99Ms <= 100, `aggregator: p99 ack latency ${ingest.ackP99Ms.toFixed(1)} ms (target ≤ 100 ms)`);
  check(ingest.rssPeakMiB <= 500, `aggregator: peak RSS ${ingest.rssPeakMiB.toFixed(0)} MiB (target ≤ 500 MB)`);

  const lab = await runAggregatorLabLatency();
  console.log(`\nRST on the wire → finding on the aggregator's stream (lab, agent streaming over WebSocket): ${lab.seen} of ${lab.resets} resets (the agent printed ${lab.printedByAgent})`);
  console.log(`p50 ${lab.p50Ms.toFixed(0)} ms · p99 ${lab.p99Ms.toFixed(0)} ms · max ${lab.maxMs.toFixed(0)} ms`);
  check(lab.seen === lab.printedByAgent && lab.resets > 0, `aggregator lab: ${lab.seen} of the ${lab.printedByAgent} resets the agent found reached the aggregator's stream (target: all)`);
  check(lab.printedByAgent === lab.resets, `aggregator lab: the agent found ${lab.printedByAgent} of ${lab.resets} resets made (capture and analysis, not the stream)`);
}
