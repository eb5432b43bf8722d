import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { freePort, killHard, removeDir, resetFinding, spawnAggregator, startClient, tempDir, waitUntil } from './fixtures';

/**
 * kill -9 the aggregator process in the middle of a stream, restart it on the same
 * database: every finding is stored exactly once (issue 6, tests). The agent side is
 * a real AggregatorClient; the aggregator is `rstprobe aggregator` as a child process.
 */
let dir: string;
before(() => (dir = tempDir('crash')));
after(() => removeDir(dir));

test('kill -9 mid-stream and restart on the same DB: every finding arrives exactly once', { timeout: 90_000 }, async () => {
  const db = path.join(dir, 'aggregator.db');
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, 'crash-test-token\n');
  const port = await freePort();
  const args = ['--db', db, '--token-file', tokenFile, '--log-level', 'warn'];
  const listenArgs = (): string[] => ['--listen', `127.0.0.1:${port}`, ...args];
  let aggregator = await spawnAggregator(listenArgs());
  const { client } = startClient(`ws://127.0.0.1:${port}/api/v1/agents`, path.join(dir, 'spool'), { agentId: 'crash-agent', tokenFile, memoryMaxItems: 50_000 });
  const total = 3_000;
  const ids: string[] = [];
  try {
    let killed = false;
    for (let index = 0; index < total; index += 1) {
      const finding = resetFinding({ node: 'node-crash' });
      ids.push(finding.id);
      client.publish(finding, false);
      // A rollup update of some findings: a sequenced item of its own.
      if (index % 10 === 0) client.publish({ ...finding, count: 2 }, true);
      if (index % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
      if (!killed && index === total / 2) {
        await waitUntil('some acks before the kill', () => client.ackedSeq > 0);
        await killHard(aggregator.child);
        killed = true;
      }
    }
    assert.ok(killed);
    assert.ok(client.queued.memory > 0, 'findings wait while the aggregator is dead');
    aggregator = await spawnAggregator(listenArgs());
    await waitUntil('everything acked after the restart', () => client.connected && client.queued.memory === 0 && client.queued.spool === 0, 60_000);
  } finally {
    await client.stop();
    await killHard(aggregator.child);
  }
  const check = new Database(db, { readonly: true });
  try {
    const items = check.prepare("SELECT count(*) AS n, count(DISTINCT seq) AS seqs FROM items WHERE agent_id = 'crash-agent'").get() as { n: number; seqs: number };
    const expectedItems = total + total / 10;
    assert.equal(items.n, expectedItems, 'one item row per finding and per update');
    assert.equal(items.seqs, expectedItems);
    const findings = check.prepare('SELECT id, count FROM findings').all() as Array<{ id: string; count: number }>;
    assert.equal(findings.length, total, 'one row per finding id');
    const stored = new Set(findings.map((row) => row.id));
    for (const id of ids) assert.ok(stored.has(id), `finding ${id} stored`);
    const updated = findings.filter((row) => row.count === 2).length;
    assert.equal(updated, total / 10, 'every update merged into its finding');
  } finally {
    check.close();
  }
});
