import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/log';

/**
 * Runs the store's WAL checkpoints on a worker thread with its own connection.
 *
 * With synchronous=NORMAL a WAL commit does not fsync; the checkpoint that copies the
 * WAL back into the database does (https://www.sqlite.org/wal.html#ckpt). Left to
 * SQLite's automatic checkpoint it runs inside a commit on the event loop, and the
 * fsync stalls every agent's acks for its duration. Here the main connection turns
 * automatic checkpoints off and this worker checkpoints instead.
 *
 * Only PASSIVE checkpoints, which never block the writer, and often (every
 * PASSIVE_EVERY_MS while there is something to copy): each copies the few commits
 * since the last, and when it finishes between two commits the WAL is fully copied,
 * so the writer's next transaction starts the WAL over from its beginning
 * (https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files). Only if the
 * WAL still grows past RESTART_FRAMES does a RESTART checkpoint force the start-over;
 * it holds the writer off while it copies and syncs, so it is the exception. Measured
 * with 10,000 items/s in 100-item commits: RESTART every second (the earlier design)
 * stalled 8–19 commits in 20 s past 20 ms (up to 91 ms); PASSIVE every 30 ms kept every
 * commit under 13 ms and the WAL under 12 MB, never needing a RESTART.
 * If the worker dies, automatic checkpoints come back on.
 */

/** Between PASSIVE checkpoints while the writer is writing. */
const PASSIVE_EVERY_MS = 30;
/** Between checks while the WAL has nothing new to copy. */
const IDLE_EVERY_MS = 1_000;
/** A WAL this many frames long (32 MiB of 4 KiB pages) is started over with a RESTART checkpoint. */
const RESTART_FRAMES = 8_192;
/** How long RESTART waits for the writer's transaction (or a reader) to end before giving up this round. */
const CHECKPOINT_BUSY_MS = 20;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
// A short busy wait: the writer's transactions last milliseconds; a RESTART that still finds one (or a reader) in its way gives up until the next round.
const db = new Database(workerData.path, { timeout: workerData.busyMs });
let timer = null;
let lastFrames = -1;
function round() {
  let frames = 0;
  try {
    // [{ busy, log, checkpointed }]: frames in the WAL and how many of them are now in the database.
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    frames = result.log;
    if (result.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
  const idle = frames === lastFrames;
  lastFrames = frames;
  timer = setTimeout(round, idle ? workerData.idleMs : workerData.everyMs);
}
timer = setTimeout(round, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  try { db.pragma('wal_checkpoint(TRUNCATE)'); } catch {}
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

export class WalCheckpointer {
  readonly name = 'wal-checkpointer';
  private worker: Worker | null = null;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    /** Turns the main connection's automatic checkpoints on (fallback) or off. */
    private readonly setAutomatic: (on: boolean) => void,
  ) {}

  start(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, module: require.resolve('better-sqlite3'), everyMs: PASSIVE_EVERY_MS, idleMs: IDLE_EVERY_MS, restartFrames: RESTART_FRAMES, busyMs: CHECKPOINT_BUSY_MS } });
    worker.unref();
    this.worker = worker;
    this.setAutomatic(false);
    worker.on('message', (message: { error?: string }) => {
      if (message.error !== undefined) this.log.warn({ error: message.error }, 'WAL checkpoint failed; will retry');
    });
    worker.on('error', (err) => {
      this.log.error({ err }, 'WAL checkpoint worker failed; SQLite checkpoints on the main thread again');
      this.setAutomatic(true);
      this.worker = null;
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker === null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 3_000);
      worker.once('message', () => {
        clearTimeout(timer);
        void worker.terminate().then(() => resolve());
      });
      worker.postMessage('stop');
    });
  }
}
