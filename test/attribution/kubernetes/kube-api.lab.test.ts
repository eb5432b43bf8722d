import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ResetFinding } from '../../../src/protocol/finding';
import { Lab, labSkipReason, type LabNode, type LabPod } from '../../lab/lab';
import { AgentProcess } from '../../support/agent-process';
import { nodeJson, podJson, serviceJson } from '../../support/kube-api-server';
import { KubeApiServerProcess } from '../../support/kube-api-server-process';

/**
 * Attribution "from the API alone" (issue 3): the agent on the upstream's node is
 * given a kubeconfig for the test API server and an empty CNI cache directory, so
 * the only way it can name the pods of a closed-port RST is the Kubernetes watch.
 * The API server runs as a child process inside node-b's namespace, where the
 * agent reaches it on 127.0.0.1 (a server in the root namespace is unreachable
 * from a lab namespace).
 */
const skip = labSkipReason();

const isReset = (finding: { kind: string }): finding is ResetFinding => finding.kind === 'reset';

function connectScript(ip: string, port: number): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('connect', () => { console.log('connected'); s.destroy(); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

describe('attribution from the Kubernetes API alone, in the lab', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let api: KubeApiServerProcess;
  let agent: AgentProcess;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-kube-lab-'));
    const emptyCniDir = path.join(dir, 'cni');
    fs.mkdirSync(emptyCniDir);
    lab = await Lab.create({ prefix: 'kube' });
    await lab.addFabric();
    nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' });
    gateway = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'istio-ingressgateway-5c8d7', ip: '10.244.1.10' });
    upstream = await lab.addPod(nodeB, { namespace: 'shop', name: 'reviews-v1-7d9f8', ip: '10.244.2.20' });

    api = await KubeApiServerProcess.spawn({ host: '127.0.0.1' }, (command, args) => lab.spawn(nodeB, command, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    await api.upsert('nodes', nodeJson({ name: 'node-a', internalIp: '10.210.0.11', podCidr: '10.244.1.0/24' }));
    await api.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12', podCidr: '10.244.2.0/24' }));
    await api.upsert('pods', podJson({ namespace: gateway.namespace, name: 'istio-ingressgateway-5c8d7', uid: gateway.uid, nodeName: 'node-a', ips: [gateway.ip], containers: [{ name: 'istio-proxy', ports: [{ containerPort: 8080 }] }] }));
    await api.upsert('pods', podJson({ namespace: upstream.namespace, name: 'reviews-v1-7d9f8', uid: upstream.uid, nodeName: 'node-b', ips: [upstream.ip], labels: { app: 'reviews' } }));
    await api.upsert('services', serviceJson({ namespace: 'shop', name: 'reviews', clusterIp: '10.96.0.20', ports: [{ port: 9080, targetPort: 9999 }], selector: { app: 'reviews' } }));
    const kubeconfig = await api.writeKubeconfig(dir);

    agent = await AgentProcess.startInLab(lab, nodeB, ['--node-name', 'node-b', '--listen', '127.0.0.1:7070', '--kubeconfig', kubeconfig, '--watch-scope', 'cluster', '--cni-cache-dir', emptyCniDir]);
  });

  after(async () => {
    await api?.close();
    await lab?.destroy();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the closed-port RST names the upstream pod as src and the gateway pod as dst', async () => {
    assert.ok(!agent.stderr.includes('no watcher'), `the agent has no Kubernetes watcher wired in: ${agent.stderr.slice(-1000)}`);
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', connectScript(upstream.ip, 9999)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agent.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 9999, 15_000);
    assert.ok(isReset(finding));
    assert.equal(finding.cause, 'not-listening');
    assert.equal(finding.src.kind, 'pod');
    assert.equal(finding.src.pod?.namespace, 'shop');
    assert.equal(finding.src.pod?.name, 'reviews-v1-7d9f8');
    assert.equal(finding.src.pod?.uid, upstream.uid);
    assert.equal(finding.src.node, 'node-b');
    assert.equal(finding.dst.kind, 'pod');
    assert.equal(finding.dst.pod?.namespace, 'istio-system');
    assert.equal(finding.dst.pod?.name, 'istio-ingressgateway-5c8d7');
    assert.equal(finding.dst.pod?.uid, gateway.uid);
    assert.equal(finding.dst.node, 'node-a', 'the remote pod\'s node comes from the API, not from a local CNI file');
  });

  test('a pod added through the API afterwards is named too (the watch, not just the first list)', async () => {
    const late = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'istio-ingressgateway-9k2x1', ip: '10.244.1.11' });
    await api.upsert('pods', podJson({ namespace: 'istio-system', name: 'istio-ingressgateway-9k2x1', uid: late.uid, nodeName: 'node-a', ips: [late.ip], startedAt: new Date(Date.now() - 2_000) }));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the watch event crosses two processes
    const { stdout } = await lab.exec(late, [process.execPath, '-e', connectScript(upstream.ip, 9998)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agent.waitFor((f) => isReset(f) && f.src.port === 9998 && f.dst.ip === late.ip, 15_000);
    assert.ok(isReset(finding));
    assert.equal(finding.dst.pod?.name, 'istio-ingressgateway-9k2x1');
    assert.equal(finding.dst.pod?.uid, late.uid);
  });
});
