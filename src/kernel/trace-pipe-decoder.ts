/**
 * Turns trace_pipe chunks into parsed lines: reassembles lines split across chunk
 * boundaries, parses them, and keeps the counters. No I/O.
 */
import { StringDecoder } from 'node:string_decoder';
import { parseTraceLine, type KernelResetEvent, type TraceLineError, type TraceLineErrorCode } from './trace-line';

export interface KernelEventCounters {
  /** Reset events parsed. */
  events: number;
  /** Lines that were not a reset event nor a lost marker. */
  parseErrors: number;
  /** Events the kernel dropped, from "CPU:n [LOST m EVENTS]" lines (ring full). */
  lost: number;
}

export interface TracePipeDecoderSink {
  onEvent(event: KernelResetEvent): void;
  onParseError(error: TraceLineError, firstOfKind: boolean): void;
  onLost(cpu: number, lostEvents: number, firstTime: boolean): void;
}

/** A partial line longer than this is garbage (real lines are ~250 bytes): dropped and counted. */
const MAX_PARTIAL_LINE_BYTES = 64 * 1024;

export class TracePipeDecoder {
  readonly counters: KernelEventCounters = { events: 0, parseErrors: 0, lost: 0 };
  private partial = '';
  private readonly utf8 = new StringDecoder('utf8');
  private readonly errorKindsSeen = new Set<TraceLineErrorCode>();
  private lostSeen = false;

  constructor(private readonly sink: TracePipeDecoderSink) {}

  /** Feeds one chunk of trace_pipe text (UTF-8). */
  push(chunk: Buffer | string): void {
    // StringDecoder keeps a multi-byte character split across chunks for the next one.
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.utf8.write(chunk));
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > MAX_PARTIAL_LINE_BYTES) {
      this.handleLine(this.partial.slice(0, 200) + '…');
      this.partial = '';
    }
    for (const line of lines) this.handleLine(line);
  }

  /** Parses a last line left without its newline (at close). */
  flush(): void {
    const rest = this.partial + this.utf8.end();
    if (rest !== '') this.handleLine(rest);
    this.partial = '';
  }

  private handleLine(line: string): void {
    if (line.trim() === '') return;
    const result = parseTraceLine(line);
    switch (result.kind) {
      case 'event':
        this.counters.events += 1;
        this.sink.onEvent(result.event);
        return;
      case 'lost': {
        this.counters.lost += result.lostEvents;
        const firstTime = !this.lostSeen;
        this.lostSeen = true;
        this.sink.onLost(result.cpu, result.lostEvents, firstTime);
        return;
      }
      case 'error': {
        this.counters.parseErrors += 1;
        const firstOfKind = !this.errorKindsSeen.has(result.error.code);
        this.errorKindsSeen.add(result.error.code);
        this.sink.onParseError(result.error, firstOfKind);
        return;
      }
    }
  }
}
