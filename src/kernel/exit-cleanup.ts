/**
 * Runs a synchronous cleanup (removing a trace instance) when the process ends
 * without calling stop(): on 'exit' and on SIGINT/SIGTERM/SIGHUP.
 *
 * A signal listener replaces Node's default "terminate" action, so after cleaning
 * up, the handler removes itself and — only when no other listener for that signal
 * is left (e.g. the CLI's graceful shutdown) — re-raises the signal, so the process
 * dies of it exactly as it would have (exit status 128+n for the parent). Library
 * code never calls process.exit.
 */

export const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Installs the handlers; returns a function that uninstalls them (call it from stop()). */
export function installExitCleanup(cleanup: () => void): () => void {
  let done = false;
  const runOnce = (): void => {
    if (done) return;
    done = true;
    try {
      cleanup();
    } catch {
      // Exit path: nothing left to report to.
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    runOnce();
    uninstall();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const uninstall = (): void => {
    process.removeListener('exit', runOnce);
    for (const signal of CLEANUP_SIGNALS) process.removeListener(signal, onSignal);
  };
  process.on('exit', runOnce);
  for (const signal of CLEANUP_SIGNALS) process.on(signal, onSignal);
  return uninstall;
}
