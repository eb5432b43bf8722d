import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Finding, ResetFinding } from '../../src/protocol/finding';
import { Lab, labSkipReason, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';

/**
 * The standalone agent (no --aggregator) embeds the aggregator on its own --listen:
 * the finding it prints is in its API, pushed on its stream, kept in its --db, and
 * /metrics carries both the agent's and the aggregator's metrics.
 */
const skip = labSkipReason();

describe('standalone agent with the embedded aggregator', { skip }, () => {
  let lab: Lab;
  let node: LabNode;
  let client: LabPod;
  let server: LabPod;
  let agent: AgentProcess;
  let dir: string;

  const get = async (urlPath: string): Promise<string> =>
    (
      await lab.exec(node, [
        process.execPath,
        '-e',
        `require('http').get('http://127.0.0.1:7070${urlPath}', (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => process.stdout.write(b)); })`,
      ])
    ).stdout;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-standalone-'));
    lab = await Lab.create({ prefix: 'alone' });
    node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    client = await lab.addPod(node, { namespace: 'shop', name: 'frontend-0', ip: '10.244.1.10' });
    server = await lab.addPod(node, { namespace: 'shop', name: 'cart-0', ip: '10.244.1.20' });
    agent = await AgentProcess.startInLab(lab, node, ['--node-name', 'node-a', '--listen', '127.0.0.1:7070', '--cni-cache-dir', node.cniDir, '--db', path.join(dir, 'standalone.db')]);
  });

  after(async () => {
    await lab?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('a reset it printed is in its API and on its stream; metrics are one page', async () => {
    const watcher = lab.spawn(node, process.execPath, [
      '-e',
      `const ws = new (require(${JSON.stringify(require.resolve('ws'))}))('ws://127.0.0.1:7070/api/v1/stream');
       ws.on('open', () => console.log('open'));
       ws.on('message', (d) => console.log(d.toString()));`,
    ]);
    let streamed = '';
    watcher.stdout?.on('data', (chunk: Buffer) => (streamed += chunk.toString('utf8')));
    const deadline = Date.now() + 10_000;
    while (!streamed.includes('open') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await lab.exec(client, [process.execPath, '-e', `require('net').connect(7777, '${server.ip}').on('error', () => process.exit(0))`]);
    const printed = (await agent.waitFor((finding) => finding.kind === 'reset' && (finding as ResetFinding).src.port === 7777)) as ResetFinding;
    const { items } = JSON.parse(await get('/api/v1/findings?kind=reset&namespace=shop')) as { items: Finding[] };
    const served = items.find((finding) => finding.id === printed.id) as ResetFinding | undefined;
    assert.ok(served, `the API has the printed finding: ${JSON.stringify(items)}`);
    assert.equal(served.cause, printed.cause);
    assert.equal(served.src.pod?.name, 'cart-0');
    const streamDeadline = Date.now() + 5_000;
    while (!streamed.includes(printed.id) && Date.now() < streamDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(streamed.includes(printed.id), 'the stream pushed it');
    watcher.kill();
    const metrics = await get('/metrics');
    assert.match(metrics, /rstprobe_packets_captured_total/);
    assert.match(metrics, /rstprobe_ingest_lag_seconds_bucket/);
    assert.match(metrics, /rstprobe_agent_connections/);
    assert.match(await get('/healthz'), /^ok/);
    assert.ok(existsSync(path.join(dir, 'standalone.db')));
  });
});
