import { randomUUID } from 'node:crypto';
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
}

export class ResetRollup {
  private readonly open = new Map<string, Entry>();

  constructor(private readonly windowMs = 5 * 60_000) {}

  /**
   * Adds a reset; returns the finding to publish now (a new one), or null when it
   * was rolled into an open one. `servicePort` is the server side's port.
   */
  add(draft: ResetDraft, servicePort: number): ResetFinding | null {
    const key = rollupKey(draft, servicePort);
    const entry = this.open.get(key);
    if (entry !== undefined && draft.timeMs - entry.lastSeenMs <= this.windowMs) {
      entry.finding.count++;
      entry.lastSeenMs = Math.max(entry.lastSeenMs, draft.timeMs);
      entry.finding.lastSeen = new Date(entry.lastSeenMs).toISOString();
      entry.dirty = true;
      return null;
    }
    const { timeMs, ...fields } = draft;
    const time = new Date(timeMs).toISOString();
    const finding: ResetFinding = { ...fields, id: randomUUID(), time, lastSeen: time, count: 1 };
    this.open.set(key, { finding, lastSeenMs: timeMs, dirty: false });
    return finding;
  }

  /** Findings whose count changed since the last call (to publish as updates), and closes idle ones. */
  takeUpdates(nowMs: number): ResetFinding[] {
    const updates: ResetFinding[] = [];
    for (const [key, entry] of this.open) {
      if (entry.dirty) {
        updates.push({ ...entry.finding });
        entry.dirty = false;
      }
      if (nowMs - entry.lastSeenMs > this.windowMs) this.open.delete(key);
    }
    return updates;
  }
}

function rollupKey(draft: ResetDraft, servicePort: number): string {
  const { src, dst } = draft;
  const sender = [src.ip, src.pod?.namespace, src.pod?.name, src.pod?.container, src.process?.comm].join('/');
  return [draft.kind, sender, dst.ip, servicePort, draft.sentBy, draft.cause, draft.kernelReason ?? ''].join(' ');
}
