import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CaptureFileError } from '../common/errors';
import { scanCaptureFile, type ScanResult } from './capture-scan';
import { ScanBatchWriter } from './scan-batch';

/**
 * The scan stage on a worker thread (started by scan-thread.ts): it reads and
 * scans the file while the main thread diagnoses what it scanned before, so the
 * two halves of `rstprobe analyze` use both cores. Messages to the parent, in
 * order: batches, progress, then one `done` or `error`.
 */
export interface ScanWorkerData {
  path: string;
  coalesce: boolean;
  /** Int32 [batches posted and not yet replayed by the parent]. */
  inFlight: SharedArrayBuffer;
  maxBatchesInFlight: number;
}

export type ScanWorkerMessage =
  | { kind: 'batch'; buffer: ArrayBuffer; usedBytes: number }
  | { kind: 'progress'; diskBytesRead: number; diskBytesTotal: number }
  | { kind: 'done'; result: ScanResult }
  | { kind: 'error'; message: string; captureFile: boolean; stack?: string };

/** Scans one file for the parent: batches and progress, then `done` or `error`; the worker ends after it. */
function runScan(port: MessagePort, job: ScanWorkerData): void {
  const inFlight = new Int32Array(job.inFlight);
  const post = (message: ScanWorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  const writer = new ScanBatchWriter((batch, usedBytes) => {
    // Back-pressure: the parent replays batches slower than they come on a fast
    // disk; waiting here bounds the memory between the threads.
    for (let posted = Atomics.load(inFlight, 0); posted >= job.maxBatchesInFlight; posted = Atomics.load(inFlight, 0)) Atomics.wait(inFlight, 0, posted);
    Atomics.add(inFlight, 0, 1);
    post({ kind: 'batch', buffer: batch.buffer as ArrayBuffer, usedBytes }, [batch.buffer as ArrayBuffer]);
  });
  scanCaptureFile(job.path, writer, {
    coalesce: job.coalesce,
    onProgress: (diskBytesRead, diskBytesTotal) => post({ kind: 'progress', diskBytesRead, diskBytesTotal }),
  }).then(
    (result) => {
      writer.end();
      post({ kind: 'done', result });
    },
    (err: unknown) => {
      const error = err as Error;
      post({ kind: 'error', message: error?.message ?? String(err), captureFile: err instanceof CaptureFileError, stack: error?.stack });
    },
  );
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  // The job comes with the worker, or later in a message to a worker started
  // ahead of time (prestartScanWorker), which meanwhile loaded this module.
  if (workerData !== null && workerData !== undefined) runScan(port, workerData as ScanWorkerData);
  else port.once('message', (job: ScanWorkerData) => runScan(port, job));
}
