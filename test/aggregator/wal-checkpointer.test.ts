import assert from 'node:assert/strict';
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FindingStore } from '../../src/aggregator/store';
import { WalCheckpointer } from '../../src/aggregator/wal-checkpointer';
import { silentLogger } from '../../src/common/log';
import { removeDir, resetFinding, tempDir } from './fixtures';

/** The WAL header's salts (bytes 16–23): SQLite draws new ones each time the WAL starts over from its beginning. */
function walSalts(file: string): string {
  const fd = openSync(`${file}-wal`, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    return header.subarray(16, 24).toString('hex');
  } finally {
    closeSync(fd);
  }
}

describe('WalCheckpointer', () => {
  let dir: string;
  before(() => (dir = tempDir('wal')));
  after(() => removeDir(dir));

  test('while a writer commits without pause, the WAL still starts over (it does not grow without bound)', { timeout: 30_000 }, async () => {
    const file = path.join(dir, 'busy.db');
    const store = FindingStore.open(file);
    const checkpointer = new WalCheckpointer(file, silentLogger(), (on) => store.setAutoCheckpoint(on));
    checkpointer.start();
    try {
      let seq = 0;
      const commit = () => store.batch(() => store.ingest('writer', Array.from({ length: 20 }, () => ({ seq: (seq += 1), update: false, finding: resetFinding() }))));
      commit();
      const first = walSalts(file);
      // Commits a few ms apart, the way agent-ingest's group commits land, until the WAL restarted.
      let restarted = false;
      for (let round = 0; round < 5_000 && !restarted; round += 1) {
        commit();
        await new Promise((resolve) => setTimeout(resolve, 2));
        restarted = walSalts(file) !== first;
      }
      assert.ok(restarted, 'the WAL started over while the writer kept committing');
      assert.equal(store.itemCount('writer'), seq);
    } finally {
      await checkpointer.stop();
      store.close();
    }
  });
});
