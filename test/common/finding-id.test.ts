import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newFindingId } from '../../src/common/finding-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('finding ids are UUIDv7 carrying the time they were made', () => {
  const beforeMs = Date.now();
  const id = newFindingId();
  const afterMs = Date.now();
  assert.match(id, UUID_V7);
  const embeddedMs = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  assert.ok(embeddedMs >= beforeMs && embeddedMs <= afterMs, `${embeddedMs} not within [${beforeMs}, ${afterMs}]`);
});

test('finding ids sort in the order they were made, so the store appends to its index', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    ids.push(newFindingId());
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
