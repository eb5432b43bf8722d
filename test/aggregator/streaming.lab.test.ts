import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import type { Finding, ResetFinding } from '../../src/protocol/finding';
import { addGatewayCluster, DEFAULT_FABRIC_IP, Lab, labSkipReason, waitForOutput, type LabFabric, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess, CLI_PATH } from '../support/agent-process';

/**
 * The whole path on a real kernel: two node agents (`rstprobe agent --aggregator`) in
 * their node namespaces stream over WebSocket to `rstprobe aggregator` in the fabric
 * namespace; resets made by real sockets (and by a netfilter REJECT on the fabric)
 * come out of the aggregator's API with verdicts; `--json` still prints each finding.
 */
const skip = labSkipReason();

const isReset = (finding: Finding): finding is ResetFinding => finding.kind === 'reset';

function connectScript(ip: string, port: number): string {
  return `const s = require('net').connect(${port}, '${ip}');
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('connect', () => { console.log('connected'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

describe('agents streaming to an aggregator in the lab', { skip }, () => {
  let lab: Lab;
  let fabric: LabFabric;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let aggregator: ChildProcess;
  let agentA: AgentProcess;
  let agentB: AgentProcess;
  let dir: string;
  const apiPort = 7080;

  async function api<T>(pathAndQuery: string): Promise<T> {
    const { stdout } = await lab.exec(fabric, [
      process.execPath,
      '-e',
      `require('http').get('http://${DEFAULT_FABRIC_IP}:${apiPort}${pathAndQuery}', (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => process.stdout.write(b)); })`,
    ]);
    return JSON.parse(stdout) as T;
  }

  async function waitForApi(what: string, match: (finding: ResetFinding) => boolean, timeoutMs = 20_000): Promise<ResetFinding> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { items } = await api<{ items: Finding[] }>('/api/v1/findings?kind=reset&limit=1000');
      const found = items.filter(isReset).find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} in the API within ${timeoutMs} ms: ${JSON.stringify(items)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-streaming-lab-'));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'lab-agent-token\n');
    lab = await Lab.create({ prefix: 'stream' });
    ({ fabric, nodeA, nodeB, gateway, upstream } = await addGatewayCluster(lab));
    aggregator = lab.spawn(fabric, process.execPath, [
      CLI_PATH, 'aggregator', '--listen', `${DEFAULT_FABRIC_IP}:${apiPort}`, '--db', path.join(dir, 'lab.db'), '--token-file', tokenFile, '--cross-node-grace-ms', '2000',
    ]);
    await waitForOutput(aggregator, /"msg":"aggregator running"/, 20_000);
    const streaming = ['--aggregator', `ws://${DEFAULT_FABRIC_IP}:${apiPort}/api/v1/agents`, '--token-file', tokenFile];
    [agentA, agentB] = await Promise.all([
      AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-a', '--listen', '127.0.0.1:7070', '--cni-cache-dir', nodeA.cniDir, '--spool-dir', path.join(dir, 'spool-a'), ...streaming]),
      AgentProcess.startInLab(lab, nodeB, ['--node-name', 'node-b', '--listen', '127.0.0.1:7070', '--cni-cache-dir', nodeB.cniDir, '--spool-dir', path.join(dir, 'spool-b'), ...streaming]),
    ]);
    for (const agent of [agentA, agentB]) await waitForOutput(agent.child, /"msg":"connected to the aggregator"/, 20_000).catch(() => undefined);
  });

  after(async () => {
    await lab?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("a closed-port RST: both nodes' findings reach the aggregator, the receiver's with the sender's kernel reason", async () => {
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', connectScript(upstream.ip, 9999)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    // --json keeps printing on stdout while streaming.
    const printed = await agentB.waitFor((finding) => isReset(finding) && finding.src.port === 9999);
    const sender = await waitForApi("node-b's finding", (finding) => finding.id === printed.id);
    assert.equal(sender.kernelReason, 'NO_SOCKET');
    assert.equal(sender.src.pod?.name, 'reviews-0');
    const receiver = await waitForApi("node-a's finding", (finding) => finding.node === 'node-a' && finding.src.ip === upstream.ip && finding.src.port === 9999);
    assert.equal(receiver.sentBy, 'endpoint');
    assert.equal(receiver.kernelReason, 'NO_SOCKET');
    const single = await api<Finding>(`/api/v1/findings/${receiver.id}`);
    assert.equal(single.id, receiver.id);
  });

  test('a RST forged by a REJECT on the fabric ends up middlebox in the API', async () => {
    await lab.rejectWithTcpReset(fabric, { dst: upstream.ip, dport: 9443 });
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', connectScript(upstream.ip, 9443)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const forged = await waitForApi('the forged reset as middlebox', (finding) => finding.node === 'node-a' && finding.src.port === 9443 && finding.sentBy === 'middlebox', 30_000);
    assert.ok(forged.evidence.length > 0);
  });
});
