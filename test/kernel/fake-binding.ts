/**
 * A stand-in for the native addon's `openPollReader`/`sampleClocks`: opens the file
 * with O_NONBLOCK and polls it on a timer (the addon uses epoll). Works for a FIFO
 * and for a real tracefs trace_pipe; close() is immediate, so rmdir of the
 * instance is not held up by a read in flight.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { ClockSample, PollReader } from '../../src/capture/native-binding';
import type { KernelEventsBinding } from '../../src/kernel/reset-events';

export interface FakeBinding extends KernelEventsBinding {
  /** Paths passed to openPollReader. */
  openedPaths: string[];
}

/** `pathOverride` makes every openPollReader read that file (a FIFO in unit tests) instead. */
export function pollingFileBinding(options: { pathOverride?: string; pollMs?: number; offsetNs?: bigint } = {}): FakeBinding {
  const openedPaths: string[] = [];
  return {
    openedPaths,
    openPollReader(path, chunkBytes, onData, onError): PollReader {
      openedPaths.push(path);
      const fd = openSync(options.pathOverride ?? path, constants.O_RDONLY | constants.O_NONBLOCK);
      let open = true;
      const buffer = Buffer.alloc(chunkBytes);
      const timer = setInterval(() => {
        try {
          for (;;) {
            const bytes = readSync(fd, buffer, 0, chunkBytes, null);
            if (bytes <= 0) return;
            onData(Buffer.from(buffer.subarray(0, bytes)));
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
          close();
          onError(err as Error);
        }
      }, options.pollMs ?? 10);
      const close = (): void => {
        if (!open) return;
        open = false;
        clearInterval(timer);
        closeSync(fd);
      };
      return { close };
    },
    sampleClocks(): ClockSample {
      // process.hrtime is CLOCK_MONOTONIC (libuv uv_hrtime), as trace_clock "mono".
      const monotonicNs = process.hrtime.bigint();
      return { realtimeNs: BigInt(Date.now()) * 1_000_000n + (options.offsetNs ?? 0n), monotonicNs, boottimeNs: monotonicNs };
    },
  };
}
