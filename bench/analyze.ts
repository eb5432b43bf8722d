import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { loadScanBinding } from '../src/analyze/native-scan';
import { buildTcp } from '../test/support/packet-builder';

/**
 * `node dist/bench/run.js analyze`: `rstprobe analyze --json` (full diagnosis) on a
 * generated 2M-packet capture (≈ 1.2 GB, 1% RSTs across 20k flows), as pcap and
 * as pcapng, against `tcpdump -r` with a RST filter and `tshark -r -Y
 * tcp.flags.reset==1` on the same file. Wall time and peak RSS come from
 * /usr/bin/time; rstprobe and tcpdump report the median of three runs each.
 * tshark is time-boxed and extrapolated from the packets it got through when it
 * runs out of time.
 */
export interface ToolRun {
  label: string;
  wallS: number;
  /** User + system CPU seconds (steadier than wall time on a shared machine). */
  cpuS: number;
  peakRssMiB: number;
  /** Lines on stdout (findings, RSTs). */
  outputLines: number;
  /** Share of the file processed when time-boxed (1 when complete); wallS is then extrapolated. */
  completedShare: number;
}

export interface AnalyzeBenchResult {
  packets: number;
  resets: number;
  fileBytes: { pcap: number; pcapng: number };
  runs: { pcap: ToolRun[]; pcapng: ToolRun[] };
  skipped: string | null;
}

const PACKETS = 2_000_000;
const PACKETS_PER_FLOW = 100; // the last one a RST: 1% of packets
const CONCURRENT_FLOWS = 200;
const DATA_PAYLOAD_BYTES = 1000;
const PACKET_GAP_NS = 100_000n; // 10k packets/s: 200 s of capture
const START_NS = 1_795_000_000_000_000_000n;
const TSHARK_TIMEOUT_MS = 120_000;
const CLI = path.resolve(__dirname, '../src/cli/main.js');

/** Frame templates patched per packet: addresses, ports, sequence numbers. */
interface Templates {
  syn: Buffer;
  synAck: Buffer;
  ack: Buffer;
  data: Buffer;
  rst: Buffer;
  /** A RST with the TTL of a box next to the client (a forged one). */
  forgedRst: Buffer;
}

function templates(): Templates {
  const base = { src: '10.1.0.1', dst: '10.2.0.1', srcPort: 40000, dstPort: 8080 };
  return {
    syn: Buffer.from(buildTcp({ ...base, flags: 'SYN', mss: 1460 })),
    synAck: Buffer.from(buildTcp({ ...base, flags: ['SYN', 'ACK'], mss: 1460, ttl: 61 })),
    ack: Buffer.from(buildTcp({ ...base, flags: 'ACK' })),
    data: Buffer.from(buildTcp({ ...base, flags: ['PSH', 'ACK'], payload: new Uint8Array(DATA_PAYLOAD_BYTES).fill(0x61), ttl: 61 })),
    rst: Buffer.from(buildTcp({ ...base, flags: ['RST', 'ACK'], ttl: 61 })),
    forgedRst: Buffer.from(buildTcp({ ...base, flags: ['RST', 'ACK'], ttl: 64 })),
  };
}

/** Ethernet + IPv4 offsets (no options). */
const IP_SRC = 26;
const IP_DST = 30;
const TCP_SRC_PORT = 34;
const TCP_DST_PORT = 36;
const TCP_SEQ = 38;
const TCP_ACK = 42;

/**
 * The n-th packet of flow `flow`: client → server handshake, then alternating
 * server data / client ACKs, and a RST from the server side to end it. Every
 * tenth flow's RST is forged (TTL 64 where the server's packets arrive with 61).
 */
function framePacket(t: Templates, flow: number, n: number): Buffer {
  let template: Buffer;
  let fromClient: boolean;
  if (n === 0) [template, fromClient] = [t.syn, true];
  else if (n === 1) [template, fromClient] = [t.synAck, false];
  else if (n === PACKETS_PER_FLOW - 1) [template, fromClient] = [flow % 10 === 0 ? t.forgedRst : t.rst, false];
  else if (n % 2 === 0) [template, fromClient] = [t.ack, true];
  else [template, fromClient] = [t.data, false];
  // 2000 client addresses (gateway pods and nodes) on 50 upstream addresses, two service ports.
  const client = 0x0a010000 + (flow % 2000) + 1; // 10.1.x.y
  const server = 0x0a020000 + (flow % 50) + 1; // 10.2.0.z
  const clientPort = 20000 + ((flow * 7919) % 40000);
  const serverPort = flow % 3 === 0 ? 80 : 8080;
  template.writeUInt32BE(fromClient ? client : server, IP_SRC);
  template.writeUInt32BE(fromClient ? server : client, IP_DST);
  template.writeUInt16BE(fromClient ? clientPort : serverPort, TCP_SRC_PORT);
  template.writeUInt16BE(fromClient ? serverPort : clientPort, TCP_DST_PORT);
  const clientIsn = (flow * 2654435761) >>> 0;
  const serverIsn = (flow * 40503 + 12345) >>> 0;
  template.writeUInt32BE(fromClient ? (clientIsn + (n === 0 ? 0 : 1)) >>> 0 : (serverIsn + (n === 1 ? 0 : 1 + (n >> 1) * DATA_PAYLOAD_BYTES)) >>> 0, TCP_SEQ);
  template.writeUInt32BE(fromClient ? (serverIsn + 1 + (n >> 1) * DATA_PAYLOAD_BYTES) >>> 0 : (clientIsn + 1) >>> 0, TCP_ACK);
  return template;
}

/** Writes the capture in either format, streaming through a 16 MiB buffer. */
export function generateCapture(where: string, format: 'pcap' | 'pcapng', totalPackets = PACKETS): { packets: number; resets: number; bytes: number } {
  const t = templates();
  const fd = openSync(where, 'w');
  const out = Buffer.alloc(16 << 20);
  let used = 0;
  let bytes = 0;
  const flush = (): void => {
    writeSync(fd, out, 0, used);
    bytes += used;
    used = 0;
  };
  if (format === 'pcap') {
    out.writeUInt32LE(0xa1b2c3d4, 0);
    out.writeUInt16LE(2, 4);
    out.writeUInt16LE(4, 6);
    out.writeUInt32LE(262144, 16);
    out.writeUInt32LE(1, 20);
    used = 24;
  } else {
    // SHB (28 bytes, no options) and one Ethernet IDB (20 bytes, µs resolution by default).
    out.writeUInt32LE(0x0a0d0d0a, 0);
    out.writeUInt32LE(28, 4);
    out.writeUInt32LE(0x1a2b3c4d, 8);
    out.writeUInt16LE(1, 12);
    out.writeBigInt64LE(-1n, 16);
    out.writeUInt32LE(28, 24);
    out.writeUInt32LE(1, 28);
    out.writeUInt32LE(20, 32);
    out.writeUInt16LE(1, 36);
    out.writeUInt32LE(262144, 40);
    out.writeUInt32LE(20, 44);
    used = 48;
  }
  let resets = 0;
  let packet = 0;
  // Flows run CONCURRENT_FLOWS at a time, round robin, each PACKETS_PER_FLOW packets long.
  for (let wave = 0; packet < totalPackets; wave++) {
    for (let n = 0; n < PACKETS_PER_FLOW; n++) {
      for (let slot = 0; slot < CONCURRENT_FLOWS && packet < totalPackets; slot++, packet++) {
        const flow = wave * CONCURRENT_FLOWS + slot;
        const frame = framePacket(t, flow, n);
        if (n === PACKETS_PER_FLOW - 1) resets++;
        const timeUs = (START_NS + BigInt(packet) * PACKET_GAP_NS) / 1000n;
        if (used + frame.length + 64 > out.length) flush();
        if (format === 'pcap') {
          out.writeUInt32LE(Number(timeUs / 1_000_000n), used);
          out.writeUInt32LE(Number(timeUs % 1_000_000n), used + 4);
          out.writeUInt32LE(frame.length, used + 8);
          out.writeUInt32LE(frame.length, used + 12);
          frame.copy(out, used + 16);
          used += 16 + frame.length;
        } else {
          const padded = (frame.length + 3) & ~3;
          const length = 32 + padded;
          out.writeUInt32LE(6, used);
          out.writeUInt32LE(length, used + 4);
          out.writeUInt32LE(0, used + 8);
          out.writeUInt32LE(Number(timeUs >> 32n), used + 12);
          out.writeUInt32LE(Number(timeUs & 0xffffffffn), used + 16);
          out.writeUInt32LE(frame.length, used + 20);
          out.writeUInt32LE(frame.length, used + 24);
          frame.copy(out, used + 28);
          out.fill(0, used + 28 + frame.length, used + 28 + padded);
          out.writeUInt32LE(length, used + length - 4);
          used += length;
        }
      }
    }
  }
  flush();
  closeSync(fd);
  return { packets: packet, resets, bytes };
}

function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Runs a command under /usr/bin/time; stdout lines are counted, not kept. */
function timed(label: string, argv: string[], timeoutMs?: number): Promise<ToolRun & { stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'BENCH_TIME %e %M %U %S', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let outputLines = 0;
    let stderr = '';
    let timedOut = false;
    const startedMs = Date.now();
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) outputLines++;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
    const timer =
      timeoutMs === undefined
        ? null
        : setTimeout(() => {
            timedOut = true;
            // Stop the timed tool itself (the child of /usr/bin/time, by pid) so time still reports.
            for (const pid of childPids(child.pid)) process.kill(pid, 'SIGINT');
          }, timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      if (timer !== null) clearTimeout(timer);
      const match = /BENCH_TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
      const wallS = match === null ? (Date.now() - startedMs) / 1000 : Number(match[1]);
      const cpuS = match === null ? NaN : Number(match[3]) + Number(match[4]);
      resolve({ label, wallS, cpuS, peakRssMiB: match === null ? NaN : Number(match[2]) / 1024, outputLines, completedShare: 1, stderr, timedOut });
    });
  });
}

/** Runs of rstprobe and of tcpdump per file (tshark runs once: it takes minutes). */
const REPEATS = 3;

/** The run of median wall time, labelled with the count, with the highest peak RSS of all. */
function median(runs: ToolRun[]): ToolRun {
  const sorted = [...runs].sort((a, b) => a.wallS - b.wallS);
  const middle = sorted[Math.floor(sorted.length / 2)];
  const walls = runs.map((run) => run.wallS.toFixed(2)).join(', ');
  return { ...middle, label: `${middle.label} (median of ${runs.length}: ${walls} s)`, peakRssMiB: Math.max(...runs.map((run) => run.peakRssMiB)) };
}

export async function runAnalyzeBench(): Promise<AnalyzeBenchResult> {
  const root = tmpdir();
  const { bavail, bsize } = statfsSync(root);
  const freeBytes = bavail * bsize;
  const empty = { packets: 0, resets: 0, fileBytes: { pcap: 0, pcapng: 0 }, runs: { pcap: [], pcapng: [] } };
  if (freeBytes < 3.5e9) return { ...empty, skipped: `only ${(freeBytes / 1e9).toFixed(1)} GB free in ${root}; the bench needs 3.5 GB` };
  const dir = mkdtempSync(path.join(root, 'rstprobe-analyze-bench-'));
  try {
    const result: AnalyzeBenchResult = { ...empty, runs: { pcap: [], pcapng: [] }, fileBytes: { pcap: 0, pcapng: 0 }, skipped: null };
    for (const format of ['pcap', 'pcapng'] as const) {
      const file = path.join(dir, `bench.${format}`);
      const generated = generateCapture(file, format);
      result.packets = generated.packets;
      result.resets = generated.resets;
      result.fileBytes[format] = generated.bytes;
      const runs = result.runs[format];
      // Every tool reads from the page cache: the file was just written, and the first reader would otherwise pay for writeback.
      await timed('warm-up', ['cat', file]);
      // rstprobe and tcpdump run REPEATS times each, alternately, and each reports its
      // median run: on a shared 2-core machine one run of either can lose a core to
      // another process. Peak RSS is the highest of all runs.
      const rstprobeRuns: ToolRun[] = [];
      const tcpdumpRuns: ToolRun[] = [];
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        rstprobeRuns.push(await timed('rstprobe analyze --json', [process.execPath, CLI, 'analyze', '--json', file]));
        // libpcap ≥ 1.1 reads pcapng too, so tcpdump reads both files.
        tcpdumpRuns.push(await timed('tcpdump -r (RST filter)', ['tcpdump', '-r', file, '-w', '/dev/null', 'tcp[tcpflags] & tcp-rst != 0']));
      }
      runs.push(median(rstprobeRuns), median(tcpdumpRuns));
      const tshark = await timed('tshark -r -Y tcp.flags.reset==1', ['tshark', '-l', '-r', file, '-Y', 'tcp.flags.reset==1', '-T', 'fields', '-e', 'frame.number'], TSHARK_TIMEOUT_MS);
      if (tshark.timedOut) {
        // Its output is frame numbers of RSTs: the last one says how far it got.
        const lastFrame = tshark.outputLines > 0 ? tshark.outputLines * PACKETS_PER_FLOW : 0;
        tshark.completedShare = lastFrame / generated.packets;
        tshark.wallS = tshark.completedShare > 0 ? tshark.wallS / tshark.completedShare : Number.POSITIVE_INFINITY;
        tshark.cpuS = tshark.completedShare > 0 ? tshark.cpuS / tshark.completedShare : Number.POSITIVE_INFINITY;
        tshark.label += ` (time-boxed at ${TSHARK_TIMEOUT_MS / 1000} s, extrapolated from ${(tshark.completedShare * 100).toFixed(1)}%)`;
      }
      runs.push(tshark);
      rmSync(file, { force: true });
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the bench and prints the figures side by side, with PASS/FAIL against the
 * issue's targets: rstprobe ≤ 2× tcpdump's time, ≥ 20× faster than tshark, peak
 * RSS ≤ 200 MB (each for pcap and pcapng).
 */
export async function reportAnalyzeBench(check: (ok: boolean, text: string) => void): Promise<void> {
  const result = await runAnalyzeBench();
  if (result.skipped !== null) {
    console.log(`\nanalyze: skipped: ${result.skipped}`);
    check(false, `analyze: not measured (${result.skipped})`);
    return;
  }
  // Which scan stage rstprobe ran: the addon's, or the TypeScript fallback when the addon is not built.
  console.log(`\nanalyze: rstprobe's scan stage ${loadScanBinding() === null ? 'in TypeScript (the addon is not built)' : 'native (addon)'}, on a worker thread`);
  for (const format of ['pcap', 'pcapng'] as const) {
    const runs = result.runs[format];
    const [rstprobe, tcpdump, tshark] = runs;
    console.log(`\nanalyze: ${result.packets.toLocaleString('en')} packets, ${result.resets.toLocaleString('en')} RSTs, ${(result.fileBytes[format] / 1e9).toFixed(2)} GB ${format}`);
    console.table(
      Object.fromEntries(
        runs.map((run) => [
          run.label,
          { 'wall s': run.wallS.toFixed(2), 'CPU s': run.cpuS.toFixed(2), 'peak RSS MiB': run.peakRssMiB.toFixed(1), 'output lines': run.outputLines, 'wall vs rstprobe': `${(run.wallS / rstprobe.wallS).toFixed(2)}×` },
        ]),
      ),
    );
    const tcpdumpRatio = rstprobe.wallS / tcpdump.wallS;
    const tsharkRatio = tshark.wallS / rstprobe.wallS;
    console.log(
      `${format}: wall rstprobe/tcpdump = ${tcpdumpRatio.toFixed(2)}× · tshark/rstprobe = ${tsharkRatio.toFixed(1)}×${tshark.completedShare < 1 ? ' (tshark extrapolated)' : ''}` +
        ` · CPU rstprobe/tcpdump = ${(rstprobe.cpuS / tcpdump.cpuS).toFixed(2)}×, tshark/rstprobe = ${(tshark.cpuS / rstprobe.cpuS).toFixed(1)}× · load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`,
    );
    check(rstprobe.outputLines > 0, `analyze ${format}: rstprobe reported ${rstprobe.outputLines} findings for ${result.resets} RSTs`);
    check(tcpdumpRatio <= 2, `analyze ${format}: rstprobe took ${tcpdumpRatio.toFixed(2)}× tcpdump's time (target ≤ 2×)`);
    check(tsharkRatio >= 20, `analyze ${format}: rstprobe ${tsharkRatio.toFixed(1)}× faster than tshark (target ≥ 20×)`);
    check(rstprobe.peakRssMiB <= 200, `analyze ${format}: rstprobe peak RSS ${rstprobe.peakRssMiB.toFixed(1)} MiB (target ≤ 200 MB)`);
  }
}
