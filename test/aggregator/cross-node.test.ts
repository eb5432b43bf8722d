import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { ResetFinding } from '../../src/protocol/finding';
import { endpoint, getJson, removeDir, resetFinding, startAggregator, startClient, tempDir, waitUntil, type RunningAggregator } from './fixtures';

/**
 * Cross-node verdicts through a real aggregator: the receiver's agent and the
 * sender's agent stream over real WebSockets; the verdict is read back from the API
 * and from the live stream.
 */
describe('cross-node verdicts', () => {
  let dir: string;
  let running: RunningAggregator;
  const clients: Array<{ stop(): Promise<void> }> = [];

  before(async () => {
    dir = tempDir('cross');
    running = await startAggregator(path.join(dir, 'cross.db'), { crossNodeGraceMs: 600 });
  });
  after(async () => {
    for (const client of clients) await client.stop();
    await running.stop();
    removeDir(dir);
  });

  function agent(node: string, kernelEvents: boolean) {
    const { client } = startClient(running.agentsUrl, path.join(dir, `spool-${node}`), { agentId: `agent-${node}`, node, kernelEvents: () => kernelEvents });
    clients.push(client);
    return client;
  }

  async function stored(id: string): Promise<ResetFinding> {
    const { body } = await getJson<ResetFinding>(`${running.baseUrl}/api/v1/findings/${id}`);
    return body;
  }

  const receiverView = (srcIp: string, srcPort: number, dstPort: number, overrides: Partial<ResetFinding> = {}): ResetFinding =>
    resetFinding({ node: 'node-a', src: endpoint(srcIp, srcPort), dst: endpoint('10.244.1.10', dstPort, { namespace: 'istio-system', name: 'gateway-0' }), sentBy: 'unknown', cause: 'unknown', kernelReason: null, ...overrides });

  const senderView = (receiver: ResetFinding, node: string): ResetFinding =>
    resetFinding({
      node,
      time: receiver.time,
      lastSeen: receiver.lastSeen,
      src: { ...endpoint(receiver.src.ip, receiver.src.port, { namespace: 'shop', name: 'reviews-0' }, node), process: { pid: 4242, comm: 'reviews' } },
      dst: receiver.dst,
      sentBy: 'endpoint',
      cause: 'not-listening',
      kernelReason: 'NO_SOCKET',
      evidence: ['RST answered a SYN'],
      advice: 'Nothing listens on the port.',
    });

  test("the sender's kernel event on another node confirms sentBy endpoint (either order)", async () => {
    const nodeA = agent('node-a', true);
    const nodeB = agent('node-b', true);
    await waitUntil('both connected', () => nodeA.connected && nodeB.connected);
    // Receiver first, then the sender's sighting.
    const first = receiverView('10.244.2.20', 9999, 41001);
    nodeA.publish(first, false);
    await waitUntil('receiver stored', () => running.store.get(first.id) !== null);
    nodeB.publish(senderView(first, 'node-b'), false);
    await waitUntil('confirmed', async () => (await stored(first.id)).sentBy === 'endpoint');
    const confirmed = await stored(first.id);
    assert.equal(confirmed.kernelReason, 'NO_SOCKET');
    assert.equal(confirmed.cause, 'not-listening');
    assert.equal(confirmed.src.node, 'node-b');
    assert.equal(confirmed.src.pod?.name, 'reviews-0', 'the sender completes the unattributed end');
    assert.ok(confirmed.evidence.some((line) => line.includes("node node-b's kernel logged tcp_send_reset")));

    // Sender first, then the receiver (e.g. the receiver's agent batched later).
    const second = receiverView('10.244.2.21', 8443, 41002);
    const secondSender = senderView(second, 'node-b');
    nodeB.publish(secondSender, false);
    await waitUntil('sender stored', () => running.store.get(secondSender.id) !== null);
    nodeA.publish(second, false);
    await waitUntil('confirmed too', async () => (await stored(second.id)).sentBy === 'endpoint');
  });

  test("seen by the receiver only while the sender's node watched its kernel: upgraded to middlebox after the grace window, pushed on the stream", async () => {
    const nodeA = agent('node-a2', true);
    const nodeB = agent('node-b2', true);
    await waitUntil('both connected', () => nodeA.connected && nodeB.connected);
    const stream = new WebSocket(`ws://127.0.0.1:${running.port}/api/v1/stream`);
    const pushed: Array<{ update: boolean; finding: ResetFinding }> = [];
    stream.on('message', (data) => pushed.push(JSON.parse(data.toString())));
    await new Promise((resolve) => stream.once('open', resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const forged = receiverView('10.244.5.20', 8080, 41003, { node: 'node-a2', src: endpoint('10.244.5.20', 8080, null, 'node-b2') });
      nodeA.publish(forged, false);
      await waitUntil('upgraded', async () => (await stored(forged.id)).sentBy === 'middlebox', 5_000);
      const upgraded = await stored(forged.id);
      assert.equal(upgraded.cause, 'middlebox');
      assert.ok(upgraded.evidence.some((line) => line.includes('node-b2') && line.includes('forged')));
      await waitUntil('stream pushed the upgrade', () => pushed.some((message) => message.finding.id === forged.id && message.update && message.finding.sentBy === 'middlebox'));
      assert.ok(pushed.some((message) => message.finding.id === forged.id && !message.update), 'the new finding was pushed first');

      // A sender whose agent does not read kernel events proves nothing: the verdict stays.
      const blind = agent('node-c2', false);
      await waitUntil('connected', () => blind.connected);
      const unknown = receiverView('10.244.6.20', 8080, 41004, { node: 'node-a2', src: endpoint('10.244.6.20', 8080, null, 'node-c2') });
      nodeA.publish(unknown, false);
      await waitUntil('stored', () => running.store.get(unknown.id) !== null);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      assert.equal((await stored(unknown.id)).sentBy, 'unknown');
      const verdicts = await running.metrics.crossNodeVerdicts.get();
      assert.ok(verdicts.values.some((value) => value.labels.verdict === 'middlebox' && value.value >= 1));
    } finally {
      stream.close();
    }
  });
});
