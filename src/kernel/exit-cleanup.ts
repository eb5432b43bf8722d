/**
 * Removes a trace instance when the process ends without calling stop(): on
 * SIGINT/SIGTERM/SIGHUP and on 'exit'.
 *
 * A signal listener replaces Node's default "terminate" action, so after cleaning
 * up, the handler removes itself and — only when no other listener for that signal
 * is left (e.g. the CLI's graceful shutdown) — re-raises the signal, so the process
 * dies of it exactly as it would have (exit status 128+n for the parent). Library
 * code never calls process.exit.
 *
 * On a signal the loop still runs, so `onSignal` may be async (bounded by
 * SIGNAL_CLEANUP_TIMEOUT_MS); on 'exit' only synchronous work runs (`onExit`).
 */

export const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
export const SIGNAL_CLEANUP_TIMEOUT_MS = 2000;

export interface ExitCleanup {
  /** Synchronous cleanup for 'exit' (and for signals when `onSignal` is absent). */
  onExit: () => void;
  /** Cleanup on a signal, while the event loop still runs. */
  onSignal?: () => Promise<void>;
}

/** Installs the handlers; returns a function that uninstalls them (call it from stop()). */
export function installExitCleanup(cleanup: ExitCleanup | (() => void)): () => void {
  const { onExit, onSignal } = typeof cleanup === 'function' ? { onExit: cleanup, onSignal: undefined } : cleanup;
  let done = false;
  const runSync = (): void => {
    if (done) return;
    done = true;
    try {
      onExit();
    } catch {
      // Exit path: nothing left to report to.
    }
  };
  const runForSignal = async (): Promise<void> => {
    if (done) return;
    if (onSignal === undefined) return runSync();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([onSignal(), new Promise((resolve) => (timer = setTimeout(resolve, SIGNAL_CLEANUP_TIMEOUT_MS)))]);
    } catch {
      // Fall through to the synchronous path.
    } finally {
      clearTimeout(timer);
    }
    runSync();
  };
  const handleSignal = (signal: NodeJS.Signals): void => {
    // Uninstall first: a second signal during the cleanup then gets the default action.
    const othersListening = process.listenerCount(signal) > 1;
    uninstallSignals();
    void runForSignal().then(() => {
      process.removeListener('exit', runSync);
      if (!othersListening && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const uninstallSignals = (): void => {
    for (const signal of CLEANUP_SIGNALS) process.removeListener(signal, handleSignal);
  };
  process.on('exit', runSync);
  for (const signal of CLEANUP_SIGNALS) process.on(signal, handleSignal);
  return () => {
    process.removeListener('exit', runSync);
    uninstallSignals();
  };
}
