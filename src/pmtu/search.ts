import { plateausWithin } from './plateaus';

/**
 * The path-MTU search as a pure state machine over probe sizes (total IP packet
 * bytes). The driver (path-prober.ts) asks `nextRound()` for the sizes to send at
 * once, reports each one's outcome with `record()`, and repeats until `done`.
 * Unit tests drive it with a simulated path; no timers or sockets here.
 *
 * Round 1 sends the smallest and largest allowed sizes and every plateau between.
 * Later rounds bisect the unknown gap with several probes in flight. A size counts
 * as too big on proof (ICMP frag-needed / packet-too-big, or the local EMSGSIZE)
 * or after `silenceTries` silent tries, so a lost packet is not taken for a limit
 * (RFC 4821 §7.7 makes the same point for packetization-layer PMTUD); once a loss
 * has been seen (a silent size that later proved to fit), more tries are needed.
 */
export type ProbeOutcome =
  | { kind: 'reply' }
  /** ICMP said too big (with the next-hop MTU it announced, if any), or the local stack refused (EMSGSIZE). */
  | { kind: 'too-big'; source: 'icmp' | 'local'; mtuBytes: number | null }
  | { kind: 'silent' };

export interface SearchOptions {
  minBytes: number;
  maxBytes: number;
  /** Probes per bisection round (default 3). */
  maxInFlight?: number;
  /** Silent tries before a size counts as too big (default 4: one in 600 wrong at 20% loss, see search.test.ts). */
  silenceTries?: number;
  /** Silent tries once a loss has been seen on this path (default 6). */
  silenceTriesAfterLoss?: number;
  /** Skip the plateau round (the UDP fallback: every answer there is rate-limited). */
  skipPlateaus?: boolean;
  /** Sizes already proven too big and MTUs already announced (from an earlier search of the same path). */
  knownTooBigBytes?: number;
  announcedMtusBytes?: readonly number[];
}

/** What limits the path at `pmtuBytes`. */
export type LimitedBy = 'icmp' | 'local' | 'silence' | 'max' | 'unknown';

export interface SearchResult {
  /** Largest size that got an answer; null when nothing did. */
  pmtuBytes: number | null;
  limitedBy: LimitedBy;
  icmpSeen: boolean;
  /** MTUs announced by ICMP errors, as received. */
  announcedMtusBytes: number[];
  /** The limit was found by silence alone: packets above it vanish without an error. */
  blackHole: boolean;
  lossSeen: boolean;
  /** Smallest size known to be too big (maxBytes + 1 when none). */
  tooBigBytes: number;
}

export class PmtuSearch {
  readonly minBytes: number;
  readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly silenceTries: number;
  private readonly silenceTriesAfterLoss: number;
  private readonly skipPlateaus: boolean;
  private largestReply: number | null = null;
  /** Smallest size proven too big by ICMP or locally, or announced MTU + 1. */
  private provenTooBig: number;
  private provenBy: LimitedBy = 'max';
  private readonly silences = new Map<number, number>();
  private readonly hints = new Set<number>();
  private readonly announced: number[] = [];
  private icmpSeen = false;
  private lossSeen = false;
  private rounds = 0;

  constructor(options: SearchOptions) {
    if (!Number.isInteger(options.minBytes) || !Number.isInteger(options.maxBytes) || options.minBytes > options.maxBytes) {
      throw new RangeError(`bad search range ${options.minBytes}..${options.maxBytes}`);
    }
    this.minBytes = options.minBytes;
    this.maxBytes = options.maxBytes;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 3);
    this.silenceTries = Math.max(1, options.silenceTries ?? 4);
    this.silenceTriesAfterLoss = Math.max(this.silenceTries, options.silenceTriesAfterLoss ?? 6);
    this.skipPlateaus = options.skipPlateaus ?? false;
    this.provenTooBig = this.maxBytes + 1;
    if (options.knownTooBigBytes !== undefined && options.knownTooBigBytes <= this.maxBytes) {
      this.provenTooBig = Math.max(this.minBytes, options.knownTooBigBytes);
      this.provenBy = 'icmp';
    }
    for (const mtu of options.announcedMtusBytes ?? []) this.addAnnounced(mtu);
  }

  /** Lower bound of the unknown range: the largest size that fits, or just below the minimum. */
  private get base(): number {
    return this.largestReply ?? this.minBytes - 1;
  }

  private get tries(): number {
    return this.lossSeen ? this.silenceTriesAfterLoss : this.silenceTries;
  }

  /** Smallest size known to be too big, from proof or from enough silence. */
  get upperBound(): number {
    let upper = this.provenTooBig;
    for (const [size, count] of this.silences) if (size > this.base && size < upper && count >= this.tries) upper = size;
    return upper;
  }

  get done(): boolean {
    const upper = this.upperBound;
    return upper <= this.base + 1 || upper <= this.minBytes;
  }

  /** Sizes to send now (a size may repeat: independent tries); empty when done. */
  nextRound(): number[] {
    if (this.done) return [];
    this.rounds += 1;
    const upper = this.upperBound;
    if (this.rounds === 1 && !this.skipPlateaus) {
      const first = [upper - 1, ...plateausWithin(this.minBytes, upper - 1), this.minBytes];
      return [...new Set(first)].filter((size) => size >= this.minBytes && size < upper);
    }
    // An announced MTU is almost always the answer: try it alone first.
    for (const hint of [...this.hints].sort((a, b) => b - a)) {
      if (hint > this.base && hint < upper && (this.silences.get(hint) ?? 0) < this.tries) {
        this.hints.delete(hint);
        return [hint];
      }
    }
    // Without the plateau round nothing has been tried: first make sure the smallest size gets an answer at all.
    if (this.largestReply === null && this.skipPlateaus) {
      const missing = this.tries - (this.silences.get(this.minBytes) ?? 0);
      return Array.from({ length: this.rounds === 1 ? 1 : missing }, () => this.minBytes);
    }
    let pending: number | null = null;
    for (const [size, count] of this.silences) {
      if (size > this.base && size < upper && count < this.tries && (pending === null || size < pending)) pending = size;
    }
    const top = pending ?? upper;
    const gap = top - this.base - 1;
    const sizes: number[] = [];
    if (gap > 0) {
      if (gap <= this.maxInFlight) {
        for (let size = this.base + 1; size < top; size += 1) sizes.push(size);
      } else {
        for (let i = 1; i <= this.maxInFlight; i += 1) sizes.push(this.base + Math.round((i * (gap + 1)) / (this.maxInFlight + 1)));
      }
    }
    // The smallest silent size is retried only once nothing below it is unknown, and
    // then with all its remaining tries at once: while the gap below is open, its
    // bisection answers the same question for fewer probes.
    if (pending !== null && gap === 0) {
      const missing = this.tries - (this.silences.get(pending) ?? 0);
      for (let i = 0; i < missing; i += 1) sizes.push(pending);
    }
    return sizes;
  }

  record(sizeBytes: number, outcome: ProbeOutcome): void {
    switch (outcome.kind) {
      case 'reply':
        this.recordReply(sizeBytes);
        return;
      case 'too-big':
        if (outcome.source === 'icmp') this.icmpSeen = true;
        if (outcome.mtuBytes !== null) this.addAnnounced(outcome.mtuBytes);
        if (sizeBytes > this.base && sizeBytes < this.provenTooBig) {
          this.provenTooBig = sizeBytes;
          this.provenBy = outcome.source;
        }
        return;
      case 'silent':
        if (sizeBytes <= this.base) {
          this.lossSeen = true; // it fits: the silence was a loss
          return;
        }
        this.silences.set(sizeBytes, (this.silences.get(sizeBytes) ?? 0) + 1);
        return;
    }
  }

  result(): SearchResult {
    const upper = this.upperBound;
    let limitedBy: LimitedBy = 'unknown';
    if (this.largestReply !== null && upper === this.largestReply + 1) {
      limitedBy = upper === this.maxBytes + 1 ? 'max' : upper === this.provenTooBig ? this.provenBy : 'silence';
    }
    return {
      pmtuBytes: this.largestReply,
      limitedBy,
      icmpSeen: this.icmpSeen,
      announcedMtusBytes: [...this.announced],
      blackHole: this.largestReply !== null && limitedBy === 'silence',
      lossSeen: this.lossSeen,
      tooBigBytes: upper,
    };
  }

  private recordReply(sizeBytes: number): void {
    if (this.largestReply !== null && sizeBytes <= this.largestReply) return;
    this.largestReply = sizeBytes;
    for (const [size] of this.silences) {
      if (size <= sizeBytes) {
        this.silences.delete(size);
        this.lossSeen = true; // silent once, yet it fits
      }
    }
    if (sizeBytes >= this.provenTooBig) {
      // The path carried what ICMP (or an earlier route) called too big: the path changed; forget that bound.
      this.provenTooBig = this.maxBytes + 1;
      this.provenBy = 'max';
    }
  }

  private addAnnounced(mtuBytes: number): void {
    this.announced.push(mtuBytes);
    // RFC 1191 §4: sizes above the announced next-hop MTU cannot pass that hop.
    if (mtuBytes >= this.minBytes - 1 && mtuBytes + 1 < this.provenTooBig && mtuBytes + 1 > this.base) {
      this.provenTooBig = mtuBytes + 1;
      this.provenBy = 'icmp';
    }
    if (mtuBytes >= this.minBytes && mtuBytes <= this.maxBytes) this.hints.add(mtuBytes);
  }
}
