import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TokenFileAuthenticator } from '../../src/aggregator/auth';
import { silentLogger } from '../../src/common/log';
import { CloseCode, MAX_MESSAGE_BYTES } from '../../src/protocol/messages';
import { getJson, hello, rawAgentSocket, removeDir, resetFinding, startAggregator, startClient, tempDir, waitUntil, type RunningAggregator } from './fixtures';

/** The agents' endpoint of a real aggregator on loopback: auth before the upgrade, refusals, resume. */
describe('aggregator ingest (/api/v1/agents, real WebSocket, real SQLite)', () => {
  let dir: string;
  let running: RunningAggregator;
  let tokenFile: string;

  before(async () => {
    dir = tempDir('ingest');
    tokenFile = path.join(dir, 'tokens');
    writeFileSync(tokenFile, '# agents\ns3cret-agent-token\n');
    running = await startAggregator(path.join(dir, 'ingest.db'), { agentAuth: new TokenFileAuthenticator(tokenFile, silentLogger()) });
  });
  after(async () => {
    await running.stop();
    removeDir(dir);
  });

  test('no token, a wrong token or another scheme get HTTP 401 before the upgrade', async () => {
    const cases: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'Basic czNjcmV0LWFnZW50LXRva2Vu' }];
    for (const headers of cases) {
      const { status } = await rawAgentSocket(running.agentsUrl, headers);
      assert.equal(await status, 401, JSON.stringify(headers));
    }
    const { status } = await rawAgentSocket(running.agentsUrl, { authorization: 'Bearer s3cret-agent-token' });
    assert.equal(await status, 101);
  });

  test('the token file is re-read when it changes', async () => {
    writeFileSync(tokenFile, 'rotated-token\n');
    // The file's mtime check runs at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const rotated = await rawAgentSocket(running.agentsUrl, { authorization: 'Bearer rotated-token' });
    assert.equal(await rotated.status, 101);
    rotated.socket.close();
    const old = await rawAgentSocket(running.agentsUrl, { authorization: 'Bearer s3cret-agent-token' });
    assert.equal(await old.status, 401);
    writeFileSync(tokenFile, 's3cret-agent-token\n');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  });

  test('an oversized and a malformed message are refused with a 4xxx close while another agent keeps streaming', async () => {
    const good = startClient(running.agentsUrl, path.join(dir, 'spool-good'), { agentId: 'good-agent', tokenFile });
    try {
      const auth = { authorization: 'Bearer s3cret-agent-token' };
      const big = await rawAgentSocket(running.agentsUrl, auth);
      big.socket.send(hello('big-agent', 'node-x'));
      big.socket.send(JSON.stringify({ type: 'heartbeat', kernelEvents: true, droppedFindings: 0, pad: 'x'.repeat(MAX_MESSAGE_BYTES + 10) }));
      const malformed = await rawAgentSocket(running.agentsUrl, auth);
      malformed.socket.send(hello('bad-agent', 'node-y'));
      malformed.socket.send('{"type":"findings","items":[{"seq":1,"update":false,"finding":{"kind":"reset"}}]}');
      const notJson = await rawAgentSocket(running.agentsUrl, auth);
      notJson.socket.send('this is not json');
      const firstNotHello = await rawAgentSocket(running.agentsUrl, auth);
      firstNotHello.socket.send(JSON.stringify({ type: 'heartbeat', kernelEvents: true, droppedFindings: 0 }));

      // Meanwhile the good agent streams.
      const findings = Array.from({ length: 50 }, () => resetFinding({ node: 'node-good' }));
      for (const finding of findings) good.client.publish(finding, false);

      const bigClosed = await big.closed;
      assert.equal(bigClosed.code, CloseCode.tooLarge);
      assert.ok(bigClosed.messages.some((message) => (message as { type: string }).type === 'error'), 'a protocol error precedes the close');
      const malformedClosed = await malformed.closed;
      assert.equal(malformedClosed.code, CloseCode.badMessage);
      const error = malformedClosed.messages.find((message) => (message as { type: string }).type === 'error') as { message: string };
      assert.match(error.message, /findings/);
      assert.equal((await notJson.closed).code, CloseCode.badMessage);
      assert.equal((await firstNotHello.closed).code, CloseCode.helloFirst);

      await waitUntil('the good agent\'s findings stored', () => good.client.ackedSeq > 0 && good.client.queued.memory === 0);
      for (const finding of findings) assert.notEqual(running.store.get(finding.id), null, `finding ${finding.id} stored`);
      assert.equal(running.store.itemCount('good-agent'), 50);
      assert.equal(running.store.itemCount('bad-agent'), 0);
      const rejected = await running.metrics.rejectedMessages.get();
      const reasons = new Map(rejected.values.map((value) => [value.labels.reason, value.value]));
      assert.ok((reasons.get('too-large') ?? 0) >= 1);
      assert.ok((reasons.get('invalid') ?? 0) >= 2);
    } finally {
      await good.client.stop();
    }
  });

  test('welcome carries the last stored seq; resent items are ignored (exactly once)', async () => {
    const auth = { authorization: 'Bearer s3cret-agent-token' };
    const first = await rawAgentSocket(running.agentsUrl, auth);
    const firstAcks: number[] = [];
    first.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; seq?: number };
      if (message.type === 'ack' && message.seq !== undefined) firstAcks.push(message.seq);
    });
    first.socket.send(hello('resume-agent', 'node-r'));
    const findings = [resetFinding(), resetFinding(), resetFinding()];
    first.socket.send(JSON.stringify({ type: 'findings', items: findings.map((finding, index) => ({ seq: 10 + index, update: false, finding })) }));
    await waitUntil('ack 12', () => firstAcks.includes(12));
    assert.equal(running.store.itemCount('resume-agent'), 3, 'acked only once stored');
    first.socket.close();
    await first.closed;

    const second = await rawAgentSocket(running.agentsUrl, auth);
    const messages: Array<{ type: string; lastSeq?: number; seq?: number }> = [];
    second.socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    second.socket.send(hello('resume-agent', 'node-r'));
    await waitUntil('welcome', () => messages.some((message) => message.type === 'welcome'));
    assert.equal(messages.find((message) => message.type === 'welcome')?.lastSeq, 12);
    // An agent that lost the ack resends 11..13: only 13 is new.
    const extra = resetFinding();
    second.socket.send(JSON.stringify({ type: 'findings', items: [{ seq: 11, update: false, finding: findings[1] }, { seq: 12, update: false, finding: findings[2] }, { seq: 13, update: false, finding: extra }] }));
    await waitUntil('ack 13', () => messages.some((message) => message.type === 'ack' && message.seq === 13));
    assert.equal(running.store.itemCount('resume-agent'), 4);
    assert.notEqual(running.store.get(extra.id), null);
    second.socket.close();
  });

  test('messages arriving together are committed together; acks are cumulative and only grow', async () => {
    const auth = { authorization: 'Bearer s3cret-agent-token' };
    const agent = await rawAgentSocket(running.agentsUrl, auth);
    const acks: number[] = [];
    agent.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; seq?: number };
      if (message.type === 'ack') acks.push(message.seq!);
    });
    agent.socket.send(hello('burst-agent', 'node-b'));
    const findings = Array.from({ length: 20 }, () => resetFinding());
    // Sent back to back: they land in one or a few commits, each acked once for its highest seq.
    findings.forEach((finding, index) => agent.socket.send(JSON.stringify({ type: 'findings', items: [{ seq: index + 1, update: false, finding }] })));
    await waitUntil('ack 20', () => acks.includes(20));
    assert.ok(acks.length <= 20);
    assert.deepEqual(acks, [...acks].sort((a, b) => a - b), 'acks only grow');
    assert.equal(new Set(acks).size, acks.length, 'no seq acked twice');
    assert.equal(running.store.itemCount('burst-agent'), 20);
    for (const finding of findings) assert.notEqual(running.store.get(finding.id), null);
    agent.socket.close();
  });

  test('an agent silent past the idle timeout is closed with 4408', async () => {
    const quiet = await startAggregator(path.join(dir, 'idle.db'), { idleTimeoutMs: 400 });
    try {
      const socket = await rawAgentSocket(quiet.agentsUrl);
      socket.socket.send(hello('quiet-agent', 'node-q'));
      const closed = await socket.closed;
      assert.equal(closed.code, CloseCode.idleTimeout);
    } finally {
      await quiet.stop();
    }
  });

  test('the read API answers with filters, a single finding, 404 and 400', async () => {
    const shop = resetFinding({ cause: 'not-listening', node: 'node-f' });
    const bank = resetFinding({ cause: 'abort-on-close', node: 'node-f', dst: { ...resetFinding().dst, pod: { namespace: 'bank', name: 'teller', uid: 'u', container: null }, kind: 'pod' } });
    running.store.ingest('api-agent', [shop, bank].map((finding, index) => ({ seq: index + 1, update: false, finding })));
    const byCause = await getJson<{ items: Array<{ id: string }> }>(`${running.baseUrl}/api/v1/findings?cause=abort-on-close&node=node-f`);
    assert.deepEqual(byCause.body.items.map((item) => item.id), [bank.id]);
    const byNamespace = await getJson<{ items: Array<{ id: string }> }>(`${running.baseUrl}/api/v1/findings?namespace=bank&kind=reset`);
    assert.ok(byNamespace.body.items.some((item) => item.id === bank.id));
    assert.ok(!byNamespace.body.items.some((item) => item.id === shop.id));
    const one = await getJson<{ id: string }>(`${running.baseUrl}/api/v1/findings/${shop.id}`);
    assert.equal(one.body.id, shop.id);
    assert.equal((await getJson(`${running.baseUrl}/api/v1/findings/nope`)).status, 404);
    assert.equal((await getJson(`${running.baseUrl}/api/v1/findings/${shop.id}/pcap`)).status, 404);
    const bad = await getJson<string>(`${running.baseUrl}/api/v1/findings?limit=-3`);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /limit/);
    const senders = await getJson<{ items: Array<{ ip: string; count: number; causes: string[] }> }>(`${running.baseUrl}/api/v1/top-senders?since=0&limit=5`);
    assert.ok(senders.body.items.length >= 1);
    assert.ok(senders.body.items.every((item) => typeof item.count === 'number' && Array.isArray(item.causes)));
  });
});
