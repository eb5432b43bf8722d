#!/usr/bin/env -S node --max-semi-space-size=8
import { Command } from 'commander';
import { registerAgentCommand } from './agent-command';
import { registerAggregatorCommand } from './aggregator-command';
import { registerAnalyzeCommand } from './analyze-command';
import { registerDemoCommand } from './demo-command';
import { registerPmtuCommand } from './pmtu-command';
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

export function buildProgram(): Command {
  const program = new Command('rstprobe')
    .description('Finds who really sent each TCP RST, and why; measures path MTU between nodes.')
    .version(require('../../../package.json').version as string)
    .configureOutput({
      // commander's own errors ("error: unknown option '--x'") become one rstprobe line
      writeErr: (text) => process.stderr.write(`rstprobe: ${text.replace(/^error: /, '').trimEnd()} (see rstprobe --help)\n`),
    })
    .exitOverride();
  registerAgentCommand(program);
  registerAggregatorCommand(program);
  registerAnalyzeCommand(program);
  registerPmtuCommand(program);
  registerDemoCommand(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch(reportFailure);
}
