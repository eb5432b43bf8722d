/**
 * Long-lived reader of the kernel's TCP reset events (tcp:tcp_send_reset and
 * tcp:tcp_receive_reset) from a private tracefs instance.
 *
 * Events are delivered as `'event'` emissions of a {@link TimedKernelResetEvent}:
 *
 *     const kernel = new KernelResetEvents({ logger });
 *     kernel.on('event', (event) => …);
 *     await kernel.start(signal);   // throws KernelEventsError when unavailable
 *     …
 *     await kernel.stop();          // removes the instance; idempotent
 *
 * If the reader fails while running, the component logs the error, stops itself
 * and emits `'failed'` with the error (never `'error'`, which would throw without
 * a listener).
 *
 * The trace_pipe is read through the native addon's poll reader (O_NONBLOCK +
 * epoll): a blocking fs read would pin one of libuv's four pool threads forever.
 * Unless `exitCleanup: false`, start() installs SIGINT/SIGTERM/SIGHUP handlers
 * that run stop() and an 'exit' handler that removes the instance synchronously
 * (see exit-cleanup.ts); the signal is re-raised when nothing else handles it, so
 * shutdown is unchanged. SIGKILL leaves the instance: the next start() sweeps it.
 */
import { EventEmitter } from 'node:events';
import { loadNativeBinding } from '../capture/native';
import type { NativeBinding, PollReader } from '../capture/native-binding';
import { KernelEventsError } from '../common/errors';
import type { Logger } from '../common/log';
import { installExitCleanup } from './exit-cleanup';
import { completeProcess, readProcStatus, type ProcStatusReader } from './task-info';
import type { KernelResetEvent } from './trace-line';
import { TracePipeDecoder, type KernelEventCounters } from './trace-pipe-decoder';
import {
  createInstance,
  DEFAULT_BUFFER_KB_PER_CPU,
  locateTracefs,
  readTcpResetFormats,
  removeInstance,
  removeInstanceSync,
  sweepStaleInstances,
  type TcpResetEventFormats,
  type TraceInstance,
} from './tracefs';
import { MonotonicToWallClock } from './wall-clock';

/** What the component needs of the native addon. */
export type KernelEventsBinding = Pick<NativeBinding, 'openPollReader' | 'sampleClocks'>;

export interface TimedKernelResetEvent extends KernelResetEvent {
  /** Wall-clock time of the event in ms since the epoch (from the monotonic trace timestamp). */
  timeMs: number;
}

export interface KernelResetEventsOptions {
  logger: Logger;
  /** tracefs mount to use; default: /sys/kernel/tracing (mounted if empty), then /sys/kernel/debug/tracing. */
  tracefsDir?: string;
  /** Default: the project's native addon (src/capture/native.ts loadNativeBinding), loaded by start(). */
  binding?: KernelEventsBinding;
  bufferKbPerCpu?: number;
  /** How often the realtime−monotonic offset is resampled, to follow clock steps. */
  clockResampleMs?: number;
  /** Largest read from trace_pipe. */
  chunkBytes?: number;
  /** Install signal/exit handlers that remove the instance (default true). */
  exitCleanup?: boolean;
  /** Source of /proc/<tid>/status, to name tasks the trace printed as `<...>`. */
  readProcStatus?: ProcStatusReader;
}

export const DEFAULT_CLOCK_RESAMPLE_MS = 60_000;
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

export interface KernelResetEventsEvents {
  event: [TimedKernelResetEvent];
  failed: [Error];
}

export class KernelResetEvents extends EventEmitter<KernelResetEventsEvents> {
  readonly name = 'kernel-reset-events';
  private readonly logger: Logger;
  private readonly decoder: TracePipeDecoder;
  private clock: MonotonicToWallClock | null = null;
  private instanceValue: TraceInstance | null = null;
  private formatsValue: TcpResetEventFormats | null = null;
  private reader: PollReader | null = null;
  private resampleTimer: NodeJS.Timeout | null = null;
  private uninstallExitCleanup: (() => void) | null = null;
  private abortListener: { signal: AbortSignal; listener: () => void } | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly options: KernelResetEventsOptions) {
    super();
    this.logger = options.logger.child({ component: 'kernel-reset-events' });
    this.decoder = new TracePipeDecoder({
      onEvent: (event) => this.deliver(event),
      onParseError: (error, firstOfKind) => {
        if (firstOfKind) this.logger.warn({ code: error.code, line: error.line }, `unparsed trace_pipe line: ${error.message}`);
        else this.logger.debug({ code: error.code, line: error.line }, 'unparsed trace_pipe line');
      },
      onLost: (cpu, lostEvents, firstTime) => {
        const fields = { cpu, lostEvents, bufferKbPerCpu: this.options.bufferKbPerCpu ?? DEFAULT_BUFFER_KB_PER_CPU };
        if (firstTime) this.logger.warn(fields, 'kernel dropped reset events: trace buffer full');
        else this.logger.debug(fields, 'kernel dropped reset events');
      },
    });
  }

  /** Cumulative counters: events parsed, unparsed lines, events lost by the kernel. */
  get counters(): Readonly<KernelEventCounters> {
    return this.decoder.counters;
  }

  /** The private trace instance while running. */
  get instance(): TraceInstance | null {
    return this.instanceValue;
  }

  /** The event formats of the running kernel (e.g. `formats.send.symbolNames.get('reason')`). */
  get formats(): TcpResetEventFormats | null {
    return this.formatsValue;
  }

  /** Throws KernelEventsError when tracefs, the events or the addon are unavailable; cleans up after itself then. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.instanceValue !== null) throw new KernelEventsError('kernel reset events already started');
    signal.throwIfAborted();
    const binding = this.options.binding ?? loadDefaultBinding();
    const tracefsDir = await locateTracefs({ dir: this.options.tracefsDir, logger: this.logger });
    this.formatsValue = await readTcpResetFormats(tracefsDir);
    await sweepStaleInstances(tracefsDir, this.logger);
    const instance = await createInstance(tracefsDir, { bufferKbPerCpu: this.options.bufferKbPerCpu, logger: this.logger });
    this.instanceValue = instance;
    this.stopping = null;
    try {
      if (this.options.exitCleanup !== false) {
        this.uninstallExitCleanup = installExitCleanup({ onSignal: () => this.stop(), onExit: () => this.closeSync() });
      }
      this.clock = new MonotonicToWallClock(() => binding.sampleClocks());
      const clock = this.clock;
      this.resampleTimer = setInterval(() => clock.resample(), this.options.clockResampleMs ?? DEFAULT_CLOCK_RESAMPLE_MS);
      this.resampleTimer.unref();
      this.reader = binding.openPollReader(
        instance.tracePipePath,
        this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
        (chunk) => this.decoder.push(chunk),
        (err) => this.onReaderError(err),
      );
    } catch (err) {
      await this.stop();
      throw new KernelEventsError(`cannot read ${instance.tracePipePath}: ${firstLine(err)}`, { cause: err });
    }
    const listener = (): void => void this.stop();
    signal.addEventListener('abort', listener, { once: true });
    this.abortListener = { signal, listener };
    this.logger.info(
      { instance: instance.dir, reasons: this.formatsValue.send.symbolNames.get('reason')?.length ?? 0 },
      'reading kernel reset events',
    );
  }

  /** Closes the reader and removes the instance. Idempotent; never throws (failures are logged). */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    if (this.resampleTimer !== null) clearInterval(this.resampleTimer);
    this.resampleTimer = null;
    if (this.abortListener !== null) this.abortListener.signal.removeEventListener('abort', this.abortListener.listener);
    this.abortListener = null;
    this.closeReader();
    this.decoder.flush();
    const instance = this.instanceValue;
    if (instance !== null) {
      try {
        await removeInstance(instance);
      } catch (err) {
        this.logger.warn({ err, instance: instance.dir }, 'trace instance not removed');
      }
    }
    this.instanceValue = null;
    this.uninstallExitCleanup?.();
    this.uninstallExitCleanup = null;
  }

  /** The 'exit' path: synchronous, no logging (the logger may be gone); no loop turn follows. */
  private closeSync(): void {
    this.closeReader();
    if (this.instanceValue !== null) removeInstanceSync(this.instanceValue);
  }

  private closeReader(): void {
    const reader = this.reader;
    this.reader = null;
    try {
      reader?.close();
    } catch (err) {
      this.logger.debug({ err }, 'closing trace_pipe reader failed');
    }
  }

  private onReaderError(err: Error): void {
    this.logger.error({ err }, 'trace_pipe reader failed; kernel reset events stopped');
    void this.stop().then(() => this.emit('failed', err));
  }

  private deliver(event: KernelResetEvent): void {
    const process = event.process === null ? null : completeProcess(event.process, this.options.readProcStatus ?? readProcStatus);
    const timeMs = this.clock === null ? Number.NaN : this.clock.toWallMs(event.monotonicMs);
    this.emit('event', { ...event, process, timeMs });
  }
}

/** The project's addon; a missing or stale build becomes a KernelEventsError (auto mode then continues without). */
function loadDefaultBinding(): KernelEventsBinding {
  try {
    return loadNativeBinding();
  } catch (err) {
    throw new KernelEventsError(`native addon unavailable: ${firstLine(err)}`, { cause: err });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
