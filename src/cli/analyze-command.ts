import { Command } from 'commander';
import { setFlagsFromString } from 'node:v8';
import { IpOwnershipMap } from '../attribution/ip-map';
import { analyzeCaptureFile, type CaptureAnalysisResult } from '../analyze/capture-analysis';
import { formatFindingsTable } from '../analyze/findings-table';
import type { ClusterView } from '../attribution/kubernetes/types';
import { OfflineAttributor } from '../analyze/offline-attributor';
import { ProgressBar } from '../analyze/progress-bar';
import { CaptureFileError } from '../common/errors';
import type { LogLevel } from '../common/log';
import type { ResetFinding } from '../protocol/finding';
import { addSharedOptions, EXIT_USAGE, reportFailure } from './shared';

interface AnalyzeFlags {
  json: boolean;
  logLevel: LogLevel;
  cniCacheDir: string[];
  ipMap?: string;
  kubeconfig?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerAnalyzeCommand(program: Command): void {
  const command = program
    .command('analyze')
    .description('diagnose the TCP resets in pcap/pcapng capture files (gzip too), offline')
    .argument('<files...>', 'capture files written by tcpdump -w, dumpcap, Wireshark (.pcap, .pcapng, optionally .gz)');
  addSharedOptions(command)
    .option('--cni-cache-dir <dir>', 'a node\'s CNI state directory (or NODE=DIR for a copy of it), to name pods (may repeat)', collect, [])
    .option('--ip-map <file>', 'CSV (ip,namespace,pod,node) or JSON file naming who owned which address')
    .option('--kubeconfig <path>', 'kubeconfig of the cluster the capture was taken in, to name pods, nodes and services')
    .action(async (files: string[], flags: AnalyzeFlags) => {
      await runAnalyze(files, flags).catch(reportFailure);
    });
}

async function runAnalyze(files: string[], flags: AnalyzeFlags): Promise<void> {
  // V8 allocates an allocation site's objects straight in the old generation once
  // many of them survived scavenges (allocation-site pretenuring). The flows and
  // findings of a capture live long, and V8 comes to pretenure the decoder's
  // per-packet objects too: they then die in the old generation, which grows to be
  // collected by mark-compact. Without it the peak RSS of bench/analyze.ts's
  // capture is ~20 MB lower (145-166 MiB against 171-187 MiB, same findings). This
  // process only analyses files; V8 reads the flag at each GC, so it applies now.
  setFlagsFromString('--no-allocation-site-pretenuring');
  // `rstprobe analyze big.pcap | head`: a closed pipe ends the output quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const ipMap = new IpOwnershipMap({ retentionMs: Number.POSITIVE_INFINITY });
  // The sources of names are loaded only when asked for: the Kubernetes client and
  // pino alone would add ~50 ms to every run's start-up.
  if (flags.ipMap !== undefined) {
    const { claimIpMapEntries, loadIpMapFile } = require('../attribution/ip-map-file') as typeof import('../attribution/ip-map-file');
    claimIpMapEntries(ipMap, loadIpMapFile(flags.ipMap));
  }
  for (const dir of flags.cniCacheDir) {
    const { claimCniCacheDir } = require('../analyze/cni-snapshot') as typeof import('../analyze/cni-snapshot');
    const { skipped } = claimCniCacheDir(ipMap, dir);
    if (skipped.length > 0) process.stderr.write(`rstprobe: --cni-cache-dir ${dir}: ${skipped.length} result files without a pod skipped (first: ${skipped[0]})\n`);
  }
  let cluster: ClusterView | null = null;
  if (flags.kubeconfig !== undefined) {
    const { claimClusterSnapshot } = require('../analyze/cluster-snapshot') as typeof import('../analyze/cluster-snapshot');
    const { createRootLogger } = require('../common/log') as typeof import('../common/log');
    cluster = await claimClusterSnapshot(ipMap, flags.kubeconfig, createRootLogger(flags.logLevel));
  }
  const attributor = new OfflineAttributor(ipMap, cluster);
  const results: CaptureAnalysisResult[] = [];
  let unreadable = 0;
  for (const path of files) {
    const bar = process.stderr.isTTY ? new ProgressBar(process.stderr, path) : null;
    try {
      const result = await analyzeCaptureFile(path, { attributor, onProgress: bar === null ? undefined : (done, total) => bar.update(done, total) });
      bar?.clear();
      results.push(result);
      if (result.read.problem !== null) {
        const { offset, message } = result.read.problem;
        process.stderr.write(`rstprobe: ${path}: byte ${offset}: ${message}; the ${result.read.packets} packets before it were analysed\n`);
      }
      for (const [linkType, packets] of result.read.unsupportedLinkTypes) {
        process.stderr.write(`rstprobe: ${path}: ${packets} packets of link type ${linkType} skipped: rstprobe reads Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback\n`);
      }
    } catch (err) {
      bar?.clear();
      if (!(err instanceof CaptureFileError)) throw err;
      // One unreadable file does not stop the others; the exit code still says so.
      process.stderr.write(`rstprobe: ${err.message}\n`);
      unreadable++;
    }
  }
  const findings: ResetFinding[] = results.flatMap((result) => result.findings);
  if (flags.json) {
    // A thousand lines per write: one write per finding cost more than building the lines.
    for (let first = 0; first < findings.length; first += 1000) {
      process.stdout.write(findings.slice(first, first + 1000).map((finding) => `${JSON.stringify(finding)}\n`).join(''));
    }
  } else if (results.length > 0) {
    process.stdout.write(formatFindingsTable(findings));
  }
  if (unreadable > 0) process.exitCode = EXIT_USAGE;
}
