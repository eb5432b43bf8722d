import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ResetFinding } from '../../src/protocol/finding';
import { Lab, labSkipReason, waitForOutput, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';
import { nodeJson, podJson } from '../support/kube-api-server';
import { KubeApiServerProcess } from '../support/kube-api-server-process';

/**
 * Attribution on a real kernel from CNI files alone: one lab node with a gateway
 * pod and upstream pods (network namespaces, veths, the CNI cache files the lab
 * writes like containerd and host-local do), one real agent reading that node's
 * CNI directory, real sockets and RSTs. No Kubernetes API anywhere.
 */
const skip = labSkipReason();

/** Connects from a pod, optionally writes, and prints how the connection ended. */
function clientScript(ip: string, port: number, payload: string | null): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('connect', () => { ${payload === null ? '' : `s.write(${JSON.stringify(payload)});`} });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

const SIDECAR_ID = '5d'.repeat(32);

const isReset = (finding: { kind: string }): finding is ResetFinding => finding.kind === 'reset';

describe('attribution from the CNI cache in the lab', { skip }, () => {
  let lab: Lab;
  let node: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let agent: AgentProcess;

  before(async () => {
    lab = await Lab.create({ prefix: 'attr' });
    node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    gateway = await lab.addPod(node, { namespace: 'istio-system', name: 'gateway-0', ip: '10.244.1.10' });
    upstream = await lab.addPod(node, { namespace: 'default', name: 'reviews-0', ip: '10.244.1.20' });
    agent = await AgentProcess.startInLab(lab, node, ['--node-name', 'node-a', '--listen', '127.0.0.1:7070', '--cni-cache-dir', lab.cniDir(node)]);
  });

  after(async () => {
    await lab?.destroy();
  });

  test('the closed-port RST names the upstream pod as src and the gateway pod as dst', async () => {
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 9999, null)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agent.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 9999);
    assert.ok(isReset(finding));
    assert.equal(finding.cause, 'not-listening');
    assert.equal(finding.src.kind, 'pod');
    assert.deepEqual(finding.src.pod, { namespace: 'default', name: 'reviews-0', uid: upstream.uid, container: null });
    assert.equal(finding.src.node, 'node-a');
    assert.equal(finding.dst.ip, gateway.ip);
    assert.equal(finding.dst.kind, 'pod');
    assert.deepEqual(finding.dst.pod, { namespace: 'istio-system', name: 'gateway-0', uid: gateway.uid, container: null });
    assert.equal(finding.dst.node, 'node-a');
  });

  test('a RST from a process keeps the pod from CNI and adds the process the kernel named', async () => {
    // pauseOnConnect leaves the request unread; destroy() then aborts the connection (RFC 2525 §2.17).
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      `require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 300)).listen(8080, () => console.log('listening'));`,
    ]);
    await waitForOutput(server, /listening/);
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 8080, 'GET / HTTP/1.1\r\n\r\n')]);
    assert.equal(stdout.trim(), 'ECONNRESET');
    const finding = await agent.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 8080);
    assert.ok(isReset(finding));
    assert.equal(finding.cause, 'abort-on-close');
    assert.equal(finding.src.pod?.uid, upstream.uid);
    assert.equal(finding.src.process?.pid, server.pid);
    assert.equal(finding.src.process?.comm, 'node');
    server.kill();
  });

  test('/healthz and /metrics report what attribution knows', async () => {
    const get = (urlPath: string) =>
      lab.exec(node, [process.execPath, '-e', `require('http').get('http://127.0.0.1:7070${urlPath}', (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => console.log(r.statusCode + '\\n' + b)); })`]);
    const health = (await get('/healthz')).stdout;
    assert.match(health, /^200\nok\n/);
    assert.match(health, /cni: 2 pods, 0 unreadable files; kubernetes: off/);
    const metrics = (await get('/metrics')).stdout;
    assert.match(metrics, /^rstprobe_attribution_cni_pods 2$/m);
    assert.match(metrics, /^rstprobe_attribution_addresses 2$/m);
    assert.match(metrics, /^rstprobe_kubernetes_stale 0$/m);
  });

  test('IP reuse: a RST before the pod is replaced names pod A, one after names pod B, with one agent throughout', async () => {
    const podA = await lab.addPod(node, { namespace: 'default', name: 'ratings-a', ip: '10.244.1.30' });
    await settle();
    await lab.exec(gateway, [process.execPath, '-e', clientScript(podA.ip, 9997, null)]);
    const first = await agent.waitFor((f) => isReset(f) && f.src.ip === podA.ip && f.src.port === 9997);
    assert.ok(isReset(first));
    assert.deepEqual(first.src.pod, { namespace: 'default', name: 'ratings-a', uid: podA.uid, container: null });

    await lab.removePod(podA); // its netns and CNI files go; the address is free
    const podB = await lab.addPod(node, { namespace: 'default', name: 'ratings-b', ip: '10.244.1.30' });
    assert.notEqual(podB.uid, podA.uid);
    await settle();
    await lab.exec(gateway, [process.execPath, '-e', clientScript(podB.ip, 9997, null)]);
    const second = await agent.waitFor((f) => isReset(f) && f.src.ip === podB.ip && f.src.port === 9997 && f.src.pod?.uid !== podA.uid);
    assert.ok(isReset(second));
    assert.deepEqual(second.src.pod, { namespace: 'default', name: 'ratings-b', uid: podB.uid, container: null });
    assert.ok(Date.parse(second.time) > Date.parse(first.time));
    assert.notEqual(second.id, first.id, 'a new sender is a new finding, never rolled into the old one');
    const forA = agent.findings.filter((f) => isReset(f) && f.src.pod?.uid === podA.uid);
    assert.equal(forA.every((f) => Date.parse(f.time) <= Date.parse(first.lastSeen)), true, 'nothing after the reuse was given to pod A');
  });
  test("another node's CNI copy (NODE=DIR) names the remote gateway pod with its own node", async () => {
    const nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' });
    const remote = await lab.addPod(nodeB, { namespace: 'default', name: 'details-0', ip: '10.244.2.40' });
    const agentB = await AgentProcess.startInLab(lab, nodeB, [
      '--node-name', 'node-b', '--listen', '127.0.0.1:7070', '--cni-cache-dir', lab.cniDir(nodeB), '--cni-cache-dir', `node-a=${lab.cniDir(node)}`,
    ]);
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(remote.ip, 9996, null)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agentB.waitFor((f) => isReset(f) && f.src.ip === remote.ip && f.src.port === 9996);
    assert.ok(isReset(finding));
    assert.deepEqual([finding.src.pod?.name, finding.src.node], ['details-0', 'node-b']);
    assert.deepEqual(finding.dst.pod, { namespace: 'istio-system', name: 'gateway-0', uid: gateway.uid, container: null });
    assert.equal(finding.dst.node, 'node-a', "the copy's node, not the agent's");
    agentB.child.kill('SIGTERM');
  });
});

describe('attribution from the Kubernetes API alone in the lab', { skip }, () => {
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;
  let api: KubeApiServerProcess;
  let agent: AgentProcess;
  let scratch: string;

  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-attr-api-'));
    const emptyCni = path.join(scratch, 'no-cni');
    fs.mkdirSync(emptyCni);
    lab = await Lab.create({ prefix: 'attrapi' });
    nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24' });
    gateway = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'gateway-0', ip: '10.244.1.10' });
    upstream = await lab.addPod(nodeB, { namespace: 'default', name: 'reviews-0', ip: '10.244.2.20' });
    // The API server runs in node-b's namespace, where the agent reaches it on loopback.
    api = await KubeApiServerProcess.spawn({}, (command, args) => lab.spawn(nodeB, command, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    await api.upsert('nodes', nodeJson({ name: 'node-a', internalIp: nodeA.underlayIp, podCidr: nodeA.podCidr }));
    await api.upsert('nodes', nodeJson({ name: 'node-b', internalIp: nodeB.underlayIp, podCidr: nodeB.podCidr }));
    await api.upsert('pods', podJson({ namespace: 'istio-system', name: 'gateway-0', uid: gateway.uid, nodeName: 'node-a', ips: [gateway.ip] }));
    // The upstream declares 9999 but nothing listens there (failure mode 5): the container is named by its declared port.
    await api.upsert(
      'pods',
      podJson({
        namespace: 'default',
        name: 'reviews-0',
        uid: upstream.uid,
        nodeName: 'node-b',
        ips: [upstream.ip],
        containers: [
          { name: 'app', ports: [{ containerPort: 9999 }] },
          { name: 'istio-proxy', containerId: `containerd://${SIDECAR_ID}` },
        ],
      }),
    );
    const kubeconfig = await api.writeKubeconfig(scratch);
    agent = await AgentProcess.startInLab(lab, nodeB, [
      '--node-name', 'node-b', '--listen', '127.0.0.1:7070', '--cni-cache-dir', emptyCni, '--kubeconfig', kubeconfig, '--watch-scope', 'cluster',
    ]);
  });

  after(async () => {
    await api?.close().catch(() => undefined);
    await lab?.destroy();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test('the closed-port RST names the upstream pod and container as src and the remote gateway pod as dst', async () => {
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 9999, null)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const finding = await agent.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 9999);
    assert.ok(isReset(finding));
    assert.equal(finding.cause, 'not-listening');
    assert.equal(finding.sentBy, 'endpoint');
    assert.equal(finding.src.kind, 'pod');
    assert.deepEqual(finding.src.pod, { namespace: 'default', name: 'reviews-0', uid: upstream.uid, container: 'app' });
    assert.equal(finding.src.node, 'node-b');
    assert.equal(finding.dst.kind, 'pod');
    assert.deepEqual(finding.dst.pod, { namespace: 'istio-system', name: 'gateway-0', uid: gateway.uid, container: null });
    assert.equal(finding.dst.node, 'node-a', 'a pod of another node, known from the API');
    assert.match(agent.stderr, /Kubernetes state synced/);
  });

  test('a RST from a process in a container cgroup names that container: pid → cgroup → container ID → pod', async (t) => {
    // A real cgroup with the kubelet's cgroupfs-driver path; the kernel then reports it in /proc/<pid>/cgroup.
    const hierarchy = writableCgroupHierarchy();
    if (hierarchy === null) {
      t.skip('no writable cgroup hierarchy on this machine');
      return;
    }
    const leaf = path.join(hierarchy, 'kubepods', 'burstable', `pod${upstream.uid}`, SIDECAR_ID);
    // The port is declared by no container, so only the process can name the container.
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      `require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 300)).listen(15001, () => console.log('listening'));`,
    ]);
    try {
      await waitForOutput(server, /listening/);
      fs.mkdirSync(leaf, { recursive: true });
      fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(server.pid));
      assert.match(fs.readFileSync(`/proc/${server.pid}/cgroup`, 'utf8'), new RegExp(SIDECAR_ID));
      const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(upstream.ip, 15001, 'GET / HTTP/1.1\r\n\r\n')]);
      assert.equal(stdout.trim(), 'ECONNRESET');
      const finding = await agent.waitFor((f) => isReset(f) && f.src.ip === upstream.ip && f.src.port === 15001);
      assert.ok(isReset(finding));
      assert.equal(finding.cause === 'abort-on-close' || finding.cause === 'sidecar', true, finding.cause);
      assert.deepEqual(finding.src.process, { pid: server.pid, comm: 'node' });
      assert.deepEqual(finding.src.pod, { namespace: 'default', name: 'reviews-0', uid: upstream.uid, container: 'istio-proxy' });
    } finally {
      server.kill('SIGKILL');
      await new Promise((resolve) => (server.exitCode !== null || server.signalCode !== null ? resolve(null) : server.once('exit', resolve)));
      removeCgroupTree(hierarchy, leaf);
    }
  });
});

/** A cgroup hierarchy root we may create groups in: cgroup v2 (unified or hybrid), else v1 pids. */
function writableCgroupHierarchy(): string | null {
  for (const candidate of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids']) {
    try {
      fs.accessSync(path.join(candidate, 'cgroup.procs'), fs.constants.W_OK);
      const probe = path.join(candidate, `rstprobe-probe-${process.pid}`);
      fs.mkdirSync(probe);
      fs.rmdirSync(probe);
      return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

/** Removes the leaf and the parents the test created, deepest first (a cgroup goes with rmdir once empty). */
function removeCgroupTree(hierarchy: string, leaf: string): void {
  for (let dir = leaf; dir.startsWith(path.join(hierarchy, 'kubepods')) && dir !== hierarchy; dir = path.dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return; // not empty (another user of the path) or already gone
    }
  }
}

/** The agent learns of CNI files through inotify: give the event a moment to arrive, as a pod's readiness would. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 300));
}
