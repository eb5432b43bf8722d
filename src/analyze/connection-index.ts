/**
 * The coalescer's connections by their 32-bit key, in insertion order: what a
 * Map<number, T> gave it, without a Map's cost on the per-packet path (its hash
 * tables are reallocated as connections come and go, and its iterators allocate).
 * Open addressing with linear probing over typed arrays, deletion by backward
 * shift (no tombstones), and a doubly linked list through the entries for the
 * order. Keys are already hashes (PlainSegmentInfo.key): their low bits index the
 * table directly. Holds at most `capacity` entries; the table is at least twice
 * that, so probes stay short.
 */
export interface IndexedEntry {
  /** Set by the index: the entry's key while it is in the index. */
  key: number;
  /** Set by the index: the entry's place in its entry list (-1 before it was first added). */
  indexId: number;
  /** Set by the index: its neighbours in insertion order. */
  older: IndexedEntry | null;
  newer: IndexedEntry | null;
}

export class ConnectionIndex<T extends IndexedEntry> {
  /** Per slot: the entry's id + 1; 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly slotKeys: Int32Array;
  private readonly mask: number;
  /** Every entry ever added, by indexId (the coalescer reuses its entries, so this stays as small as its pool). */
  private readonly entries: T[] = [];
  private oldestEntry: T | null = null;
  private newestEntry: T | null = null;
  size = 0;

  constructor(readonly capacity: number) {
    let tableSize = 16;
    while (tableSize < capacity * 2) tableSize *= 2;
    this.slots = new Int32Array(tableSize);
    this.slotKeys = new Int32Array(tableSize);
    this.mask = tableSize - 1;
  }

  get(key: number): T | undefined {
    const { slots, slotKeys, mask } = this;
    for (let slot = key & mask; ; slot = (slot + 1) & mask) {
      const id = slots[slot];
      if (id === 0) return undefined;
      if (slotKeys[slot] === key) return this.entries[id - 1];
    }
  }

  /** Adds `entry` under `key` as the newest; the key must not be in the index, and size below capacity. */
  add(key: number, entry: T): void {
    if (this.size >= this.capacity) throw new Error(`connection index: full (${this.capacity} entries)`);
    if (entry.indexId < 0) {
      entry.indexId = this.entries.length;
      this.entries.push(entry);
    }
    const id = entry.indexId;
    const { slots, slotKeys, mask } = this;
    let slot = key & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = id + 1;
    slotKeys[slot] = key;
    entry.key = key;
    entry.older = this.newestEntry;
    entry.newer = null;
    if (this.newestEntry === null) this.oldestEntry = entry;
    else this.newestEntry.newer = entry;
    this.newestEntry = entry;
    this.size++;
  }

  /** Removes the entry under `key`, if any. The entry keeps its `newer` link, so a walk can go on from it. */
  delete(key: number): void {
    const { slots, slotKeys, mask } = this;
    let slot = key & mask;
    for (; ; slot = (slot + 1) & mask) {
      if (slots[slot] === 0) return;
      if (slotKeys[slot] === key) break;
    }
    const entry = this.entries[slots[slot] - 1];
    // Backward shift: pull later entries of the probe run into the hole when their home slot allows.
    let hole = slot;
    for (let next = (hole + 1) & mask; slots[next] !== 0; next = (next + 1) & mask) {
      const home = slotKeys[next] & mask;
      // `next` may move to `hole` unless its home lies cyclically in (hole, next].
      const homeInRange = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!homeInRange) {
        slots[hole] = slots[next];
        slotKeys[hole] = slotKeys[next];
        hole = next;
      }
    }
    slots[hole] = 0;
    if (entry.older === null) this.oldestEntry = entry.newer as T | null;
    else entry.older.newer = entry.newer;
    if (entry.newer === null) this.newestEntry = entry.older as T | null;
    else entry.newer.older = entry.older;
    entry.older = null;
    this.size--;
  }

  /** Oldest entry still in the index; follow `newer` for the rest (null past the newest). */
  get oldest(): T | null {
    return this.oldestEntry;
  }
}
