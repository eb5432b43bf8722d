import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Attributor } from '../src/attribution/attributor';
import type { PacketObservation } from '../src/capture/observation';
import { readCaptureFile } from '../src/capture-file';
import { decodeFrame } from '../src/decode/decode';
import { ResetAnalyzer } from '../src/diagnose/reset-analyzer';
import type { Endpoint } from '../src/protocol/finding';
import { writePcap, type FixturePacket } from '../test/support/capture-writer';
import { buildTcp, type TcpBuildOptions } from '../test/support/packet-builder';

/**
 * Flows + diagnosis throughput (issue 4): a deterministic, recorded 1M-packet
 * headers stream (many concurrent flows with handshakes, requests, responses,
 * FINs, and about 1% RSTs: refused SYNs, aborts, keep-alive races) replayed from a
 * pcap through the offline reader, src/decode and the ResetAnalyzer in a child
 * process of its own, so its peak RSS is the pipeline's alone. Three runs of the
 * same file separate the costs: read only, read + decode, read + decode + flows +
 * diagnosis; the analysis rate is packets / (full − decode). The replays run with
 * the node flags of every rstprobe entry point (NODE_FLAGS: the agent's young
 * generation size), so the garbage collector works as it does in the agent.
 * Targets: ≥ 1M packets/s for flows + diagnosis, ≤ 200 MB peak RSS.
 */
export interface DiagnosisBenchResult {
  file: string;
  packets: number;
  resets: number;
  findings: number;
  flows: number;
  read: ReplayReport;
  decode: ReplayReport;
  full: ReplayReport;
  /** Flows + diagnosis alone: packets per CPU second of (full − decode). */
  analysisPacketsPerS: number;
  /** src/decode alone: packets per CPU second of (decode − read). */
  decodePacketsPerS: number;
  fullPeakRssMiB: number;
  flowsEvicted: number;
  /** Node flags the replays ran with (the CLI's NODE_FLAGS). */
  nodeFlags: readonly string[];
  /** The peer: Wireshark's TCP conversation tracking over the same file. */
  tshark: { cpuS: number; maxRssMiB: number } | null;
}

interface ReplayReport {
  mode: ReplayMode;
  packets: number;
  seconds: number;
  /** User + system CPU of the replay: the machine may be shared, and wall time then measures the neighbours too. */
  cpuS: number;
  maxRssMiB: number;
  /** V8 heap in use at the end (flows, rollup and what garbage is left). */
  heapUsedMiB: number;
  flows: number;
  resets: number;
  findings: number;
  flowsEvicted: number;
}

type ReplayMode = 'read' | 'decode' | 'full';

const STREAM_VERSION = 1;
const SNAP_BYTES = 96; // headers mode: every segment cut to its headers

export async function runDiagnosisBench(packets = 1_000_000): Promise<DiagnosisBenchResult> {
  const file = path.join(os.tmpdir(), `rstprobe-diagnosis-stream-v${STREAM_VERSION}-${packets}.pcap`);
  if (!fs.existsSync(file)) generateStream(file, packets);
  // Loaded here, not at the top: the replay child (this file) would load the whole CLI with it.
  const { NODE_FLAGS } = await import('../src/cli/main');
  const run = (mode: ReplayMode): ReplayReport => {
    const output = execFileSync(process.execPath, [...NODE_FLAGS, __filename, '--replay', file, mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(output.trim().split('\n').pop()!) as ReplayReport;
  };
  run('decode'); // warm the page cache
  const read = run('read');
  const decode = run('decode');
  const full = run('full');
  return {
    file,
    packets: full.packets,
    resets: full.resets,
    findings: full.findings,
    flows: full.flows,
    read,
    decode,
    full,
    analysisPacketsPerS: full.packets / Math.max(1e-9, full.cpuS - decode.cpuS),
    decodePacketsPerS: decode.packets / Math.max(1e-9, decode.cpuS - read.cpuS),
    fullPeakRssMiB: full.maxRssMiB,
    flowsEvicted: full.flowsEvicted,
    nodeFlags: NODE_FLAGS,
    tshark: measureTshark(file),
  };
}

/** `tshark -z conv,tcp` over the same file, CPU and peak RSS from GNU time; null when either tool is missing. */
function measureTshark(file: string): { cpuS: number; maxRssMiB: number } | null {
  const run = spawnSync('/usr/bin/time', ['-f', 'rstprobe-time %U %S %M', 'tshark', '-r', file, '-q', '-z', 'conv,tcp'], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return run.status === 0 ? parseTime(run.stderr) : null;
}

function parseTime(stderr: string): { cpuS: number; maxRssMiB: number } | null {
  const match = /rstprobe-time ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  return match === null ? null : { cpuS: Number(match[1]) + Number(match[2]), maxRssMiB: Number(match[3]) / 1024 };
}

/** `npm run bench diagnosis`: figures, ratios against decode and tshark measured in the same run, PASS/FAIL lines. */
export async function reportDiagnosisBench(check: (ok: boolean, text: string) => void): Promise<void> {
  const result = await runDiagnosisBench();
  const rate = (packets: number, cpuS: number): string => `${(packets / cpuS / 1e6).toFixed(2)} M/s`;
  console.log(`\nDiagnosis: ${result.packets} recorded headers-mode packets (${result.flows} flows kept, ${result.resets} RSTs → ${result.findings} findings) replayed from ${result.file} (node ${result.nodeFlags.join(' ')}: the CLI's flags)`);
  console.table({
    'read (pcap reader)': { 'CPU s': result.read.cpuS.toFixed(2), 'wall s': result.read.seconds.toFixed(2), 'peak RSS MiB': result.read.maxRssMiB.toFixed(0) },
    'read + decode': { 'CPU s': result.decode.cpuS.toFixed(2), 'wall s': result.decode.seconds.toFixed(2), 'peak RSS MiB': result.decode.maxRssMiB.toFixed(0) },
    'read + decode + flows + diagnosis': { 'CPU s': result.full.cpuS.toFixed(2), 'wall s': result.full.seconds.toFixed(2), 'peak RSS MiB': result.full.maxRssMiB.toFixed(0) },
    ...(result.tshark === null ? {} : { 'tshark -z conv,tcp': { 'CPU s': result.tshark.cpuS.toFixed(2), 'wall s': '-', 'peak RSS MiB': result.tshark.maxRssMiB.toFixed(0) } }),
  });
  console.log(
    `decode alone: ${(result.decodePacketsPerS / 1e6).toFixed(2)} M packets/s · flows + diagnosis alone: ${(result.analysisPacketsPerS / 1e6).toFixed(2)} M packets/s · whole pipeline: ${rate(result.packets, result.full.cpuS)} (rates per CPU second: the machine may be shared)`,
  );
  if (result.tshark !== null) console.log(`whole pipeline vs tshark's TCP conversation tracking: ${(result.tshark.cpuS / result.full.cpuS).toFixed(2)}× faster, tshark peaks at ${(result.tshark.maxRssMiB / result.full.maxRssMiB).toFixed(2)}× its RSS`);
  check(result.analysisPacketsPerS >= 1e6, `diagnosis: flows + diagnosis at ${(result.analysisPacketsPerS / 1e6).toFixed(2)} M packets/s (target ≥ 1 M/s)`);
  check(result.fullPeakRssMiB <= 200, `diagnosis: peak RSS ${result.fullPeakRssMiB.toFixed(0)} MiB replaying 1M packets (target ≤ 200 MB)`);
}

/** A small deterministic PRNG (mulberry32), so every run replays the same stream. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Step = { fromClient: boolean; flags: TcpBuildOptions['flags']; payloadBytes?: number; gapUs?: number };

/** The segments of one connection, by kind. */
function flowScript(random: () => number): Step[] {
  const roll = random();
  if (roll < 0.04) return [{ fromClient: true, flags: 'SYN' }, { fromClient: false, flags: ['RST', 'ACK'] }]; // refused
  const steps: Step[] = [
    { fromClient: true, flags: 'SYN' },
    { fromClient: false, flags: ['SYN', 'ACK'] },
    { fromClient: true, flags: 'ACK' },
  ];
  const requests = 1 + Math.floor(random() * 3);
  for (let i = 0; i < requests; i++) {
    steps.push({ fromClient: true, flags: ['PSH', 'ACK'], payloadBytes: 200 + Math.floor(random() * 400) });
    steps.push({ fromClient: false, flags: 'ACK' });
    steps.push({ fromClient: false, flags: ['PSH', 'ACK'], payloadBytes: 500 + Math.floor(random() * 1000) });
    steps.push({ fromClient: true, flags: 'ACK' });
  }
  if (roll < 0.08) {
    steps.push({ fromClient: true, flags: ['PSH', 'ACK'], payloadBytes: 300 }, { fromClient: false, flags: ['RST', 'ACK'] }); // abort
  } else if (roll < 0.11) {
    steps.push(
      { fromClient: false, flags: ['FIN', 'ACK'], gapUs: 2_000_000 },
      { fromClient: true, flags: ['PSH', 'ACK'], payloadBytes: 300 },
      { fromClient: false, flags: 'RST' },
    ); // keep-alive race
  } else {
    steps.push({ fromClient: false, flags: ['FIN', 'ACK'] }, { fromClient: true, flags: ['FIN', 'ACK'] }, { fromClient: false, flags: 'ACK' });
  }
  return steps;
}

interface LiveFlow {
  client: string;
  server: string;
  clientPort: number;
  steps: Step[];
  next: number;
  clientSeq: number;
  serverSeq: number;
  notBeforeUs: number;
}

function generateStream(file: string, total: number): void {
  const random = prng(20261124);
  const concurrent = 4_096;
  const live: LiveFlow[] = [];
  let nextClientPort = 0;
  const newFlow = (nowUs: number): LiveFlow => {
    const client = `10.244.${1 + Math.floor(random() * 32)}.${1 + Math.floor(random() * 250)}`;
    const server = `10.245.${Math.floor(random() * 4)}.${1 + Math.floor(random() * 64)}`;
    return {
      client,
      server,
      clientPort: 1024 + (nextClientPort++ % 60_000),
      steps: flowScript(random),
      next: 0,
      clientSeq: Math.floor(random() * 2 ** 32),
      serverSeq: Math.floor(random() * 2 ** 32),
      notBeforeUs: nowUs,
    };
  };
  let nowUs = Date.UTC(2026, 10, 24, 10) * 1000;
  for (let i = 0; i < concurrent; i++) live.push(newFlow(nowUs));
  const fd = fs.openSync(file, 'w');
  let batch: FixturePacket[] = [];
  let first = true;
  const flush = (): void => {
    const bytes = writePcap(batch, { linkType: 1, snapBytes: SNAP_BYTES });
    fs.writeSync(fd, first ? bytes : bytes.subarray(24));
    first = false;
    batch = [];
  };
  for (let written = 0; written < total; ) {
    nowUs += 1;
    const flow = live[Math.floor(random() * concurrent)];
    if (flow.notBeforeUs > nowUs) continue;
    const step = flow.steps[flow.next++];
    const payloadBytes = step.payloadBytes ?? 0;
    const isSyn = step.flags === 'SYN' || (Array.isArray(step.flags) && step.flags.includes('SYN'));
    const options: TcpBuildOptions = {
      src: step.fromClient ? flow.client : flow.server,
      dst: step.fromClient ? flow.server : flow.client,
      srcPort: step.fromClient ? flow.clientPort : 8080,
      dstPort: step.fromClient ? 8080 : flow.clientPort,
      flags: step.flags,
      seq: step.fromClient ? flow.clientSeq : flow.serverSeq,
      ack: step.fromClient ? flow.serverSeq : flow.clientSeq,
      ttl: step.fromClient ? 63 : 62,
      ipId: Math.floor(random() * 65536),
      window: step.flags === 'RST' ? 0 : 502,
      timestamp: { value: nowUs >>> 10, echo: 0 },
      mss: isSyn ? 1460 : undefined,
      payload: payloadBytes > 0 ? new Uint8Array(payloadBytes) : undefined,
      snapBytes: SNAP_BYTES,
    };
    const frame = buildTcp(options);
    const original = 14 + 20 + 32 + (isSyn ? 4 : 0) + payloadBytes;
    batch.push({ frame, timeNs: BigInt(nowUs) * 1000n, originalBytes: Math.max(original, frame.length) });
    if (step.fromClient) flow.clientSeq = (flow.clientSeq + payloadBytes + (isSyn ? 1 : 0)) >>> 0;
    else flow.serverSeq = (flow.serverSeq + payloadBytes + (isSyn ? 1 : 0)) >>> 0;
    written++;
    if (flow.next < flow.steps.length) {
      flow.notBeforeUs = nowUs + (flow.steps[flow.next].gapUs ?? 0);
    } else {
      live[live.indexOf(flow)] = newFlow(nowUs);
    }
    if (batch.length === 20_000) flush();
  }
  if (batch.length > 0) flush();
  fs.closeSync(fd);
}

/** The child: replays `file` in `mode` and prints one JSON report line. */
async function replay(file: string, mode: ReplayMode): Promise<void> {
  const attributor: Attributor = {
    endpoint: (ip, port): Endpoint => ({ ip, port, kind: 'external', pod: null, node: null, process: null }),
    isOnThisKernel: () => false,
  };
  let findings = 0;
  const analyzer = new ResetAnalyzer({
    nodeName: 'bench',
    attributor,
    routes: () => null,
    kernelEventsActive: () => false,
    captureMode: 'headers',
    onFinding: (_finding, update) => {
      if (!update) findings++;
    },
  });
  let packets = 0;
  let lastTickMs = 0;
  const startNs = process.hrtime.bigint();
  const startCpu = process.cpuUsage();
  await readCaptureFile(file, (packet) => {
    packets++;
    if (mode === 'read') return;
    const decoded = decodeFrame(packet.linkType, packet.buffer.subarray(packet.offset, packet.offset + packet.capturedBytes));
    if (!decoded.ok || mode === 'decode') return;
    const observation: PacketObservation = { timeMs: packet.timeMs, ifindex: 2, pktType: 0, packet: decoded.packet };
    analyzer.observe(observation);
    if (packet.timeMs - lastTickMs >= 250) {
      analyzer.tick(packet.timeMs);
      lastTickMs = packet.timeMs;
    }
  });
  analyzer.tick(lastTickMs + 1, true);
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  const cpu = process.cpuUsage(startCpu);
  const report: ReplayReport = {
    mode,
    packets,
    seconds,
    cpuS: (cpu.user + cpu.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    heapUsedMiB: process.memoryUsage().heapUsed / (1 << 20),
    flows: analyzer.flowTable.size,
    resets: analyzer.counters.resets,
    findings,
    flowsEvicted: analyzer.flowTable.evicted,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (require.main === module && process.argv[2] === '--replay') {
  replay(process.argv[3], process.argv[4] as ReplayMode).catch((err: unknown) => {
    process.stderr.write(`diagnosis replay: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
