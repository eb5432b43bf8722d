import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Evidence captures on disk with bounded use: at most `maxFiles` files and
 * `maxBytes` bytes in `dir`; the oldest go first. Files already in the directory
 * (from an earlier run) count too. One file per finding, named by its id.
 */
export interface EvidenceStoreOptions {
  dir?: string;
  maxFiles?: number;
  maxBytes?: number;
}

export const DEFAULT_EVIDENCE_DIR = path.join(tmpdir(), 'rstprobe-evidence');
const SUFFIX = '.pcapng';
/** Finding ids are UUIDs; anything else is refused so an id can never name a path outside `dir`. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export class EvidenceStore {
  readonly dir: string;
  private readonly maxFiles: number;
  private readonly maxBytes: number;
  /** Files oldest first, with their sizes. */
  private readonly files = new Map<string, number>();
  private totalBytes = 0;

  constructor(options: EvidenceStoreOptions = {}) {
    this.dir = options.dir ?? DEFAULT_EVIDENCE_DIR;
    this.maxFiles = options.maxFiles ?? 500;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const existing = readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .map((name) => {
        const stat = statSync(path.join(this.dir, name));
        return { id: name.slice(0, -SUFFIX.length), bytes: stat.size, mtimeMs: stat.mtimeMs };
      })
      .sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const file of existing) this.remember(file.id, file.bytes);
    this.prune();
  }

  get fileCount(): number {
    return this.files.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Writes a finding's capture, then deletes the oldest files past the bounds. Returns the path. */
  save(findingId: string, pcapng: Buffer): string {
    if (!SAFE_ID.test(findingId)) throw new Error(`evidence: unsafe finding id ${JSON.stringify(findingId)}`);
    const file = this.pathOf(findingId);
    writeFileSync(file, pcapng, { mode: 0o600 });
    this.forget(findingId);
    this.remember(findingId, pcapng.length);
    this.prune();
    return file;
  }

  read(findingId: string): Buffer | null {
    if (!SAFE_ID.test(findingId) || !this.files.has(findingId)) return null;
    try {
      return readFileSync(this.pathOf(findingId));
    } catch {
      return null;
    }
  }

  private pathOf(findingId: string): string {
    return path.join(this.dir, `${findingId}${SUFFIX}`);
  }

  private remember(findingId: string, bytes: number): void {
    this.files.set(findingId, bytes);
    this.totalBytes += bytes;
  }

  private forget(findingId: string): void {
    const bytes = this.files.get(findingId);
    if (bytes === undefined) return;
    this.files.delete(findingId);
    this.totalBytes -= bytes;
  }

  private prune(): void {
    while (this.files.size > this.maxFiles || (this.totalBytes > this.maxBytes && this.files.size > 1)) {
      const oldest = this.files.keys().next();
      if (oldest.done) return;
      this.forget(oldest.value);
      try {
        unlinkSync(this.pathOf(oldest.value));
      } catch {
        // already gone: the bound holds either way
      }
    }
  }
}
