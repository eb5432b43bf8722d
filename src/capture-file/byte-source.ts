import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/**
 * Sequential bytes of a capture file, decompressed when it is gzip. `fill` copies
 * into the caller's buffer so the reader keeps one buffer for the whole file
 * (constant memory whatever the file's size).
 */
export interface ByteSource {
  readonly gzip: boolean;
  /** Compressed bytes read from disk so far (for progress). */
  readonly diskBytesRead: number;
  readonly diskBytesTotal: number;
  /** The error that ended a gzip stream early ("unexpected end of file" for a cut-off .gz); null otherwise. */
  readonly error: Error | null;
  /** Copies bytes to `target[at, end)` until it is full or the file ends; 0 only at the end. */
  fill(target: Buffer, at: number, end: number): Promise<number>;
  close(): Promise<void>;
}

/** gzip member header magic (RFC 1952 §2.3.1). */
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

class PlainFileSource implements ByteSource {
  readonly gzip = false;
  readonly error = null;
  diskBytesRead = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly diskBytesTotal: number,
  ) {}

  async fill(target: Buffer, at: number, end: number): Promise<number> {
    let total = 0;
    while (at + total < end) {
      const { bytesRead } = await this.handle.read(target, at + total, end - at - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      this.diskBytesRead += bytesRead;
    }
    return total;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

class GzipFileSource implements ByteSource {
  readonly gzip = true;
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer | null = null;
  private readonly stream: ReturnType<typeof createReadStream>;
  private failure: Error | null = null;

  constructor(
    path: string,
    readonly diskBytesTotal: number,
  ) {
    this.stream = createReadStream(path, { highWaterMark: 1 << 20 });
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    this.stream.on('error', (err) => gunzip.destroy(err));
    this.stream.pipe(gunzip);
    this.chunks = gunzip[Symbol.asyncIterator]();
  }

  get diskBytesRead(): number {
    return this.stream.bytesRead;
  }

  async fill(target: Buffer, at: number, end: number): Promise<number> {
    let total = 0;
    while (at + total < end) {
      if (this.pending === null) {
        if (this.failure !== null) break;
        let next: IteratorResult<Buffer>;
        try {
          next = await this.chunks.next();
        } catch (err) {
          // A cut-off or corrupt gzip stream: keep what was decompressed, the reader reports the end.
          this.failure = err as Error;
          break;
        }
        if (next.done === true) break;
        this.pending = next.value;
      }
      const copied = this.pending.copy(target, at + total, 0, Math.min(this.pending.length, end - at - total));
      total += copied;
      this.pending = copied < this.pending.length ? this.pending.subarray(copied) : null;
    }
    return total;
  }

  get error(): Error | null {
    return this.failure;
  }

  async close(): Promise<void> {
    this.stream.destroy();
  }
}

/** Opens `path`, looking at its first bytes to decide whether it is gzip. */
export async function openByteSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    if (bytesRead === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1) {
      await handle.close();
      return new GzipFileSource(path, size);
    }
    return new PlainFileSource(handle, size);
  } catch (err) {
    await handle.close();
    throw err;
  }
}
