import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Finding, PmtuFinding } from '../../src/protocol/finding';
import { Lab, labSkipReason, type LabNode } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';
import { nodeJson, podJson } from '../support/kube-api-server';
import { KubeApiServerProcess } from '../support/kube-api-server-process';

/**
 * Path-MTU targets from Kubernetes: the agent of the node running the gateway pod
 * (label istio=ingressgateway) measures towards every other node — its address and
 * one pod on it — with no --pmtu-targets; an agent whose node runs no gateway
 * measures nothing. The test API server runs inside node-a's namespace, where both
 * agents reach it on 127.0.0.1; the second agent plays node-c by its --node-name.
 */
const skip = labSkipReason();
const isPmtu = (finding: Finding): finding is PmtuFinding => finding.kind === 'pmtu';

describe('path-MTU targets chosen from the Kubernetes API, in the lab', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let api: KubeApiServerProcess;
  let gatewayAgent: AgentProcess;
  let otherAgent: AgentProcess;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-pmtu-kube-'));
    lab = await Lab.create({ prefix: 'pmtukube' });
    const fabric = await lab.addFabric();
    nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    const nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' });
    const nodeC = await lab.addNode('node-c', { underlayIp: '10.210.0.13', podCidr: '10.244.3.0/24' });
    const gateway = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'istio-ingressgateway-0', ip: '10.244.1.10' });
    const appB = await lab.addPod(nodeB, { namespace: 'shop', name: 'reviews-0', ip: '10.244.2.20' });
    const appC = await lab.addPod(nodeC, { namespace: 'shop', name: 'ratings-0', ip: '10.244.3.30' });
    await lab.setMtu(fabric, nodeB.fabricIfname, 1400);

    api = await KubeApiServerProcess.spawn({ host: '127.0.0.1' }, (command, args) => lab.spawn(nodeA, command, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    for (const node of [nodeA, nodeB, nodeC]) await api.upsert('nodes', nodeJson({ name: node.name, internalIp: node.underlayIp, podCidr: node.podCidr }));
    await api.upsert('pods', podJson({ namespace: 'istio-system', name: gateway.name, uid: gateway.uid, nodeName: 'node-a', ips: [gateway.ip], labels: { istio: 'ingressgateway' } }));
    await api.upsert('pods', podJson({ namespace: 'shop', name: appB.name, uid: appB.uid, nodeName: 'node-b', ips: [appB.ip] }));
    await api.upsert('pods', podJson({ namespace: 'shop', name: appC.name, uid: appC.uid, nodeName: 'node-c', ips: [appC.ip] }));
    const kubeconfig = await api.writeKubeconfig(dir);
    const common = ['--kubeconfig', kubeconfig, '--watch-scope', 'cluster', '--pmtu-interval', '2', '--kernel-events', 'off'];
    gatewayAgent = await AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-a', '--listen', '127.0.0.1:7073', '--cni-cache-dir', lab.cniDir(nodeA), ...common]);
    otherAgent = await AgentProcess.startInLab(lab, nodeA, ['--node-name', 'node-c', '--listen', '127.0.0.1:7074', '--log-level', 'debug', ...common]);
  });

  after(async () => {
    await api?.close();
    await lab?.destroy();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the gateway node measures the other nodes\' addresses and one pod on each, naming them', async () => {
    const toNodeB = (await gatewayAgent.waitFor((f) => isPmtu(f) && f.to.ip === '10.210.0.12', 30_000)) as PmtuFinding;
    assert.deepEqual([toNodeB.to.node, toNodeB.to.pod, toNodeB.pmtu, toNodeB.mismatch], ['node-b', null, 1400, true]);
    const toPodB = (await gatewayAgent.waitFor((f) => isPmtu(f) && f.to.ip === '10.244.2.20', 30_000)) as PmtuFinding;
    assert.deepEqual([toPodB.to.node, toPodB.to.pod?.namespace, toPodB.to.pod?.name, toPodB.pmtu], ['node-b', 'shop', 'reviews-0', 1400]);
    const toNodeC = (await gatewayAgent.waitFor((f) => isPmtu(f) && f.to.ip === '10.210.0.13', 30_000)) as PmtuFinding;
    assert.deepEqual([toNodeC.to.node, toNodeC.pmtu, toNodeC.mismatch], ['node-c', 1500, false]);
    await gatewayAgent.waitFor((f) => isPmtu(f) && f.to.ip === '10.244.3.30' && f.to.pod?.name === 'ratings-0', 30_000);
    assert.ok(!gatewayAgent.findings.some((f) => isPmtu(f) && f.to.node === 'node-a'), 'never its own node');
  });

  it('a node without a gateway pod measures nothing (gateways × nodes, not nodes × nodes)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // past its first cycles
    assert.deepEqual(otherAgent.findings.filter(isPmtu), []);
    // …because the synced cluster shows no gateway there, not because it never looked.
    assert.match(otherAgent.stderr, /"reason":"no gateway pod on this node".*"msg":"no path-MTU targets this cycle"/);
  });
});
