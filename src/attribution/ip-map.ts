/**
 * Time-versioned ownership of IP addresses. Pod IPs are reused within seconds of a
 * pod's deletion, so "who is 10.244.1.7" only has an answer for a moment in time:
 * every address keeps the owners it had, each with the interval it held the address,
 * and a lookup takes (ip, time). Intervals that ended longer ago than the retention
 * window are dropped, so memory follows the number of live addresses, not history.
 *
 * Several sources (the CNI cache, the Kubernetes API) may report the same owner
 * for the same address; an interval stays open while any source still claims it.
 */

export type OwnerKind = 'pod' | 'node' | 'service';

export interface IpOwner {
  kind: OwnerKind;
  /** Stable identity of the owner: pod UID, `node/<name>`, `service/<ns>/<name>`. */
  key: string;
  /** The pod, for kind `pod`. */
  pod: { namespace: string; name: string; uid: string } | null;
  /** The node: where the pod runs, or the node itself. Null when not known (CNI cache of another node). */
  node: string | null;
  /** The service, for kind `service`. */
  service: { namespace: string; name: string } | null;
}

export type IpSource = 'cni' | 'kubernetes' | 'static';

interface Tenure {
  owner: IpOwner;
  fromMs: number;
  /** Null while the address is still held. */
  untilMs: number | null;
  /** Sources that still claim this tenure, as SOURCE_BITS (a Set costs ~100 bytes per address; 150,000 pods). */
  sources: number;
}

const SOURCE_BITS: Record<IpSource, number> = { cni: 1, kubernetes: 2, static: 4 };

/**
 * An address's tenures, oldest first. Nearly every address has had one owner within
 * the retention window: that tenure is stored alone, without an array around it
 * (~56 bytes per address; 157,000 addresses at cluster scope, issue 3).
 */
type Tenures = Tenure | Tenure[];

function latest(tenures: Tenures): Tenure {
  return Array.isArray(tenures) ? tenures[tenures.length - 1] : tenures;
}

export interface IpMapOptions {
  /** How long an ended tenure stays answerable (default 15 minutes). */
  retentionMs?: number;
  /**
   * A packet a little older than the first claim still belongs to that owner:
   * sources learn of an address shortly after it is in use (file written after the
   * interface came up, watch event after the pod started).
   */
  leadMs?: number;
}

const DEFAULT_RETENTION_MS = 15 * 60_000;
const DEFAULT_LEAD_MS = 5_000;

export class IpOwnershipMap {
  private readonly byIp = new Map<string, Tenures>();
  private readonly retentionMs: number;
  private readonly leadMs: number;
  private tenureCount = 0;

  constructor(options: IpMapOptions = {}) {
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.leadMs = options.leadMs ?? DEFAULT_LEAD_MS;
  }

  /** Number of addresses with at least one tenure. */
  get addresses(): number {
    return this.byIp.size;
  }

  /** Number of tenures held in memory, open and ended. */
  get tenures(): number {
    return this.tenureCount;
  }

  /**
   * `owner` holds `ip` from `fromMs` on, as reported by `source`. An open tenure of
   * another owner ends at `fromMs`; a claim by the owner already holding the
   * address refreshes its details and adds the source.
   */
  claim(ip: string, owner: IpOwner, fromMs: number, source: IpSource): void {
    const tenures = this.byIp.get(ip);
    if (tenures === undefined) {
      this.byIp.set(ip, { owner, fromMs, untilMs: null, sources: SOURCE_BITS[source] });
      this.tenureCount++;
      return;
    }
    const current = latest(tenures);
    if (current.untilMs === null) {
      if (current.owner.key === owner.key) {
        current.owner = mergeOwner(current.owner, owner);
        current.sources |= SOURCE_BITS[source];
        if (fromMs < current.fromMs) current.fromMs = fromMs;
        return;
      }
      current.untilMs = Math.max(current.fromMs, fromMs);
    }
    // The same owner may come back (a source re-listing after an outage): reopen its tenure.
    if (current.owner.key === owner.key && current.untilMs !== null && fromMs <= current.untilMs) {
      current.untilMs = null;
      current.sources |= SOURCE_BITS[source];
      return;
    }
    const tenure: Tenure = { owner, fromMs: current.untilMs !== null ? Math.max(fromMs, current.untilMs) : fromMs, untilMs: null, sources: SOURCE_BITS[source] };
    // A two-element literal: push() onto [current] would reserve 17 slots per address.
    if (Array.isArray(tenures)) tenures.push(tenure);
    else this.byIp.set(ip, [tenures, tenure]);
    this.tenureCount++;
  }

  /** `source` no longer reports `ownerKey` holding `ip`; the tenure ends when no source does. */
  release(ip: string, ownerKey: string, atMs: number, source: IpSource): void {
    const tenures = this.byIp.get(ip);
    const current = tenures === undefined ? undefined : latest(tenures);
    if (current === undefined || current.untilMs !== null || current.owner.key !== ownerKey) return;
    current.sources &= ~SOURCE_BITS[source];
    if (current.sources === 0) current.untilMs = Math.max(current.fromMs, atMs);
  }

  /** Ends every open tenure `source` claims that `stillClaimed` does not contain (a re-list or resync). */
  releaseAllExcept(source: IpSource, stillClaimed: (ip: string, ownerKey: string) => boolean, atMs: number): void {
    for (const [ip, tenures] of this.byIp) {
      const current = latest(tenures);
      if (current.untilMs === null && (current.sources & SOURCE_BITS[source]) !== 0 && !stillClaimed(ip, current.owner.key)) {
        this.release(ip, current.owner.key, atMs, source);
      }
    }
  }

  /** Who held `ip` at `timeMs`, or null when no known owner did. */
  lookup(ip: string, timeMs: number): IpOwner | null {
    const list = this.byIp.get(ip);
    if (list === undefined) return null;
    if (!Array.isArray(list)) {
      if (list.untilMs !== null && timeMs >= list.untilMs) return null;
      return timeMs >= list.fromMs - this.leadMs ? list.owner : null;
    }
    for (let index = list.length - 1; index >= 0; index--) {
      const tenure = list[index];
      if (tenure.untilMs !== null && timeMs >= tenure.untilMs) return null;
      const earliestMs = tenure.fromMs - this.leadMs;
      const floorMs = index === 0 ? earliestMs : Math.max(earliestMs, list[index - 1].untilMs ?? tenure.fromMs);
      if (timeMs >= floorMs) return tenure.owner;
    }
    return null;
  }

  /** The tenures of `ip`, oldest first (for evidence and tests). */
  history(ip: string): ReadonlyArray<{ owner: IpOwner; fromMs: number; untilMs: number | null }> {
    const tenures = this.byIp.get(ip);
    const list = tenures === undefined ? [] : Array.isArray(tenures) ? tenures : [tenures];
    return list.map(({ owner, fromMs, untilMs }) => ({ owner, fromMs, untilMs }));
  }

  /** Drops tenures that ended before `nowMs - retentionMs`. */
  prune(nowMs: number): void {
    const horizonMs = nowMs - this.retentionMs;
    for (const [ip, tenures] of this.byIp) {
      if (!Array.isArray(tenures)) {
        if (tenures.untilMs !== null && tenures.untilMs < horizonMs) {
          this.byIp.delete(ip);
          this.tenureCount--;
        }
        continue;
      }
      let keepFrom = 0;
      while (keepFrom < tenures.length && tenures[keepFrom].untilMs !== null && tenures[keepFrom].untilMs! < horizonMs) keepFrom++;
      if (keepFrom === 0) continue;
      this.tenureCount -= keepFrom;
      if (keepFrom === tenures.length) this.byIp.delete(ip);
      else if (keepFrom === tenures.length - 1) this.byIp.set(ip, tenures[keepFrom]);
      else tenures.splice(0, keepFrom);
    }
  }
}

/** Details from a second source fill what the first left empty (the CNI cache knows no node name of other nodes). */
function mergeOwner(known: IpOwner, update: IpOwner): IpOwner {
  return {
    kind: update.kind,
    key: update.key,
    pod: update.pod ?? known.pod,
    node: update.node ?? known.node,
    service: update.service ?? known.service,
  };
}
