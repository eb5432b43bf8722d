import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Finding, ResetFinding } from '../../src/protocol/finding';
import { addGatewayCluster, Lab, labSkipReason, waitForOutput, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess, CLI_PATH } from '../support/agent-process';
import { readAllPackets, readWithPcapParser, tsharkFields, tsharkSkipReason } from '../support/capture-readers';

/**
 * The agent's lab scenarios recorded by tcpdump (pcap, node-b) and dumpcap
 * (pcapng, node-a) while the live agents run on the same nodes: `rstprobe analyze`
 * on the recordings must name the same senders, receivers, causes and sent-by
 * verdicts as the agents did. The agents run with --kernel-events off, because a
 * capture file holds no kernel events: both then judge from packets alone.
 */
const skip = labSkipReason() ?? tsharkSkipReason();

function clientScript(ip: string, port: number, payload: string | null): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('connect', () => { ${payload === null ? '' : `s.write(${JSON.stringify(payload)});`} });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

const isReset = (finding: Finding): finding is ResetFinding => finding.kind === 'reset';
/** What offline and live must agree on. */
const verdictKey = (finding: ResetFinding): string => `${finding.src.ip}:${finding.src.port} -> ${finding.dst.ip} ${finding.cause} ${finding.sentBy}`;

async function stopCapture(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT'); // both flush and close their file on SIGINT
  await exited;
}

async function analyze(args: string[]): Promise<{ findings: ResetFinding[]; stderr: string }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI_PATH, 'analyze', '--json', ...args], { maxBuffer: 16 << 20 });
  return { findings: stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ResetFinding), stderr };
}

describe('analyze: lab recordings give the live agents\' verdicts', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let agentA: AgentProcess;
  let agentB: AgentProcess;
  let tcpdumpB: ChildProcess;
  let dumpcapA: ChildProcess;
  const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-analyze-lab-'));
  const pcapB = path.join(dir, 'node-b.pcap');
  const pcapngA = path.join(dir, 'node-a.pcapng');
  const evidenceB = path.join(dir, 'evidence-b');

  before(async () => {
    lab = await Lab.create({ prefix: 'analyze' });
    ({ nodeA, nodeB, gateway, upstream } = await addGatewayCluster(lab));
    // The captures start first, so they hold everything the agents see.
    // --immediate-mode: libpcap otherwise holds packets in the ring for up to its 1 s timeout, and SIGINT loses them.
    tcpdumpB = lab.spawn(nodeB, 'tcpdump', ['-i', 'any', '--immediate-mode', '-U', '-n', '-w', pcapB, 'tcp']);
    dumpcapA = lab.spawn(nodeA, 'dumpcap', ['-i', 'any', '-f', 'tcp', '-w', pcapngA]);
    await Promise.all([waitForOutput(tcpdumpB, /listening on any/i), waitForOutput(dumpcapA, /Capturing on/i)]);
    [agentA, agentB] = await Promise.all([
      AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-a', '--listen', '127.0.0.1:7070', '--kernel-events', 'off', '--capture', 'headers', '--evidence-dir', path.join(dir, 'evidence-a')]),
      AgentProcess.startInLab(lab, nodeB, ['--node-name', 'node-b', '--listen', '127.0.0.1:7070', '--kernel-events', 'off', '--capture', 'headers', '--evidence-dir', evidenceB]),
    ]);

    // 1. A server that closes with unread data (and, before, answers the handshake: TTL baselines for the upstream).
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      `require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 300)).listen(8080, () => console.log('listening'));`,
    ]);
    await waitForOutput(server, /listening/);
    assert.equal((await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 8080, 'GET / HTTP/1.1\r\n\r\n')])).stdout.trim(), 'ECONNRESET');
    await agentB.waitFor((f) => isReset(f) && f.src.port === 8080);
    // 2. A connect to a closed port.
    assert.equal((await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 9999, null)])).stdout.trim(), 'ECONNREFUSED');
    await agentB.waitFor((f) => isReset(f) && f.src.port === 9999);
    // 3. A REJECT --reject-with tcp-reset on the fabric.
    const rule = await lab.rejectWithTcpReset(undefined, { dst: upstream.ip, dport: 8081 });
    try {
      assert.equal((await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 8081, null)])).stdout.trim(), 'ECONNREFUSED');
      await agentA.waitFor((f) => isReset(f) && f.src.port === 8081);
    } finally {
      await rule.remove();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // let the capture buffers drain (dumpcap's ring times out after 1 s)
    await Promise.all([stopCapture(tcpdumpB), stopCapture(dumpcapA)]);
    server.kill();
  });

  after(async () => {
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('tcpdump pcap of node-b: the same resets, causes and senders as node-b\'s agent', async () => {
    const { findings } = await analyze([pcapB]);
    const live = agentB.findings.filter(isReset).map(verdictKey).sort();
    assert.ok(live.length >= 2, `live findings: ${live.join(' | ')}`);
    assert.deepEqual(findings.filter(isReset).map(verdictKey).sort(), live);
    for (const finding of findings) {
      assert.equal(finding.kernelReason, null);
      assert.equal(finding.node, 'node-b.pcap');
    }
    const closedPort = findings.find((f) => f.src.port === 9999);
    assert.equal(closedPort?.cause, 'not-listening');
    assert.equal(closedPort?.count, 1, 'the copies on the pod veth and the uplink are one reset, offline as live');
  });

  test('the reader and pcap-parser agree packet for packet on tcpdump\'s recording; tshark counts as many packets in the pcapng', async () => {
    const { packets, summary } = await readAllPackets(pcapB);
    assert.equal(summary.problem, null);
    assert.ok(packets.length >= 10, `${packets.length} packets`);
    const crossCheck = await readWithPcapParser(pcapB);
    assert.deepEqual(packets, crossCheck.map((packet) => ({ ...packet, linkType: packets[0].linkType })));
    const ng = await readAllPackets(pcapngA);
    const rows = await tsharkFields(pcapngA, ['frame.cap_len']);
    assert.deepEqual(ng.packets.map((packet) => packet.capturedBytes), rows.map((row) => Number(row[0])));
  });

  test('dumpcap pcapng of node-a: the same resets, causes and senders as node-a\'s agent, the forged RST blamed on a middlebox', async () => {
    const { findings } = await analyze([pcapngA]);
    const live = agentA.findings.filter(isReset).map(verdictKey).sort();
    assert.deepEqual(findings.filter(isReset).map(verdictKey).sort(), live);
    const forged = findings.find((f) => f.src.port === 8081);
    assert.equal(forged?.sentBy, 'middlebox');
    assert.equal(forged?.cause, 'middlebox');
  });

  test('--cni-cache-dir names the pods from the nodes\' CNI caches, --ip-map from a file', async () => {
    const { findings } = await analyze(['--cni-cache-dir', lab.cniDir(nodeA), '--cni-cache-dir', lab.cniDir(nodeB), pcapB]);
    const closedPort = findings.find((f) => f.src.port === 9999);
    assert.equal(closedPort?.src.kind, 'pod');
    assert.equal(closedPort?.src.pod?.name, 'reviews-0');
    assert.equal(closedPort?.dst.pod?.namespace, 'istio-system');
  });

  test('the agent wrote an evidence pcapng for its finding, and tshark finds the RST in it with the finding\'s comment', async () => {
    const finding = agentB.findings.filter(isReset).find((f) => f.src.port === 9999)!;
    const files = readdirSync(evidenceB);
    assert.ok(files.includes(`${finding.id}.pcapng`), files.join(', '));
    const file = path.join(evidenceB, `${finding.id}.pcapng`);
    const resets = await tsharkFields(file, ['ip.src', 'tcp.srcport', 'frame.comment'], 'tcp.flags.reset==1');
    assert.equal(resets.length, 1);
    assert.deepEqual(resets[0].slice(0, 2), [upstream.ip, '9999']);
    assert.match(resets[0][2], new RegExp(`rstprobe finding ${finding.id}: not-listening`));
    const syns = await tsharkFields(file, ['ip.src'], 'tcp.flags.syn==1');
    assert.deepEqual(syns.map((row) => row[0]), [gateway.ip], 'the SYN the RST answered is in the capture too');
    // Byte for byte what was on the wire: every packet's IP bytes are in tcpdump's recording on the same node.
    const recorded = (await readAllPackets(pcapB)).packets.map((packet) => packet.hex);
    const kept = (await readAllPackets(file)).packets;
    assert.ok(kept.length >= 2);
    for (const packet of kept) assert.ok(recorded.some((hex) => hex.includes(packet.hex)), `evidence packet ${packet.hex} is not in tcpdump's recording`);
    // The standalone agent's API serves the same bytes.
    const { stdout } = await lab.exec(nodeB, [
      process.execPath,
      '-e',
      `require('http').get('http://127.0.0.1:7070/api/v1/findings/${finding.id}/pcap', (r) => { const parts = []; r.on('data', (d) => parts.push(d)); r.on('end', () => console.log(r.statusCode, require('crypto').createHash('sha256').update(Buffer.concat(parts)).digest('hex'))); })`,
    ]);
    const expected = (await import('node:crypto')).createHash('sha256').update(readFileSync(file)).digest('hex');
    assert.equal(stdout.trim(), `200 ${expected}`);
  });
});
