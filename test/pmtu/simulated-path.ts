import { PmtuSearch, type ProbeOutcome, type SearchOptions, type SearchResult } from '../../src/pmtu/search';

/** A path for the search to probe without sockets: what happens to one packet of a size. */
export interface SimulatedPath {
  pmtuBytes: number;
  /** The hop announces its MTU (frag-needed / packet-too-big), or drops silently (black hole). */
  icmp: boolean;
  /** Chance that a probe or its answer is lost, 0..1. */
  lossRate?: number;
  /** Deterministic random numbers in [0, 1). */
  random?: () => number;
}

/** Mulberry32: a small seeded generator so a failing case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function outcomeOn(path: SimulatedPath, sizeBytes: number): ProbeOutcome {
  const random = path.random ?? Math.random;
  if ((path.lossRate ?? 0) > 0 && random() < path.lossRate!) return { kind: 'silent' };
  if (sizeBytes <= path.pmtuBytes) return { kind: 'reply' };
  return path.icmp ? { kind: 'too-big', source: 'icmp', mtuBytes: path.pmtuBytes } : { kind: 'silent' };
}

/** Runs a whole search against the simulated path; counts probes and rounds. */
export function searchSimulated(path: SimulatedPath, options: SearchOptions, maxRounds = 100): { result: SearchResult; probes: number; rounds: number } {
  const search = new PmtuSearch(options);
  let probes = 0;
  let rounds = 0;
  for (; rounds < maxRounds && !search.done; rounds += 1) {
    const sizes = search.nextRound();
    if (sizes.length === 0) break;
    probes += sizes.length;
    for (const size of sizes) search.record(size, outcomeOn(path, size));
  }
  return { result: search.result(), probes, rounds };
}
