#!/usr/bin/env -S node --max-semi-space-size=8
import { Command } from 'commander';
import { reportFailure } from './shared';

/** rstprobe's command line (DESIGN.md, "Command line"). */

/**
 * The V8 flags every entry point runs this file with: the shebang above, `npm start`,
 * the image's ENTRYPOINT (and so the DaemonSet and the aggregator Deployment). They
 * must be given at start-up (v8.setFlagsFromString is too late for the heap's
 * geometry). A cluster-scope map's initial list promotes ~100 MB of records through
 * the young generation, which grows to its default 2 × 16 MB and keeps those pages
 * resident after the sync; 8 MB semi-spaces keep the watcher's RSS ~25 MB lower
 * (bench/cluster-map.ts measures with the same flags) and the sync no slower.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * Each command's module, loaded only when the program needs it: `rstprobe analyze`
 * must not pay ~100 ms at start-up for the agent's and aggregator's modules
 * (prom-client, ws, pino, SQLite, the Kubernetes watcher), which it never runs.
 * In help order.
 */
const COMMANDS: Readonly<Record<string, () => (program: Command) => void>> = {
  agent: () => (require('./agent-command') as typeof import('./agent-command')).registerAgentCommand,
  aggregator: () => (require('./aggregator-command') as typeof import('./aggregator-command')).registerAggregatorCommand,
  analyze: () => (require('./analyze-command') as typeof import('./analyze-command')).registerAnalyzeCommand,
  pmtu: () => (require('./pmtu-command') as typeof import('./pmtu-command')).registerPmtuCommand,
  demo: () => (require('./demo-command') as typeof import('./demo-command')).registerDemoCommand,
};

/**
 * The program with every command, or only with `only` when the command line names
 * one (its flags, errors and help are the same; `rstprobe --help`, `help`, an
 * unknown command and no command at all get every command).
 */
export function buildProgram(only?: string): Command {
  const program = new Command('rstprobe')
    .description('Finds who really sent each TCP RST, and why; measures path MTU between nodes.')
    .version(require('../../../package.json').version as string)
    .configureOutput({
      // commander's own errors ("error: unknown option '--x'") become one rstprobe line
      writeErr: (text) => process.stderr.write(`rstprobe: ${text.replace(/^error: /, '').trimEnd()} (see rstprobe --help)\n`),
    })
    .exitOverride();
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const name of names) COMMANDS[name]()(program);
  return program;
}

if (require.main === module) {
  // `analyze` reads its files on a worker thread: start it while the modules load.
  if (process.argv[2] === 'analyze') (require('../analyze/scan-thread') as typeof import('../analyze/scan-thread')).prestartScanWorker();
  buildProgram(process.argv[2])
    .parseAsync(process.argv)
    .catch(reportFailure);
}
