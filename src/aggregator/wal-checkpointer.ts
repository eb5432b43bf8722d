import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/log';

/**
 * Runs the store's WAL checkpoints on a worker thread with its own connection.
 *
 * With synchronous=NORMAL a WAL commit does not fsync; the checkpoint that copies the
 * WAL back into the database does (https://www.sqlite.org/wal.html#ckpt). Left to
 * SQLite's automatic checkpoint it runs inside a commit on the event loop, and the
 * fsync stalls every agent's acks for its duration. Here the main connection turns
 * automatic checkpoints off and this worker checkpoints every CHECKPOINT_MS: first
 * PASSIVE (never blocks the writer), then RESTART. The WAL only starts over from its
 * beginning once a checkpoint found it fully copied, which a PASSIVE one never does
 * while agents stream (a commit lands every few ms during its copy): the WAL then grew
 * without bound, hundreds of MB a minute, and every page read searched its whole
 * index. RESTART copies the few frames the writer appended meanwhile, holding the
 * writer off only that long, and gives up after CHECKPOINT_BUSY_MS when a transaction
 * or a reader stays in its way. If the worker dies, automatic checkpoints come back on.
 */

const CHECKPOINT_MS = 1_000;
/** How long RESTART waits for the writer's transaction (or a reader) to end before giving up this round. */
const CHECKPOINT_BUSY_MS = 20;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
// A short busy wait: the writer's transactions last milliseconds; a checkpoint that still finds one (or a reader) in its way gives up until the next round.
const db = new Database(workerData.path, { timeout: workerData.busyMs });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    // What the writer appended during the copy, then the WAL restarts from its beginning.
    db.pragma('wal_checkpoint(RESTART)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, module: require.resolve('better-sqlite3'), everyMs: CHECKPOINT_MS, busyMs: CHECKPOINT_BUSY_MS } });
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
