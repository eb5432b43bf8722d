import { accessSync, appendFileSync, constants, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../common/log';
import type { Finding } from '../protocol/finding';

/** One sequenced item waiting for the aggregator's ack (src/protocol/messages.ts). */
export type QueuedItem =
  | { seq: number; type: 'finding'; update: boolean; finding: Finding }
  | { seq: number; type: 'evidence'; findingId: string; pcapng: string; bytes: number };

/** A segment file holds at most this many bytes, so loading one back stays small. */
const SEGMENT_MAX_BYTES = 1024 * 1024;
const SEGMENT_PATTERN = /^segment-(\d+)\.ndjson$/;

/** `/var/lib/rstprobe/spool` when writable (a DaemonSet mounts a hostPath there), else the OS temp dir. */
export function defaultSpoolDir(node: string): string {
  const preferred = '/var/lib/rstprobe/spool';
  try {
    mkdirSync(preferred, { recursive: true });
    accessSync(preferred, constants.W_OK);
    return preferred;
  } catch {
    return path.join(tmpdir(), `rstprobe-spool-${node.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  }
}

/**
 * The on-disk overflow of the agent's queue while the aggregator is away: NDJSON
 * segment files named by their first seq, oldest drained first, bounded in bytes.
 * A segment is removed once read back into memory; on a graceful stop the agent
 * writes what memory still holds, so the next run resends it under the same seqs.
 */
export class Spool {
  private segments: Array<{ file: string; firstSeq: number; bytes: number }> = [];
  private totalBytes = 0;
  private itemCount = 0;
  private writable = true;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir)) {
        const match = SEGMENT_PATTERN.exec(name);
        if (match === null) continue;
        const file = path.join(dir, name);
        const bytes = statSync(file).size;
        this.segments.push({ file, firstSeq: Number(match[1]), bytes });
        this.totalBytes += bytes;
        this.itemCount += countLines(file);
      }
      this.segments.sort((a, b) => a.firstSeq - b.firstSeq);
    } catch (err) {
      this.writable = false;
      this.log.error({ err, dir }, 'spool directory unusable; findings beyond the memory queue will be dropped and counted');
    }
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get items(): number {
    return this.itemCount;
  }

  get empty(): boolean {
    return this.segments.length === 0;
  }

  /** Highest seq on disk (to continue numbering after a restart), 0 when empty. */
  lastSeq(): number {
    const last = this.segments.at(-1);
    if (last === undefined) return 0;
    const lines = readFileSync(last.file, 'utf8').trimEnd().split('\n');
    return (JSON.parse(lines[lines.length - 1]) as QueuedItem).seq;
  }

  /** Appends items (in seq order); returns how many it refused because the bound or the disk said no. */
  append(items: readonly QueuedItem[]): number {
    let refused = 0;
    for (const item of items) {
      const line = `${JSON.stringify(item)}\n`;
      const bytes = Buffer.byteLength(line);
      if (!this.writable || this.totalBytes + bytes > this.maxBytes) {
        refused += 1;
        continue;
      }
      let segment = this.segments.at(-1);
      if (segment === undefined || segment.bytes + bytes > SEGMENT_MAX_BYTES) {
        segment = { file: path.join(this.dir, `segment-${String(item.seq).padStart(17, '0')}.ndjson`), firstSeq: item.seq, bytes: 0 };
        this.segments.push(segment);
      }
      try {
        appendFileSync(segment.file, line);
      } catch (err) {
        this.log.error({ err, file: segment.file }, 'cannot write to the spool');
        refused += 1;
        continue;
      }
      segment.bytes += bytes;
      this.totalBytes += bytes;
      this.itemCount += 1;
    }
    return refused;
  }

  /** Reads the oldest segment back and removes it; empty when the spool is. */
  takeOldest(): QueuedItem[] {
    const segment = this.segments.shift();
    if (segment === undefined) return [];
    this.totalBytes -= segment.bytes;
    let items: QueuedItem[] = [];
    try {
      items = readFileSync(segment.file, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as QueuedItem];
          } catch {
            // A line cut short by a crash mid-write: the rest of the segment is still good.
            this.log.warn({ file: segment.file }, 'skipping a torn spool line');
            return [];
          }
        });
      unlinkSync(segment.file);
    } catch (err) {
      this.log.error({ err, file: segment.file }, 'cannot read a spool segment back');
    }
    this.itemCount = Math.max(0, this.itemCount - items.length);
    return items;
  }
}

function countLines(file: string): number {
  const text = readFileSync(file, 'utf8');
  let lines = 0;
  for (let index = text.indexOf('\n'); index >= 0; index = text.indexOf('\n', index + 1)) lines += 1;
  return lines;
}
