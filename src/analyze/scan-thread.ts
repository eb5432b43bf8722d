import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CaptureFileError } from '../common/errors';
import type { ScanOptions, ScanResult, ScanSink } from './capture-scan';
import type { ScanWorkerData, ScanWorkerMessage } from './capture-scan-worker';
import { readScanBatch } from './scan-batch';

const WORKER_PATH = path.join(__dirname, 'capture-scan-worker.js');
/** Batches (1 MiB each) the worker may run ahead of the diagnosis. */
const MAX_BATCHES_IN_FLIGHT = 4;

/** A worker started ahead of its job (prestartScanWorker), and whether it has ended since. */
let prestarted: { worker: Worker; exited: boolean } | null = null;

/**
 * Starts the next scan worker now, before the command has loaded the rest of its
 * modules: a worker's start-up (its own Node environment and modules, ~40 ms)
 * then overlaps the main thread's instead of delaying the first batch. The next
 * scanInWorker hands it its job. It does not keep the process alive meanwhile.
 */
export function prestartScanWorker(): void {
  if (prestarted !== null) return;
  const started = { worker: new Worker(WORKER_PATH, { workerData: null }), exited: false };
  started.worker.unref();
  started.worker.on('error', () => {}); // reported by the exit below, to scanInWorker
  started.worker.on('exit', () => void (started.exited = true));
  prestarted = started;
}

/**
 * scanCaptureFile on a worker thread: `sink` sees the same calls in the same
 * order as on this thread, replayed from the worker's batches as they arrive.
 * Rejects with the worker's CaptureFileError (same message) when the file cannot
 * be read, or with the sink's own error (the worker is then stopped).
 */
export function scanInWorker(capturePath: string, sink: ScanSink, options: ScanOptions = {}): Promise<ScanResult> {
  const inFlight = new SharedArrayBuffer(4);
  const posted = new Int32Array(inFlight);
  const job: ScanWorkerData = { path: capturePath, coalesce: options.coalesce ?? true, inFlight, maxBatchesInFlight: MAX_BATCHES_IN_FLIGHT };
  let worker: Worker;
  if (prestarted !== null && !prestarted.exited) {
    worker = prestarted.worker;
    worker.ref();
    worker.postMessage(job);
  } else {
    worker = new Worker(WORKER_PATH, { workerData: job });
  }
  prestarted = null;
  return new Promise<ScanResult>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | null, result?: ScanResult): void => {
      if (settled) return;
      settled = true;
      if (err === null) resolve(result!);
      else {
        // Wake the worker if it waits for room (Atomics.wait), then stop it.
        Atomics.store(posted, 0, 0);
        Atomics.notify(posted, 0);
        void worker.terminate();
        reject(err);
      }
    };
    worker.on('message', (message: ScanWorkerMessage) => {
      if (settled) return;
      switch (message.kind) {
        case 'batch':
          try {
            readScanBatch(Buffer.from(message.buffer), message.usedBytes, sink);
          } catch (err) {
            settle(err as Error);
            return;
          } finally {
            Atomics.sub(posted, 0, 1);
            Atomics.notify(posted, 0);
          }
          break;
        case 'progress':
          options.onProgress?.(message.diskBytesRead, message.diskBytesTotal);
          break;
        case 'done':
          settle(null, message.result);
          break;
        case 'error': {
          if (message.captureFile) {
            settle(new CaptureFileError(message.message));
            break;
          }
          const err = new Error(`capture scan worker: ${message.message}`);
          if (message.stack !== undefined) err.stack = message.stack;
          settle(err);
          break;
        }
      }
    });
    worker.on('error', (err) => settle(err));
    worker.on('exit', (code) => settle(new Error(`capture scan worker exited with code ${code} before it finished`)));
  });
}
