import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ResetFinding } from '../../src/protocol/finding';
import { KubeApiServer, nodeJson, podJson } from '../support/kube-api-server';
import { endpoint, getJson, killHard, removeDir, resetFinding, spawnAggregator, startClient, tempDir, waitUntil } from './fixtures';

/**
 * `rstprobe aggregator --kubeconfig` watches every pod of the cluster (the test API
 * server speaks the real list/watch protocol) and completes the ends an agent left
 * `external` with the pod and node from that map.
 */
let dir: string;
let api: KubeApiServer;

before(async () => {
  dir = tempDir('pod-map');
  api = new KubeApiServer();
  await api.start();
  const createdAt = new Date(Date.now() - 3_600_000);
  api.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12', podCidr: '10.244.2.0/24' }));
  api.upsert('pods', podJson({ namespace: 'shop', name: 'reviews-0', nodeName: 'node-b', ips: ['10.244.2.20'], createdAt, startedAt: createdAt, containers: [{ name: 'app' }] }));
});
after(async () => {
  await api.stop();
  removeDir(dir);
});

test("an unattributed sender is completed from the aggregator's cluster-wide pod map", { timeout: 60_000 }, async () => {
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'map-token\n');
  const aggregator = await spawnAggregator(['--db', path.join(dir, 'map.db'), '--token-file', tokens, '--kubeconfig', api.writeKubeconfig(dir), '--token-review', 'off', '--log-level', 'warn']);
  const { client } = startClient(`ws://127.0.0.1:${aggregator.port}/api/v1/agents`, path.join(dir, 'spool'), { agentId: 'map-agent', node: 'node-a', tokenFile: tokens });
  try {
    // The watcher syncs in the background: send a fresh finding until one comes back attributed (bounded).
    let attributed: ResetFinding | null = null;
    const deadline = Date.now() + 20_000;
    while (attributed === null && Date.now() < deadline) {
      const finding = resetFinding({ node: 'node-a', src: endpoint('10.244.2.20', 8080), dst: endpoint('10.244.1.10', 41000) });
      client.publish(finding, false);
      await waitUntil('acked', () => client.connected && client.queued.memory === 0);
      const { body } = await getJson<ResetFinding>(`http://127.0.0.1:${aggregator.port}/api/v1/findings/${finding.id}`);
      if (body.src.kind === 'pod') attributed = body;
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(attributed !== null, 'a finding was attributed from the pod map');
    assert.equal(attributed.src.pod?.namespace, 'shop');
    assert.equal(attributed.src.pod?.name, 'reviews-0');
    assert.equal(attributed.src.node, 'node-b');
    assert.equal(attributed.dst.kind, 'external', 'an address the map does not know stays external');
  } finally {
    await client.stop();
    await killHard(aggregator.child);
  }
});
