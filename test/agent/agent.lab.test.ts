import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ResetFinding } from '../../src/protocol/finding';
import { addGatewayCluster, Lab, labSkipReason, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';

/**
 * The foundation's three scenarios on a real kernel: two nodes and a fabric built
 * from network namespaces, a real agent per node, real sockets and packets.
 */
const skip = labSkipReason();

/** A Node one-liner that connects, optionally writes, and prints how the connection ended. */
function clientScript(ip: string, port: number, payload: string | null): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('connect', () => { ${payload === null ? '' : `s.write(${JSON.stringify(payload)});`} });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

const isReset = (finding: { kind: string }): finding is ResetFinding => finding.kind === 'reset';

describe('agent in the lab', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let agentA: AgentProcess;
  let agentB: AgentProcess;

  before(async () => {
    lab = await Lab.create({ prefix: 'agent' });
    ({ nodeA, nodeB, gateway, upstream } = await addGatewayCluster(lab));
    [agentA, agentB] = await Promise.all([
      AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-a', '--listen', '127.0.0.1:7070']),
      AgentProcess.startInLab(lab, nodeB, ['--node-name', 'node-b', '--listen', '127.0.0.1:7070']),
    ]);
  });

  after(async () => {
    await lab?.destroy();
  });

  test('serves /healthz inside its node namespace once capture runs', async () => {
    const { stdout } = await lab.exec(nodeB, [
      process.execPath,
      '-e',
      "require('http').get('http://127.0.0.1:7070/healthz', (r) => { console.log(r.statusCode); r.resume(); })",
    ]);
    assert.equal(stdout.trim(), '200');
  });

  test('a connect to a closed port: not-listening, sent by the upstream kernel with NO_SOCKET', async () => {
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 9999, null)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agentB.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 9999);
    assert.ok(isReset(finding));
    assert.equal(finding.node, 'node-b');
    assert.equal(finding.cause, 'not-listening');
    assert.equal(finding.sentBy, 'endpoint');
    assert.equal(finding.kernelReason, 'NO_SOCKET');
    assert.equal(finding.dst.ip, gateway.ip);
    assert.equal(finding.evidence[0], 'RST answered a SYN');
    assert.equal(finding.count, 1, 'the copies seen on the pod veth and the uplink are one reset');
  });

  test('a server that closes with unread data: abort-on-close, naming the closing process', async () => {
    // pauseOnConnect leaves the request unread in the socket; destroy() then aborts (RFC 2525 §2.17).
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      `require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 300))
         .listen(8080, () => console.log('listening'));`,
    ]);
    await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 8080, 'GET / HTTP/1.1\r\n\r\n')]);
    assert.equal(stdout.trim(), 'ECONNRESET');
    const finding = await agentB.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 8080);
    assert.ok(isReset(finding));
    assert.equal(finding.cause, 'abort-on-close');
    assert.equal(finding.kernelReason, 'TCP_ABORT_ON_CLOSE');
    assert.equal(finding.sentBy, 'endpoint');
    assert.equal(finding.src.process?.pid, server.pid);
    assert.equal(finding.src.process?.comm, 'node');
    server.kill();
  });

  test('an agent capturing veth* picks up a pod veth created after it started, without a restart', async () => {
    const agentVeth = await AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-a', '--listen', '127.0.0.1:7071', '--interfaces', 'veth*']);
    const late = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'gateway-1', ip: '10.244.1.11' });
    const deadline = Date.now() + 15_000;
    let finding;
    while (finding === undefined && Date.now() < deadline) {
      await lab.exec(late, [process.execPath, '-e', clientScript(upstream.ip, 9998, null)]);
      finding = agentVeth.findings.find((f) => isReset(f) && f.src.port === 9998 && f.dst.ip === late.ip);
      if (finding === undefined) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(finding !== undefined, `no finding for the late pod; stderr: ${agentVeth.stderr.slice(-1500)}`);
    assert.ok(agentVeth.stderr.includes('captured interfaces changed'));
    agentVeth.child.kill('SIGTERM');
  });

  test('a REJECT --reject-with tcp-reset on the fabric is not blamed on the endpoint', async () => {
    const rule = await lab.rejectWithTcpReset(undefined, { dst: upstream.ip, dport: 8081 });
    try {
      const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 8081, null)]);
      assert.equal(stdout.trim(), 'ECONNREFUSED');
      const finding = await agentA.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 8081);
      assert.ok(isReset(finding));
      assert.equal(finding.kernelReason, null, 'no kernel event matches a netfilter RST');
      assert.equal(finding.sentBy, 'middlebox');
      assert.equal(finding.cause, 'middlebox');
      assert.equal(finding.ttl, 64, 'the fabric made it: its TTL is unspent on arrival at node-a');
      // Either proof may come first: TTL 64 against the 62 that node-b's pods arrive with, or an unspent TTL from behind a router.
      assert.ok(finding.evidence.some((line) => /hops nearer|behind a router/.test(line)), finding.evidence.join(' | '));
      assert.equal(
        agentB.findings.some((f) => isReset(f) && f.src.port === 8081),
        false,
        'the forged RST never reached node-b',
      );
    } finally {
      await rule.remove();
    }
  });
});
