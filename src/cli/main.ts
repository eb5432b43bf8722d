#!/usr/bin/env node
import { Command } from 'commander';
import { registerAgentCommand } from './agent-command';
import { registerAggregatorCommand } from './aggregator-command';
import { registerAnalyzeCommand } from './analyze-command';
import { registerDemoCommand } from './demo-command';
import { registerPmtuCommand } from './pmtu-command';
import { reportFailure } from './shared';

/** rstprobe's command line (DESIGN.md, "Command line"). */

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
