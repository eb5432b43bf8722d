/**
 * Initial TTLs in use: Linux and most Unix 64, Windows 128, network gear 255
 * (and a few stacks 32). A TTL seen on the wire is initial minus hops travelled.
 */
const INITIAL_TTLS = [32, 64, 128, 255] as const;

/** Hops travelled by a packet that arrived with `ttl`, assuming the nearest common initial TTL. */
export function hopsTravelled(ttl: number): number {
  const initial = INITIAL_TTLS.find((candidate) => candidate >= ttl) ?? 255;
  return initial - ttl;
}

/**
 * Remembers the TTL each source address normally arrives with, from packets that
 * cannot be forged as cheaply as a RST (SYN, SYN-ACK, FIN, data). A RST whose TTL
 * differs from its claimed sender's baseline was made somewhere else on the path.
 */
export class TtlBaseline {
  private readonly bySource = new Map<string, { ttl: number; timeMs: number }>();

  constructor(
    private readonly maxSources = 50_000,
    private readonly maxAgeMs = 10 * 60_000,
  ) {}

  record(ip: string, ttl: number, timeMs: number): void {
    const known = this.bySource.get(ip);
    if (known !== undefined) {
      // In place: a delete and re-insert per packet would cost more than everything else here.
      known.ttl = ttl;
      known.timeMs = timeMs;
      return;
    }
    if (this.bySource.size >= this.maxSources) {
      const oldest = this.bySource.keys().next();
      if (!oldest.done) this.bySource.delete(oldest.value);
    }
    this.bySource.set(ip, { ttl, timeMs });
  }

  expected(ip: string, timeMs: number): number | null {
    const entry = this.bySource.get(ip);
    if (entry === undefined || timeMs - entry.timeMs > this.maxAgeMs) return null;
    return entry.ttl;
  }
}
