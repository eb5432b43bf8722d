/**
 * Round-trip time estimate for probe timeouts, after TCP's (RFC 6298 §2): smoothed
 * RTT and its variation; a probe is given up after max(3 × srtt, srtt + 4 × rttvar,
 * floor). Before any sample the initial timeout applies (RFC 6298 says 1 s).
 */
export interface RttOptions {
  initialTimeoutMs?: number;
  floorMs?: number;
  ceilingMs?: number;
}

export class RttEstimator {
  private srttMs: number | null = null;
  private rttvarMs = 0;
  private readonly initialTimeoutMs: number;
  private readonly floorMs: number;
  private readonly ceilingMs: number;

  constructor(options: RttOptions = {}) {
    this.initialTimeoutMs = options.initialTimeoutMs ?? 1_000;
    this.floorMs = options.floorMs ?? 50;
    this.ceilingMs = options.ceilingMs ?? 3_000;
  }

  get smoothedMs(): number | null {
    return this.srttMs;
  }

  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.srttMs === null) {
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
      return;
    }
    this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - rttMs);
    this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
  }

  timeoutMs(): number {
    if (this.srttMs === null) return this.initialTimeoutMs;
    const estimate = Math.max(3 * this.srttMs, this.srttMs + 4 * this.rttvarMs, this.floorMs);
    return Math.min(estimate, this.ceilingMs);
  }
}
