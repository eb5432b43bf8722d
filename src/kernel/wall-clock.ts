/**
 * Converts trace timestamps (CLOCK_MONOTONIC, the instance's trace_clock `mono`)
 * to wall-clock ms. The offset realtime − monotonic changes when the wall clock is
 * stepped (NTP, settimeofday), so it is resampled periodically.
 */
import type { ClockSample } from '../capture/native-binding';

export class MonotonicToWallClock {
  private offsetMs = 0;

  constructor(private readonly sampleClocks: () => ClockSample) {
    this.resample();
  }

  /** Takes a new clock sample; call on a timer. */
  resample(): void {
    const sample = this.sampleClocks();
    this.offsetMs = Number(sample.realtimeNs - sample.monotonicNs) / 1e6;
  }

  toWallMs(monotonicMs: number): number {
    return monotonicMs + this.offsetMs;
  }
}
