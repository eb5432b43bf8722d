import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionIndex, type IndexedEntry } from '../../src/analyze/connection-index';

interface Entry extends IndexedEntry {
  name: string;
}

const entry = (name: string): Entry => ({ name, key: 0, indexId: -1, older: null, newer: null });

/** Entries oldest first, by walking the `newer` links. */
function walk(index: ConnectionIndex<Entry>): string[] {
  const names: string[] = [];
  for (let at = index.oldest; at !== null; at = at.newer as Entry | null) names.push(at.name);
  return names;
}

describe('ConnectionIndex', () => {
  test('finds entries by key and keeps insertion order across deletes', () => {
    const index = new ConnectionIndex<Entry>(8);
    for (const [key, name] of [[5, 'a'], [-7, 'b'], [1 << 30, 'c'], [0, 'd']] as const) index.add(key, entry(name));
    assert.equal(index.size, 4);
    assert.equal(index.get(-7)?.name, 'b');
    assert.equal(index.get(0)?.name, 'd');
    assert.equal(index.get(6), undefined);
    index.delete(-7);
    index.delete(12345); // absent: no effect
    assert.equal(index.get(-7), undefined);
    assert.deepEqual(walk(index), ['a', 'c', 'd']);
    index.delete(5);
    index.add(9, entry('e'));
    assert.deepEqual(walk(index), ['c', 'd', 'e']);
    assert.equal(index.oldest?.name, 'c');
    assert.equal(index.size, 3);
  });

  test('refuses more than its capacity', () => {
    const index = new ConnectionIndex<Entry>(2);
    index.add(1, entry('a'));
    index.add(2, entry('b'));
    assert.throws(() => index.add(3, entry('c')), /full/);
  });

  test('agrees with a Map under random adds and deletes of colliding keys, reusing entries', () => {
    // Keys that share their low bits collide in the table and exercise the backward-shift delete.
    let state = 12345;
    const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) | 0);
    const index = new ConnectionIndex<Entry>(64);
    const model = new Map<number, Entry>();
    const free: Entry[] = [];
    for (let step = 0; step < 20_000; step++) {
      const key = ((next() >>> 8) % 40) * 128 + ((next() >>> 8) % 3); // 120 keys, few home slots
      const present = model.get(key);
      assert.equal(index.get(key), present, `step ${step}: get(${key})`);
      if (present !== undefined) {
        index.delete(key);
        model.delete(key);
        free.push(present);
      } else if (model.size < 64) {
        const added = free.pop() ?? entry(`e${step}`);
        added.name = `k${key}`;
        index.add(key, added);
        model.set(key, added);
      }
      assert.equal(index.size, model.size);
    }
    for (const [key, value] of model) assert.equal(index.get(key), value);
    assert.deepEqual(walk(index), [...model.values()].map((value) => value.name));
  });
});
