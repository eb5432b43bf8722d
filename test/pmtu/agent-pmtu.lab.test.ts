import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Finding, PmtuFinding } from '../../src/protocol/finding';
import { Lab, labSkipReason, waitForOutput, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';

/**
 * The agent's periodic path-MTU measurement on a real path: node-a's pod has an
 * eth0 of 1500 bytes, the fabric's hop towards node-b carries 1400. The agent must
 * report the mismatch with the MTU to set, attach what its capture saw (SYN MSS, ICMP
 * frag-needed), publish again only when the verdict changes, and see a black hole.
 */
const skip = labSkipReason();
const isPmtu = (finding: Finding): finding is PmtuFinding => finding.kind === 'pmtu';

describe('agent path-MTU measurement in the lab', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let agent: AgentProcess;

  before(async () => {
    lab = await Lab.create({ prefix: 'pmtuagent' });
    const fabric = await lab.addFabric();
    nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' });
    gateway = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'gateway-0', ip: '10.244.1.10', mtu: 1500 });
    upstream = await lab.addPod(nodeB, { namespace: 'default', name: 'reviews-0', ip: '10.244.2.20', mtu: 1500 });
    await lab.setMtu(fabric, nodeB.fabricIfname, 1400);
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      "require('net').createServer((s) => { s.on('data', () => {}); s.on('error', () => {}); }).listen(8080, () => console.log('listening'))",
    ]);
    await waitForOutput(server, /listening/);
    agent = await AgentProcess.startInLab(lab, nodeA, [
      '--node-name', 'node-a',
      '--listen', '127.0.0.1:7072',
      '--cni-cache-dir', lab.cniDir(nodeA),
      '--pmtu-targets', `${nodeB.underlayIp},${upstream.ip}`,
      '--pmtu-interval', '1',
      '--kernel-events', 'off',
    ]);
    // Before the first cycle (2 s after start): a connection whose SYN advertises MSS 1460 and whose
    // full-size segments draw frag-needed from the fabric, for the capture to see.
    await lab.exec(gateway, [
      process.execPath,
      '-e',
      `const s = require('net').connect(8080, '${upstream.ip}', () => { s.write(Buffer.alloc(20000)); setTimeout(() => { s.destroy(); process.exit(0); }, 500); });
       s.on('error', () => process.exit(0));`,
    ]);
  });

  after(async () => {
    await lab?.destroy();
  });

  it('reports the pod interface larger than the path, with the MTU to set', async () => {
    const finding = (await agent.waitFor((f) => isPmtu(f) && f.to.ip === nodeB.underlayIp, 20_000)) as PmtuFinding;
    assert.equal(finding.node, 'node-a');
    assert.equal(finding.pmtu, 1400);
    assert.equal(finding.localMtu, 1500);
    assert.equal(finding.mismatch, true);
    assert.equal(finding.blackHole, false);
    assert.equal(finding.icmpSeen, true);
    assert.equal(finding.from.ip, nodeA.underlayIp);
    assert.match(finding.advice, /eth0 of 1 pod \(istio-system\/gateway-0\) has MTU 1500, 100 bytes more than the path to 10\.210\.0\.12 carries: set it to 1400/);
    assert.match(finding.advice, /CNI's MTU .* to 1400/);
  });

  it('attaches the SYN MSS and the frag-needed errors the capture saw on that path', async () => {
    const finding = (await agent.waitFor((f) => isPmtu(f) && f.to.ip === upstream.ip, 20_000)) as PmtuFinding;
    assert.equal(finding.pmtu, 1400);
    const evidence = finding.evidence ?? [];
    assert.ok(evidence.some((line) => /MSS 1460 .* 1500-byte packets, 100 more than the path carries; clamp MSS to 1360/.test(line)), JSON.stringify(evidence));
    assert.ok(evidence.some((line) => /ICMP fragmentation-needed error.* for packets to 10\.244\.2\.20, announcing MTU 1400/.test(line)), JSON.stringify(evidence));
  });

  it('publishes a path again only when its verdict changes: a black hole appears', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_500)); // three more 1 s cycles
    const before = agent.findings.filter((f) => isPmtu(f) && f.to.ip === nodeB.underlayIp).length;
    assert.equal(before, 1, 'unchanged measurements are not republished');
    const rule = await lab.dropFragNeeded();
    try {
      const blackHole = (await agent.waitFor((f) => isPmtu(f) && f.to.ip === nodeB.underlayIp && f.blackHole, 20_000)) as PmtuFinding;
      assert.equal(blackHole.pmtu, 1400);
      assert.equal(blackHole.icmpSeen, false);
      assert.match(blackHole.advice, /allow ICMP type 3 code 4/);
    } finally {
      await rule.remove();
    }
  });

  it('exports its measurements on /metrics', async () => {
    const { stdout } = await lab.exec(nodeA, [
      process.execPath,
      '-e',
      "require('http').get('http://127.0.0.1:7072/metrics', (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => console.log(b)); })",
    ]);
    assert.match(stdout, /rstprobe_pmtu_measurements_total\{result="ok"\} [1-9]/);
    assert.match(stdout, /rstprobe_pmtu_smallest_path_bytes 1400/);
    assert.match(stdout, /rstprobe_pmtu_problem_paths\{problem="mismatch"\} 2/);
  });
});
