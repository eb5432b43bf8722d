import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, removeDir, resetFinding, startAggregator, startClient, tempDir, waitUntil } from '../aggregator/fixtures';

/**
 * The agent's streaming side against a real aggregator: while it is away findings
 * wait in memory, then in the on-disk spool; when it comes back all of them arrive
 * in order; past the spool's bound they are dropped and counted.
 */
/** The aggregator on a fixed port (the client's URL does not change across restarts). */
const aggregatorOn = (port: number, db: string) => startAggregator(db, { port });

describe('AggregatorClient: queue, spool, reconnect', () => {
  let dir: string;
  before(() => (dir = tempDir('client')));
  after(() => removeDir(dir));

  test('aggregator down: memory then disk; aggregator up: every finding delivered once, in order', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const spoolDir = path.join(dir, 'spool-1');
    const { client, metrics } = startClient(`ws://127.0.0.1:${port}/api/v1/agents`, spoolDir, { agentId: 'spooler', memoryMaxItems: 20 });
    const findings = Array.from({ length: 200 }, () => resetFinding());
    try {
      for (const finding of findings) client.publish(finding, false);
      assert.equal(client.queued.memory, 20);
      assert.equal(client.queued.spool, 180);
      assert.ok(readdirSync(spoolDir).some((name) => name.endsWith('.ndjson')), 'spool segments on disk');
      assert.equal((await metrics.aggregatorQueued.get()).values.find((value) => value.labels.where === 'spool')?.value, 180);
      const running = await aggregatorOn(port, path.join(dir, 'one.db'));
      try {
        await waitUntil('all delivered', () => client.queued.memory === 0 && client.queued.spool === 0 && client.connected, 20_000);
        assert.equal(running.store.itemCount('spooler'), 200);
        for (const finding of findings) assert.notEqual(running.store.get(finding.id), null);
        assert.equal(client.dropped, 0);
        assert.deepEqual(readdirSync(spoolDir).filter((name) => name.endsWith('.ndjson')), [], 'spool drained');
      } finally {
        await running.stop();
      }
    } finally {
      await client.stop();
    }
  });

  test('past the spool bound findings are dropped and counted, never silently', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const { client, metrics } = startClient(`ws://127.0.0.1:${port}/api/v1/agents`, path.join(dir, 'spool-2'), { agentId: 'bounded', memoryMaxItems: 10, spoolMaxBytes: 20 * 1024 });
    try {
      for (let index = 0; index < 300; index += 1) client.publish(resetFinding(), false);
      const { memory, spool } = client.queued;
      assert.equal(memory, 10);
      assert.ok(spool > 0 && spool < 290, `spool holds what fits in 20 KiB (${spool})`);
      assert.equal(client.dropped, 300 - memory - spool);
      const dropped = (await metrics.findingsDropped.get()).values.find((value) => value.labels.reason === 'spool-full')?.value;
      assert.equal(dropped, client.dropped);
      const running = await aggregatorOn(port, path.join(dir, 'two.db'));
      try {
        await waitUntil('what was kept is delivered', () => client.connected && client.queued.memory === 0 && client.queued.spool === 0, 20_000);
        assert.equal(running.store.itemCount('bounded'), memory + spool);
        // The aggregator hears about the drops in a heartbeat, once the connection is idle a while.
        await waitUntil('drops reported to the aggregator', async () => (await running.metrics.findingsDropped.get()).values.some((value) => value.labels.reason === 'agent' && value.value === client.dropped), 25_000);
      } finally {
        await running.stop();
      }
    } finally {
      await client.stop();
    }
  });

  test('an agent restart resends from the spool under the same seqs (nothing twice)', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const spoolDir = path.join(dir, 'spool-3');
    const first = startClient(`ws://127.0.0.1:${port}/api/v1/agents`, spoolDir, { agentId: 'restarting' });
    const findings = Array.from({ length: 30 }, () => resetFinding());
    for (const finding of findings) first.client.publish(finding, false);
    await first.client.stop(); // graceful stop while the aggregator is down: memory goes to disk
    assert.ok(readdirSync(spoolDir).length > 0);
    const running = await aggregatorOn(port, path.join(dir, 'three.db'));
    const second = startClient(`ws://127.0.0.1:${port}/api/v1/agents`, spoolDir, { agentId: 'restarting' });
    try {
      const fresh = resetFinding();
      second.client.publish(fresh, false);
      await waitUntil('delivered', () => second.client.connected && second.client.queued.memory === 0 && second.client.queued.spool === 0, 20_000);
      assert.equal(running.store.itemCount('restarting'), 31);
      for (const finding of [...findings, fresh]) assert.notEqual(running.store.get(finding.id), null);
    } finally {
      await second.client.stop();
      await running.stop();
    }
  });
});
