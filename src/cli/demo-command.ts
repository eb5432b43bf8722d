import * as path from 'node:path';
import { Command } from 'commander';
import { parseListenAddress } from '../agent/http-server';
import { DemoError } from '../common/errors';
import { Demo } from '../demo/demo';
import { labSkipReason } from '../lab/lab';
import { addSharedOptions, reportFailure } from './shared';
import { formatFindingLine } from './finding-text';

interface DemoFlags {
  json: boolean;
  logLevel: string;
  listen: string;
  once: boolean;
}

export function registerDemoCommand(program: Command): void {
  const command = program
    .command('demo')
    .description('build a throw-away lab of network namespaces that reproduces each failure mode, watch it with a real agent, remove it on exit');
  addSharedOptions(command)
    .option('--listen <host:port>', 'where this machine reaches the UI (port 0: any free port)', '127.0.0.1:7070')
    .option('--once', 'one pass over the failure modes, then remove the lab and exit', false)
    .action(async (flags: DemoFlags) => {
      await runDemo(flags).catch(reportFailure);
    });
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const listen = parseListenAddress(flags.listen);
  const missing = labSkipReason();
  if (missing !== undefined) throw new DemoError(`rstprobe demo cannot build its lab: ${missing.replace(/; CI runs it as root$/, '')} (run it with sudo)`);
  const controller = new AbortController();
  const demo = new Demo({
    listen,
    once: flags.once,
    cliPath: path.resolve(__dirname, 'main.js'),
    // The agent's log (stderr, kept for error messages) must reach info: its 'agent running' line says it captures.
    agentLogLevel: flags.logLevel === 'debug' || flags.logLevel === 'trace' ? flags.logLevel : 'info',
    // Findings are the output (stdout); progress is for people (stderr), so --json stays NDJSON.
    onFinding: (finding) => process.stdout.write(flags.json ? `${JSON.stringify(finding)}\n` : ''),
    say: (line) => process.stderr.write(`${line}\n`),
    describe: formatFindingLine,
  });
  // First Ctrl-C: finish gracefully (the agent removes its tracefs instance, then the lab goes).
  // The lab's own signal handler also removes every namespace synchronously as a safety net.
  const onSignal = (): void => {
    if (controller.signal.aborted) return;
    process.stderr.write('stopping: removing the lab…\n');
    // Registered before the lab's handler, so this runs first: the agent gets to clean up.
    demo.stopAgentSync();
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await demo.start(controller.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
