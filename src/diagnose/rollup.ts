import { newFindingId } from '../common/finding-id';
import type { ResetFinding } from '../protocol/finding';

/**
 * Rolls repeated identical resets into one finding. Identical means same sender
 * (address, pod, process), receiver address, service port, sent-by verdict, cause
 * and kernel reason, so a new cause or a new sender always makes a new finding.
 * A finding that saw nothing for `windowMs` is closed; the next one starts afresh.
 */
export type ResetDraft = Omit<ResetFinding, 'id' | 'time' | 'lastSeen' | 'count'> & { timeMs: number };

interface Entry {
  finding: ResetFinding;
  lastSeenMs: number;
  dirty: boolean;
  /** Resets added by addCounted, and where its evidence line is. */
  countedOnly?: number;
  noteIndex?: number;
}

export class ResetRollup {
  private readonly open = new Map<string, Entry>();
  private readonly openById = new Map<string, Entry>();

  /**
   * `copyUpdates` false hands out the open findings themselves as updates, to a
   * consumer that reads them only once rolling up is over (offline analysis): a
   * copy per changed finding per tick was a sixth of everything `rstprobe analyze`
   * allocated. Live, updates are published while the finding keeps counting, so
   * each is a snapshot.
   */
  constructor(
    private readonly windowMs = 5 * 60_000,
    private readonly copyUpdates = true,
  ) {}

  /**
   * Adds a reset. Returns the open finding it now counts in, and whether that
   * finding is new (to publish now) or an open one it was rolled into.
   * `servicePort` is the server side's port.
   */
  add(draft: ResetDraft, servicePort: number): { finding: ResetFinding; isNew: boolean } {
    const key = rollupKey(draft, servicePort);
    const entry = this.open.get(key);
    if (entry !== undefined && draft.timeMs - entry.lastSeenMs <= this.windowMs) {
      this.count(entry, 1, draft.timeMs);
      return { finding: entry.finding, isNew: false };
    }
    if (entry !== undefined) this.openById.delete(entry.finding.id);
    const timeMs = draft.timeMs;
    const time = new Date(timeMs).toISOString();
    // Field by field, in the draft's order: an object rest (`{ timeMs, ...fields }`)
    // goes through V8's slow copy path and gave each finding a map of its own,
    // most of the time spent per new finding in bench/diagnosis.ts.
    const finding: ResetFinding = {
      kind: draft.kind,
      node: draft.node,
      src: draft.src,
      dst: draft.dst,
      sentBy: draft.sentBy,
      cause: draft.cause,
      kernelReason: draft.kernelReason,
      state: draft.state,
      ttl: draft.ttl,
      expectedTtl: draft.expectedTtl,
      idleMs: draft.idleMs,
      evidence: draft.evidence,
      advice: draft.advice,
      id: newFindingId(),
      time,
      lastSeen: time,
      count: 1,
    };
    const created = { finding, lastSeenMs: timeMs, dirty: false };
    this.open.set(key, created);
    this.openById.set(finding.id, created);
    return { finding, isNew: true };
  }

  /**
   * Adds `count` resets that were counted but not analysed one by one (a storm) to
   * an open finding, with one evidence line that says so. False when the finding
   * is no longer open.
   */
  addCounted(findingId: string, count: number, lastMs: number, note: (total: number) => string): boolean {
    const entry = this.openById.get(findingId);
    if (entry === undefined) return false;
    this.count(entry, count, lastMs);
    entry.countedOnly = (entry.countedOnly ?? 0) + count;
    const line = note(entry.countedOnly);
    const evidence = entry.finding.evidence;
    if (entry.noteIndex === undefined) entry.noteIndex = evidence.push(line) - 1;
    else evidence[entry.noteIndex] = line;
    return true;
  }

  private count(entry: Entry, count: number, timeMs: number): void {
    entry.finding.count += count;
    entry.lastSeenMs = Math.max(entry.lastSeenMs, timeMs);
    entry.finding.lastSeen = new Date(entry.lastSeenMs).toISOString();
    entry.dirty = true;
  }

  /** Findings whose count changed since the last call (to publish as updates), and closes idle ones. */
  takeUpdates(nowMs: number): ResetFinding[] {
    const updates: ResetFinding[] = [];
    // forEach, not `for (const [key, entry] of …)`: that makes a [key, entry] array per
    // open finding per tick (offline, 4,000 findings × 200 ticks were 45 MB of garbage).
    this.open.forEach((entry, key) => {
      if (entry.dirty) {
        updates.push(this.copyUpdates ? { ...entry.finding, evidence: [...entry.finding.evidence] } : entry.finding);
        entry.dirty = false;
      }
      if (nowMs - entry.lastSeenMs > this.windowMs) {
        this.open.delete(key);
        this.openById.delete(entry.finding.id);
      }
    });
    return updates;
  }
}

function rollupKey(draft: ResetDraft, servicePort: number): string {
  const { src, dst } = draft;
  const pod = src.pod;
  // One template per reset, not two arrays joined: `?? ''` stands for what join() makes of null and undefined.
  const sender = `${src.ip}/${pod?.namespace ?? ''}/${pod?.name ?? ''}/${pod?.container ?? ''}/${src.process?.comm ?? ''}`;
  return `${draft.kind} ${sender} ${dst.ip} ${servicePort} ${draft.sentBy} ${draft.cause} ${draft.kernelReason ?? ''}`;
}
