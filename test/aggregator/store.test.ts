import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { FindingStore } from '../../src/aggregator/store';
import { MIGRATIONS } from '../../src/aggregator/store-schema';
import { StoreError } from '../../src/common/errors';
import { endpoint, pmtuFinding, removeDir, resetFinding, tempDir } from './fixtures';

describe('FindingStore (real SQLite file)', () => {
  let dir: string;
  before(() => (dir = tempDir('store')));
  after(() => removeDir(dir));

  test('ingest is idempotent on (agent id, seq): a resent batch stores nothing twice', () => {
    const store = FindingStore.open(path.join(dir, 'idempotent.db'));
    try {
      const items = [1, 2, 3].map((seq) => ({ seq, update: false, finding: resetFinding() }));
      const first = store.ingest('agent-1', items);
      assert.equal(first.lastSeq, 3);
      assert.equal(first.changed.length, 3);
      const again = store.ingest('agent-1', items);
      assert.equal(again.changed.length, 0);
      assert.equal(again.duplicates, 3);
      assert.equal(store.count(), 3);
      assert.equal(store.itemCount('agent-1'), 3);
      // Another agent's seqs are its own.
      assert.equal(store.ingest('agent-2', [{ seq: 1, update: false, finding: resetFinding() }]).changed.length, 1);
      assert.equal(store.lastSeq('agent-1'), 3);
      assert.equal(store.lastSeq('agent-2'), 1);
    } finally {
      store.close();
    }
  });

  test('a failed transaction raises no last seq: the items it held are taken again', () => {
    const store = FindingStore.open(path.join(dir, 'rollback.db'));
    try {
      store.ingest('agent-r', [{ seq: 1, update: false, finding: resetFinding() }]);
      const lost = resetFinding();
      assert.throws(
        () =>
          store.batch(() => {
            assert.equal(store.ingest('agent-r', [{ seq: 2, update: false, finding: lost }]).lastSeq, 2);
            assert.equal(store.lastSeq('agent-r'), 2, 'seen as raised inside the transaction');
            throw new StoreError('the commit fails');
          }),
        StoreError,
      );
      assert.equal(store.lastSeq('agent-r'), 1);
      assert.equal(store.get(lost.id), null);
      const again = store.ingest('agent-r', [{ seq: 2, update: false, finding: lost }]);
      assert.equal(again.changed.length, 1);
      assert.equal(store.itemCount('agent-r'), 2);
    } finally {
      store.close();
    }
  });

  test('last seqs written in one batch survive a reopen, one per agent', () => {
    const file = path.join(dir, 'batched-seqs.db');
    const store = FindingStore.open(file);
    store.batch(() => {
      for (let seq = 1; seq <= 5; seq += 1) {
        store.ingest('agent-a', [{ seq, update: false, finding: resetFinding() }]);
        store.ingest('agent-b', [{ seq: seq * 10, update: false, finding: resetFinding() }]);
      }
      store.ingestEvidence('agent-a', 6, 'some-finding', Buffer.from('pcapng'));
    });
    store.close();
    const reopened = FindingStore.open(file);
    try {
      assert.equal(reopened.lastSeq('agent-a'), 6);
      assert.equal(reopened.lastSeq('agent-b'), 50);
      assert.equal(reopened.lastSeq('agent-c'), 0);
      assert.equal(reopened.count(), 10);
    } finally {
      reopened.close();
    }
  });

  test('a database at schema 1 keeps its agents\' last seqs through migrations 2 and 3', () => {
    const file = path.join(dir, 'schema-1.db');
    const old = new Database(file);
    old.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    old.exec(MIGRATIONS[0]);
    old.prepare('INSERT INTO schema_version (version) VALUES (1)').run();
    old.prepare(`INSERT INTO agents (agent_id, node, last_seq, last_seen_ms, hello_json) VALUES ('old-agent', 'node-1', 42, 0, NULL)`).run();
    old.close();
    const store = FindingStore.open(file);
    try {
      assert.equal(store.lastSeq('old-agent'), 42);
      assert.equal(store.ingest('old-agent', [{ seq: 42, update: false, finding: resetFinding() }]).duplicates, 1);
      assert.equal(store.ingest('old-agent', [{ seq: 43, update: false, finding: resetFinding() }]).lastSeq, 43);
      const rows = new Database(file, { readonly: true });
      const indexes = rows.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'findings'").all().map((row) => row.name);
      rows.close();
      assert.ok(!indexes.includes('findings_node') && indexes.includes('findings_last_seen'), indexes.join(', '));
    } finally {
      store.close();
    }
  });

  test('a rollup update merges count and lastSeen into the same row, never a duplicate', () => {
    const store = FindingStore.open(path.join(dir, 'rollup.db'));
    try {
      const original = resetFinding({ time: '2026-11-24T10:00:00.000Z', lastSeen: '2026-11-24T10:00:00.000Z' });
      store.ingest('a', [{ seq: 1, update: false, finding: original }]);
      const grown = { ...original, count: 7, lastSeen: '2026-11-24T10:05:00.000Z' };
      const result = store.ingest('a', [{ seq: 2, update: true, finding: grown }]);
      assert.equal(result.changed[0].added, 6);
      assert.equal(store.count(), 1);
      const stored = store.get(original.id);
      assert.equal(stored?.count, 7);
      assert.equal(stored?.lastSeen, '2026-11-24T10:05:00.000Z');
      assert.equal(stored?.time, '2026-11-24T10:00:00.000Z');
      // A late, smaller update does not shrink it.
      store.ingest('a', [{ seq: 3, update: true, finding: { ...original, count: 3 } }]);
      assert.equal(store.get(original.id)?.count, 7);
    } finally {
      store.close();
    }
  });

  test('a patch (aggregator verdict) survives later rollup updates from the agent', () => {
    const store = FindingStore.open(path.join(dir, 'patch.db'));
    try {
      const finding = resetFinding();
      store.ingest('a', [{ seq: 1, update: false, finding }]);
      store.patchFinding(finding.id, { sentBy: 'middlebox', cause: 'middlebox' });
      store.ingest('a', [{ seq: 2, update: true, finding: { ...finding, count: 2 } }]);
      const stored = store.get(finding.id);
      assert.equal(stored?.kind, 'reset');
      assert.equal(stored?.kind === 'reset' && stored.sentBy, 'middlebox');
      assert.equal(stored?.count, 2);
      assert.equal(store.query({ limit: 10, sentBy: 'middlebox' }).length, 1);
    } finally {
      store.close();
    }
  });

  test('queries filter by kind, since, namespace, node and cause, newest first', () => {
    const store = FindingStore.open(path.join(dir, 'query.db'));
    try {
      const at = (minute: number): string => `2026-11-24T10:${String(minute).padStart(2, '0')}:00.000Z`;
      const shop = resetFinding({ time: at(1), lastSeen: at(1), cause: 'not-listening', node: 'node-a' });
      const bank = resetFinding({ time: at(2), lastSeen: at(2), cause: 'abort-on-close', node: 'node-b', src: endpoint('10.244.3.3', 9090, { namespace: 'bank', name: 'ledger-0' }) });
      const other = resetFinding({ time: at(3), lastSeen: at(3), cause: 'not-listening', node: 'node-c', src: endpoint('192.0.2.1', 443), dst: endpoint('10.244.1.1', 5555, { namespace: 'bank', name: 'teller-0' }) });
      const mtu = pmtuFinding({ time: at(4), lastSeen: at(4) });
      store.ingest('a', [shop, bank, other, mtu].map((finding, index) => ({ seq: index + 1, update: false, finding })));
      const ids = (findings: { id: string }[]): string[] => findings.map((finding) => finding.id);
      assert.deepEqual(ids(store.query({ limit: 10 })), [mtu.id, other.id, bank.id, shop.id]);
      assert.deepEqual(ids(store.query({ limit: 10, kind: 'reset' })), [other.id, bank.id, shop.id]);
      assert.deepEqual(ids(store.query({ limit: 2, kind: 'reset' })), [other.id, bank.id]);
      assert.deepEqual(ids(store.query({ limit: 10, namespace: 'bank' })), [other.id, bank.id]);
      assert.deepEqual(ids(store.query({ limit: 10, node: 'node-b' })), [mtu.id, bank.id], 'node matches the observer and the pmtu target node');
      assert.deepEqual(ids(store.query({ limit: 10, cause: 'not-listening' })), [other.id, shop.id]);
      assert.deepEqual(ids(store.query({ limit: 10, kind: 'reset', sinceMs: Date.parse(at(2)) })), [other.id, bank.id]);
      const senders = store.topSenders(0, 10);
      assert.equal(senders.length, 3);
      assert.deepEqual(store.latestPmtu().map((finding) => finding.id), [mtu.id]);
    } finally {
      store.close();
    }
  });

  test('retention deletes by age and then by size, oldest first', () => {
    const store = FindingStore.open(path.join(dir, 'retention.db'), { retentionMs: 3_600_000, maxBytes: 400 * 1024 });
    try {
      const nowMs = Date.now();
      const old = new Date(nowMs - 2 * 3_600_000).toISOString();
      const stale = resetFinding({ time: old, lastSeen: old });
      store.ingest('a', [{ seq: 1, update: false, finding: stale }], nowMs - 2 * 3_600_000);
      const bulky = Array.from({ length: 800 }, (_, index) => {
        const time = new Date(nowMs - 600_000 + index * 100).toISOString();
        return { seq: index + 2, update: false, finding: resetFinding({ time, lastSeen: time, evidence: ['x'.repeat(1500)] }) };
      });
      store.ingest('a', bulky);
      assert.ok(store.sizeBytes() > 400 * 1024, `the test needs more than the bound (${store.sizeBytes()} bytes)`);
      const { deleted } = store.enforceRetention(nowMs);
      assert.ok(deleted > 1);
      assert.equal(store.get(stale.id), null, 'older than the retention: deleted');
      assert.ok(store.sizeBytes() <= 400 * 1024, `under the size bound after retention (${store.sizeBytes()} bytes)`);
      const newest = bulky.at(-1)!.finding.id;
      assert.notEqual(store.get(newest), null, 'the newest findings stay');
      assert.equal(store.get(bulky[0].finding.id), null, 'the oldest go first');
    } finally {
      store.close();
    }
  });

  test('retention by age clears the item log up to the first item received since the cutoff', () => {
    const store = FindingStore.open(path.join(dir, 'item-retention.db'), { retentionMs: 3_600_000 });
    try {
      const nowMs = Date.now();
      const finding = () => ({ update: false, finding: resetFinding() });
      store.ingest('early', [1, 2, 3].map((seq) => ({ seq, ...finding() })), nowMs - 2 * 3_600_000);
      store.ingest('late', [1, 2].map((seq) => ({ seq, ...finding() })), nowMs - 60_000);
      store.ingest('early', [4].map((seq) => ({ seq, ...finding() })), nowMs - 30_000);
      store.enforceRetention(nowMs);
      assert.equal(store.itemCount('early'), 1, 'the three items received two hours ago are gone; the recent one stays');
      assert.equal(store.itemCount('late'), 2);
      assert.equal(store.lastSeq('early'), 4, 'the agent\'s last seq is kept apart from the log');
    } finally {
      store.close();
    }
  });

  test('evidence is stored once per (agent, seq) and read back byte for byte', () => {
    const store = FindingStore.open(path.join(dir, 'evidence.db'));
    try {
      const finding = resetFinding();
      store.ingest('a', [{ seq: 1, update: false, finding }]);
      const pcapng = Buffer.from('0a0d0d0a1c000000', 'hex');
      assert.equal(store.ingestEvidence('a', 2, finding.id, pcapng), true);
      assert.equal(store.ingestEvidence('a', 2, finding.id, pcapng), false);
      assert.deepEqual(store.evidence(finding.id), pcapng);
    } finally {
      store.close();
    }
  });

  test('the schema survives a reopen (migrations run once; data kept)', () => {
    const file = path.join(dir, 'reopen.db');
    const first = FindingStore.open(file);
    const finding = resetFinding();
    first.ingest('a', [{ seq: 5, update: false, finding }]);
    first.close();
    const second = FindingStore.open(file);
    try {
      assert.equal(second.lastSeq('a'), 5);
      assert.equal(second.get(finding.id)?.id, finding.id);
    } finally {
      second.close();
    }
  });

  test('a corrupt file is a StoreError naming the fix, and the file is left untouched', () => {
    const file = path.join(dir, 'corrupt.db');
    const garbage = Buffer.from('this is not an SQLite database, it is the user data '.repeat(200));
    writeFileSync(file, garbage);
    assert.throws(() => FindingStore.open(file), (err: unknown) => err instanceof StoreError && /not an intact rstprobe database|not a database/.test(err.message) && /--db/.test(err.message));
    assert.deepEqual(readFileSync(file), garbage);
  });

  test('an unwritable location is a StoreError', { skip: process.getuid?.() === 0 ? 'root writes anywhere' : undefined }, () => {
    const locked = tempDir('locked');
    chmodSync(locked, 0o500);
    try {
      assert.throws(() => FindingStore.open(path.join(locked, 'x.db')), StoreError);
    } finally {
      chmodSync(locked, 0o700);
      removeDir(locked);
    }
  });
});
