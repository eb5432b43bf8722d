import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { KubeApiServer } from '../support/kube-api-server';
import { killHard, rawAgentSocket, removeDir, spawnAggregator, tempDir } from './fixtures';

/**
 * `rstprobe aggregator --kubeconfig`: agents' projected ServiceAccount tokens are
 * checked with the TokenReview API of a test API server (real HTTP, the real client
 * library), with audience `rstprobe`, and the answers are cached briefly.
 */
let dir: string;
let api: KubeApiServer;

before(async () => {
  dir = tempDir('token-review');
  api = new KubeApiServer();
  await api.start();
  api.tokenReviews.set('sa-token-good', { authenticated: true, user: { username: 'system:serviceaccount:rstprobe:agent' }, audiences: ['rstprobe'] });
  api.tokenReviews.set('sa-token-other-audience', { authenticated: true, user: { username: 'system:serviceaccount:x:y' }, audiences: ['vault'] });
});
after(async () => {
  await api.stop();
  removeDir(dir);
});

test('TokenReview admits a token with audience rstprobe, refuses others with 401, and caches answers', { timeout: 60_000 }, async () => {
  const kubeconfig = api.writeKubeconfig(dir);
  const tokenFile = path.join(dir, 'static-token');
  writeFileSync(tokenFile, 'static-file-token\n');
  const aggregator = await spawnAggregator(['--db', path.join(dir, 'a.db'), '--kubeconfig', kubeconfig, '--token-file', tokenFile, '--log-level', 'warn']);
  const url = `ws://127.0.0.1:${aggregator.port}/api/v1/agents`;
  const reviews = (): number => api.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/tokenreviews')).length;
  try {
    const good = await rawAgentSocket(url, { authorization: 'Bearer sa-token-good' });
    assert.equal(await good.status, 101);
    good.socket.close();
    const afterFirst = reviews();
    assert.ok(afterFirst >= 1, 'the aggregator asked the API server');
    const again = await rawAgentSocket(url, { authorization: 'Bearer sa-token-good' });
    assert.equal(await again.status, 101);
    again.socket.close();
    assert.equal(reviews(), afterFirst, 'the second connection is answered from the cache');

    assert.equal(await (await rawAgentSocket(url, { authorization: 'Bearer sa-token-other-audience' })).status, 401);
    assert.equal(await (await rawAgentSocket(url, { authorization: 'Bearer never-issued' })).status, 401);
    assert.equal(await (await rawAgentSocket(url)).status, 401);
    // The token file still works alongside TokenReview.
    const fromFile = await rawAgentSocket(url, { authorization: 'Bearer static-file-token' });
    assert.equal(await fromFile.status, 101);
    fromFile.socket.close();
  } finally {
    await killHard(aggregator.child);
  }
});
