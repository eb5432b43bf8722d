import { Command, CommanderError, Option } from 'commander';
import { RstprobeError } from '../common/errors';

/**
 * User-facing failures print one line on stderr naming the problem and the fix,
 * and exit with code 2 (DESIGN.md, "Command line").
 */
export const EXIT_USAGE = 2;

/** Options every command shares. */
export function addSharedOptions(command: Command): Command {
  return command
    .option('--json', 'one finding per line on stdout (NDJSON)', false)
    .addOption(
      new Option('--log-level <level>', 'log level (logs are JSON on stderr)')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info'),
    );
}

/** Prints a user-facing failure as one line and sets the exit code. */
export function reportFailure(err: unknown): void {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
    return; // commander already printed its one line
  }
  if (err instanceof RstprobeError) {
    process.stderr.write(`rstprobe: ${err.message}\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  process.stderr.write(`rstprobe: unexpected failure: ${(err as Error)?.message ?? String(err)} (set RSTPROBE_DEBUG=1 to print the stack trace)\n`);
  if (process.env.RSTPROBE_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  process.exitCode = 1;
}

/**
 * A first SIGINT/SIGTERM aborts `controller` (a graceful stop); a second one while
 * stopping exits at once. The listeners stay installed while stopping so other
 * cleanup handlers never re-raise the signal; the returned function removes them.
 */
export function abortOnSignals(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
