/**
 * A one-line progress bar on stderr for long reads, redrawn at most every
 * `intervalMs`. Only for terminals: the caller decides (stderr.isTTY); logs and
 * piped stderr never see carriage returns.
 */
export class ProgressBar {
  private lastDrawMs = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly intervalMs = 100,
    private readonly widthChars = 30,
  ) {}

  update(doneBytes: number, totalBytes: number): void {
    const nowMs = Date.now();
    if (nowMs - this.lastDrawMs < this.intervalMs) return;
    this.lastDrawMs = nowMs;
    const fraction = totalBytes > 0 ? Math.min(1, doneBytes / totalBytes) : 0;
    const filled = Math.round(fraction * this.widthChars);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(this.widthChars - filled)}`;
    this.stream.write(`\r${this.label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${megabytes(doneBytes)}/${megabytes(totalBytes)} MB`);
    this.drawn = true;
  }

  /** Erases the bar so the next output starts on a clean line. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0);
}
