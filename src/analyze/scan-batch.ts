import type { LinkType } from '../decode/types';
import type { ScanSink } from './capture-scan';

/**
 * The scan stage's output packed into batches that cross a thread boundary whole
 * (one transfer per batch, not one message per frame). Records, little-endian,
 * each starting on an 8-byte boundary:
 *
 *   kind u8 (1 frame, 2 tick) · flags u8 (bit 0: check duplicate) · link type u16 ·
 *   frame length u32 · time ms f64 · frame bytes, padded to 8
 *
 * A tick record has length 0 and its time is the tick's `nowMs`.
 */
const KIND_FRAME = 1;
const KIND_TICK = 2;
const HEADER_BYTES = 16;
/** Default batch size: a few hundred frames, far more than the largest frame (MAX_CAPLEN_BYTES). */
export const SCAN_BATCH_BYTES = 1 << 20;

const padded8 = (bytes: number): number => (bytes + 7) & ~7;

/** A ScanSink that packs into batches and hands each full one to `flush` (which takes ownership of it). */
export class ScanBatchWriter implements ScanSink {
  private current: Buffer;
  private view: DataView;
  private used = 0;

  constructor(
    private readonly flush: (batch: Buffer, usedBytes: number) => void,
    private readonly batchBytes = SCAN_BATCH_BYTES,
  ) {
    this.current = this.newBatch();
    this.view = new DataView(this.current.buffer, this.current.byteOffset, this.current.length);
  }

  frame(linkType: LinkType, buffer: Buffer, start: number, length: number, timeMs: number, checkDuplicate: boolean): void {
    // A pcapng simple packet block of 12 bytes implies a negative length: an empty frame, as a subarray of it would be.
    if (length < 0) length = 0;
    const recordBytes = HEADER_BYTES + padded8(length);
    if (this.used + recordBytes > this.current.length) this.end();
    if (recordBytes > this.current.length) throw new Error(`scan batch: a ${length}-byte frame does not fit a ${this.current.length}-byte batch`);
    const at = this.used;
    const batch = this.current;
    batch[at] = KIND_FRAME;
    batch[at + 1] = checkDuplicate ? 1 : 0;
    this.view.setUint16(at + 2, linkType, true);
    this.view.setUint32(at + 4, length, true);
    this.view.setFloat64(at + 8, timeMs, true);
    buffer.copy(batch, at + HEADER_BYTES, start, start + length);
    this.used = at + recordBytes;
  }

  tick(nowMs: number): void {
    if (this.used + HEADER_BYTES > this.current.length) this.end();
    const at = this.used;
    this.current[at] = KIND_TICK;
    this.view.setUint32(at + 4, 0, true);
    this.view.setFloat64(at + 8, nowMs, true);
    this.used = at + HEADER_BYTES;
  }

  /** Records packed elsewhere (the native scanner): handed on as they are, after what was written before. */
  batch(records: Buffer, usedBytes: number): void {
    this.end();
    this.flush(records, usedBytes);
  }

  /** Hands on the batch being filled, if it holds anything. */
  end(): void {
    if (this.used === 0) return;
    this.flush(this.current, this.used);
    this.current = this.newBatch();
    this.view = new DataView(this.current.buffer, this.current.byteOffset, this.current.length);
    this.used = 0;
  }

  private newBatch(): Buffer {
    // Its own ArrayBuffer (not a slice of Node's pool), so it can be transferred.
    return Buffer.from(new ArrayBuffer(this.batchBytes));
  }
}

/** Replays the records of batch[0, usedBytes) into `sink`, in order. */
export function readScanBatch(batch: Buffer, usedBytes: number, sink: ScanSink): void {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.length);
  let at = 0;
  while (at + HEADER_BYTES <= usedBytes) {
    const kind = batch[at];
    const length = view.getUint32(at + 4, true);
    const timeMs = view.getFloat64(at + 8, true);
    if (kind === KIND_FRAME) {
      sink.frame(view.getUint16(at + 2, true) as LinkType, batch, at + HEADER_BYTES, length, timeMs, batch[at + 1] === 1);
      at += HEADER_BYTES + padded8(length);
    } else if (kind === KIND_TICK) {
      sink.tick(timeMs);
      at += HEADER_BYTES;
    } else {
      throw new Error(`scan batch: record of unknown kind ${kind} at byte ${at}`);
    }
  }
}
