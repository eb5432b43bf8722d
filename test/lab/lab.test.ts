/**
 * The lab itself, on real network namespaces (root only; skipped with a reason
 * elsewhere). Two nodes behind a fabric, one pod each, plus extra pods where a test
 * needs a fresh PMTU cache. Ends by checking the machine's own links are untouched.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execCommand, spawnGroup, terminateGroup } from '../support/exec';
import { LabGuardError } from './guard';
import { Lab, labSkipReason, waitForOutput, type LabNode, type LabPod } from './lab';

const skip = labSkipReason();
const pingSkip = commandOnPath('ping') ? false : 'ping (iputils-ping) is not installed: apt-get install iputils-ping';
const PREFIX = 'rsttest';
const UPSTREAM_PORT = 8080;
const LAB_JS = path.join(__dirname, 'lab.js');

function commandOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, command)));
}

/** Read-only views of the root namespace (no lab command, nothing changed). */
async function rootLinkNames(): Promise<string[]> {
  const { stdout } = await execCommand('ip', ['-o', 'link', 'show']);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':').slice(0, 2).join(':').trim())
    .sort();
}

async function uplinkState(): Promise<{ up: boolean; addresses: string[] } | null> {
  const link = await execCommand('ip', ['-o', 'link', 'show', 'dev', 'eth0'], { check: false });
  if (link.code !== 0) return null;
  const addr = await execCommand('ip', ['-o', 'addr', 'show', 'dev', 'eth0']);
  const addresses = addr.stdout
    .split('\n')
    .map((line) => /\binet6? (\S+)/.exec(line)?.[1])
    .filter((a): a is string => a !== undefined && !a.startsWith('fe80:'))
    .sort();
  return { up: /[<,]UP[,>]/.test(link.stdout), addresses };
}

async function netnsNames(): Promise<string[]> {
  const { stdout } = await execCommand('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

async function labNamespacesAlive(prefix: string, id: string): Promise<string[]> {
  return (await netnsNames()).filter((name) => name.startsWith(`${prefix}-${id}-`));
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A node client that prints CONNECTED or the socket error code (e.g. ECONNREFUSED). */
const TCP_CONNECT_SCRIPT = `
const [host, port] = process.argv.slice(1);
const socket = require('net').connect(Number(port), host);
socket.setTimeout(4000, () => { console.log('TIMEOUT'); process.exit(4); });
socket.on('connect', () => { console.log('CONNECTED'); socket.destroy(); });
socket.on('error', (err) => { console.log(err.code); process.exit(3); });`;

describe('lab on network namespaces', { skip }, () => {
  let rootLinksBefore: string[] = [];
  let uplinkBefore: Awaited<ReturnType<typeof uplinkState>> = null;
  let lab: Lab;
  let nodeA: LabNode;
  let nodeB: LabNode;
  let gateway: LabPod;
  let upstream: LabPod;

  before(async () => {
    rootLinksBefore = await rootLinkNames();
    uplinkBefore = await uplinkState();
    lab = await Lab.create({ prefix: PREFIX });
    nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24', underlayIp6: 'fd00:210::11', podCidr6: 'fd00:244:1::/64' });
    nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24', underlayIp6: 'fd00:210::12', podCidr6: 'fd00:244:2::/64' });
    gateway = await lab.addPod(nodeA, { namespace: 'istio-system', name: 'gateway-0', ip: '10.244.1.10', ip6: 'fd00:244:1::10' });
    upstream = await lab.addPod(nodeB, { namespace: 'default', name: 'upstream-0', ip: '10.244.2.20', ip6: 'fd00:244:2::20', uid: 'b3f0c8d2-0000-4000-8000-000000000020' });
    const server = lab.spawn(upstream, process.execPath, [
      '-e',
      `require('http').createServer((req, res) => res.end('hello from upstream-0')).listen(${UPSTREAM_PORT}, '::', () => console.log('listening'))`,
    ]);
    await waitForOutput(server, /listening/);
  });

  after(async () => {
    const id = lab?.id;
    await lab?.destroy();
    if (id !== undefined) {
      assert.deepEqual(await labNamespacesAlive(PREFIX, id), [], 'destroy left namespaces behind');
      assert.equal(fs.existsSync(lab.dir), false, 'destroy left the lab directory behind');
    }
    assert.deepEqual(await rootLinkNames(), rootLinksBefore, 'the root namespace gained or lost a link');
    if (uplinkBefore !== null) {
      const uplinkAfter = await uplinkState();
      assert.equal(uplinkAfter?.up, true, "the machine's eth0 is no longer UP");
      assert.deepEqual(uplinkAfter?.addresses, uplinkBefore.addresses, "the machine's eth0 lost or changed addresses");
    }
  });

  it('names every namespace <prefix>-<id>-… and registers them all', async () => {
    assert.match(lab.id, /^[0-9a-f]{8}$/);
    const alive = await labNamespacesAlive(PREFIX, lab.id);
    assert.deepEqual([...alive].sort(), [...lab.namespaces].sort());
    assert.equal(alive.length, 5);
    const { stdout } = await lab.exec(gateway, ['ip', '-o', 'link', 'show', 'dev', 'eth0']);
    assert.match(stdout, /eth0@/);
  });

  it('routes IPv4 and IPv6 pings between pods on different nodes across the fabric', { skip: pingSkip }, async () => {
    const v4 = await lab.exec(gateway, ['ping', '-c', '1', '-W', '2', upstream.ip]);
    assert.match(v4.stdout, /1 received/);
    assert.match(v4.stdout, /ttl=61/, 'the reply crosses three routers (node-b, fabric, node-a)');
    const v6 = await lab.exec(gateway, ['ping', '-6', '-c', '1', '-W', '2', upstream.ip6!]);
    assert.match(v6.stdout, /1 received/);
  });

  it('carries TCP from one pod to an http server in another, over IPv4 and IPv6', async () => {
    const v4 = await lab.exec(gateway, ['curl', '-sS', '--max-time', '5', `http://${upstream.ip}:${UPSTREAM_PORT}/`]);
    assert.equal(v4.stdout, 'hello from upstream-0');
    const v6 = await lab.exec(gateway, ['curl', '-sS', '--max-time', '5', `http://[${upstream.ip6}]:${UPSTREAM_PORT}/`]);
    assert.equal(v6.stdout, 'hello from upstream-0');
  });

  it('a fabric MTU of 1400 answers a 1428-byte DF ping with frag-needed, and passes 1328 bytes', { skip: pingSkip }, async (t) => {
    // A fresh client pod: its PMTU cache has never seen the fabric's answer.
    const client = await lab.addPod(nodeA, { name: 'mtu-client', ip: '10.244.1.21' });
    await lab.setMtu(lab.fabric!, nodeB.fabricIfname, 1400);
    t.after(() => lab.setMtu(lab.fabric!, nodeB.fabricIfname, 1500));
    const big = await lab.exec(client, ['ping', '-M', 'do', '-s', '1400', '-c', '1', '-W', '2', upstream.ip], { check: false });
    assert.notEqual(big.code, 0);
    assert.match(big.stdout, /From 10\.210\.0\.1 .*Frag needed and DF set \(mtu = 1400\)/);
    const small = await lab.exec(client, ['ping', '-M', 'do', '-s', '1300', '-c', '1', '-W', '2', upstream.ip]);
    assert.match(small.stdout, /1 received/);
  });

  it('with ICMP frag-needed filtered in the fabric, the large ping goes silent (PMTU black hole)', { skip: pingSkip }, async (t) => {
    const client = await lab.addPod(nodeA, { name: 'blackhole-client', ip: '10.244.1.22' });
    await lab.setMtu(lab.fabric!, nodeB.fabricIfname, 1400);
    t.after(() => lab.setMtu(lab.fabric!, nodeB.fabricIfname, 1500));
    const filter = await lab.dropFragNeeded();
    t.after(() => filter.remove());
    const big = await lab.exec(client, ['ping', '-M', 'do', '-s', '1400', '-c', '1', '-W', '2', upstream.ip], { check: false });
    assert.notEqual(big.code, 0);
    assert.match(big.stdout, /0 received/);
    assert.doesNotMatch(big.stdout + big.stderr, /Frag needed|message too long/);
    const small = await lab.exec(client, ['ping', '-M', 'do', '-s', '1300', '-c', '1', '-W', '2', upstream.ip]);
    assert.match(small.stdout, /1 received/);
  });

  it('a REJECT --reject-with tcp-reset rule in the fabric refuses the connection (forged RST)', async (t) => {
    const connect = (): Promise<string> =>
      lab.exec(gateway, [process.execPath, '-e', TCP_CONNECT_SCRIPT, upstream.ip, String(UPSTREAM_PORT)], { check: false }).then((r) => r.stdout.trim());
    assert.equal(await connect(), 'CONNECTED');
    const rule = await lab.rejectWithTcpReset(lab.fabric!, { dst: upstream.ip, dport: UPSTREAM_PORT });
    t.after(() => rule.remove());
    assert.equal(await connect(), 'ECONNREFUSED');
    const listing = await lab.iptables(lab.fabric!, ['-S', 'FORWARD']);
    assert.match(listing.stdout, /REJECT --reject-with tcp-reset/);
    await rule.remove();
    assert.equal(await connect(), 'CONNECTED');
  });

  it('writes a CNI cache file and a host-local reservation per pod, matching the real interfaces', async () => {
    const dir = lab.cniDir(nodeB);
    const resultFile = path.join(dir, 'results', `lab-${upstream.containerId}-eth0`);
    const cache = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
    assert.equal(cache.kind, 'cniCacheV1');
    assert.equal(cache.containerId, upstream.containerId);
    assert.equal(cache.networkName, 'lab');
    assert.equal(cache.ifName, 'eth0');
    assert.equal(cache.netns, `/var/run/netns/${upstream.netns}`);
    assert.ok(fs.existsSync(cache.netns), 'the cached netns path should exist while the pod lives');
    const conflist = JSON.parse(Buffer.from(cache.config, 'base64').toString('utf8'));
    assert.equal(conflist.name, 'lab');
    assert.deepEqual(new Map(cache.cniArgs).get('K8S_POD_UID'), 'b3f0c8d2-0000-4000-8000-000000000020');
    assert.deepEqual(new Map(cache.cniArgs).get('K8S_POD_NAME'), 'upstream-0');
    assert.deepEqual(new Map(cache.cniArgs).get('K8S_POD_NAMESPACE'), 'default');
    assert.deepEqual(
      cache.result.ips.map((ip: { address: string }) => ip.address),
      ['10.244.2.20/24', 'fd00:244:2::20/64'],
    );
    const podLink = JSON.parse((await lab.exec(upstream, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout)[0];
    const hostLink = JSON.parse((await lab.exec(nodeB, ['ip', '-j', 'link', 'show', 'dev', upstream.hostIfname])).stdout)[0];
    assert.deepEqual(cache.result.interfaces, [
      { name: upstream.hostIfname, mac: hostLink.address, sandbox: '' },
      { name: 'eth0', mac: podLink.address, sandbox: `/var/run/netns/${upstream.netns}` },
    ]);
    assert.equal(fs.readFileSync(path.join(dir, 'networks', 'lab', '10.244.2.20'), 'utf8'), `${upstream.containerId}\r\neth0`);
    assert.equal(fs.readFileSync(path.join(dir, 'networks', 'lab', 'fd00:244:2::20'), 'utf8'), `${upstream.containerId}\r\neth0`);
  });

  it('removePod deletes the pod netns and CNI files, and the IP can be reused by a new pod', async () => {
    const first = await lab.addPod(nodeB, { name: 'reuse-0', ip: '10.244.2.30' });
    const server = lab.spawn(first, 'sleep', ['300']);
    await lab.removePod(first);
    assert.equal(server.exitCode !== null || server.signalCode !== null, true, 'the pod process should be gone');
    assert.equal((await netnsNames()).includes(first.netns), false);
    for (const file of first.cniFiles) assert.equal(fs.existsSync(file), false, `${file} should be removed`);
    const second = await lab.addPod(nodeB, { name: 'reuse-1', ip: '10.244.2.30' });
    assert.notEqual(second.containerId, first.containerId);
    const reply = await lab.exec(gateway, [process.execPath, '-e', TCP_CONNECT_SCRIPT, second.ip, '9'], { check: false });
    assert.equal(reply.stdout.trim(), 'ECONNREFUSED', 'the new pod should answer (with its kernel RST) on the reused IP');
    const reservation = fs.readFileSync(path.join(lab.cniDir(nodeB), 'networks', 'lab', '10.244.2.30'), 'utf8');
    assert.equal(reservation, `${second.containerId}\r\neth0`);
  });

  it('refuses root-namespace commands and other labs\' namespaces through its guard', () => {
    assert.throws(() => lab.assertCommand(['ip', 'link', 'set', 'eth0', 'mtu', '1400']), LabGuardError);
    assert.throws(() => lab.assertCommand(['ip', 'link', 'set', 'eth0', 'netns', nodeA.netns]), LabGuardError);
    assert.throws(() => lab.assertCommand(['ip', '-n', `${PREFIX}-00000000-node-a`, 'link']), LabGuardError);
    assert.throws(() => lab.assertCommand(['iptables', '-F']), LabGuardError);
    assert.doesNotThrow(() => lab.assertCommand(['ip', '-n', nodeA.netns, 'link', 'set', 'eth0', 'up']));
  });

  it('leaves live labs alone when sweeping stale ones', async () => {
    const swept = await Lab.sweepStale(PREFIX);
    assert.equal(swept.filter((name) => name.startsWith(`${PREFIX}-${lab.id}-`)).length, 0);
    assert.equal((await labNamespacesAlive(PREFIX, lab.id)).length, lab.namespaces.length);
  });
});

describe('lab teardown', { skip }, () => {
  it('destroys everything even when the test throws in the middle, and destroy is idempotent', async () => {
    const lab = await Lab.create({ prefix: PREFIX });
    let sleeper: ReturnType<Lab['spawn']> | undefined;
    await assert.rejects(async () => {
      try {
        const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
        const pod = await lab.addPod(node, { name: 'web-0', ip: '10.244.1.10' });
        sleeper = lab.spawn(pod, 'sleep', ['300']);
        throw new Error('boom in the middle of a test');
      } finally {
        await lab.destroy();
      }
    }, /boom/);
    assert.deepEqual(await labNamespacesAlive(PREFIX, lab.id), []);
    assert.equal(fs.existsSync(lab.dir), false);
    assert.ok(sleeper?.pid !== undefined && !pidAlive(sleeper.pid), 'spawned process should be dead');
    await lab.destroy();
  });

  it('rolls back a node whose creation fails half-way and names the failing command', async (t) => {
    const lab = await Lab.create({ prefix: PREFIX });
    t.after(() => lab.destroy());
    await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    // Same underlay address: the fabric's route add fails after the veth exists.
    await assert.rejects(lab.addNode('node-b', { underlayIp: '10.210.0.11', podCidr: '10.244.2.0/24' }), /building node node-b failed: `ip -n \S+-fabric route add 10\.210\.0\.11\/32/);
    assert.equal(lab.namespaces.some((name) => name.endsWith('-node-b')), false);
    assert.deepEqual((await labNamespacesAlive(PREFIX, lab.id)).sort(), [...lab.namespaces].sort());
    const fabricLinks = await lab.exec(lab.fabric!, ['ip', '-o', 'link', 'show']);
    assert.doesNotMatch(fabricLinks.stdout, /to-node-b|rp[0-9a-f]{8}/);
    await assert.rejects(lab.addNode('node-c', { underlayIp: '10.210.0.999', podCidr: '10.244.3.0/24' }), /not an IPv4 address/);
  });

  it('cleans up on SIGTERM through its exit handlers, and the owner still dies of the signal', async (t) => {
    const child = spawnGroup(process.execPath, ['-e', ownerScript(PREFIX, 'idle')]);
    t.after(() => terminateGroup(child, 500));
    const ready = JSON.parse(await waitForOutput(child, /^\{/, 30_000)) as OwnerReady;
    assert.ok((await labNamespacesAlive(PREFIX, ready.id)).length >= 3);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGTERM');
    assert.equal(await exited, 'SIGTERM');
    assert.deepEqual(await labNamespacesAlive(PREFIX, ready.id), []);
    assert.equal(fs.existsSync(ready.dir), false);
    await eventually(() => !pidAlive(ready.sleeper), 'the spawned sleeper to die');
  });

  it('cleans up when its owner dies of an uncaught exception, without swallowing it', async (t) => {
    const child = spawnGroup(process.execPath, ['-e', ownerScript(PREFIX, 'throw')]);
    t.after(() => terminateGroup(child, 500));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = JSON.parse(await waitForOutput(child, /^\{/, 30_000)) as OwnerReady;
    assert.equal(await exited, 1, 'the uncaught exception should still end the process with code 1');
    assert.deepEqual(await labNamespacesAlive(PREFIX, ready.id), []);
    assert.equal(fs.existsSync(ready.dir), false);
    await eventually(() => !pidAlive(ready.sleeper), 'the spawned sleeper to die');
  });

  it('sweepStale removes the namespaces, processes and directory of a SIGKILLed owner', async () => {
    const child = spawnGroup(process.execPath, ['-e', ownerScript('rstsweep', 'idle')]);
    let ready: OwnerReady | undefined;
    try {
      ready = JSON.parse(await waitForOutput(child, /^\{/, 30_000)) as OwnerReady;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const leftover = await labNamespacesAlive('rstsweep', ready.id);
      assert.ok(leftover.length >= 3, 'SIGKILL gives the owner no chance to clean up');
      const swept = await Lab.sweepStale('rstsweep');
      // A concurrent run's sweep may have taken some first; what counts is that none is left.
      for (const name of swept.filter((candidate) => candidate.includes(ready!.id))) assert.ok(leftover.includes(name), `swept ${name}, which was not this owner's`);
      assert.deepEqual(await labNamespacesAlive('rstsweep', ready.id), []);
      assert.equal(fs.existsSync(ready.dir), false);
      await eventually(() => !pidAlive(ready!.sleeper), 'the spawned sleeper to die');
    } finally {
      await terminateGroup(child, 500);
      if (ready) await Lab.sweepStale('rstsweep');
    }
  });
});

interface OwnerReady {
  readonly id: string;
  readonly dir: string;
  readonly sleeper: number;
}

/**
 * A separate process that owns a lab with a node, a pod and a sleeping process,
 * prints OwnerReady as JSON, then idles or throws an uncaught exception.
 */
function ownerScript(prefix: string, then: 'idle' | 'throw'): string {
  return `
const { Lab } = require(${JSON.stringify(LAB_JS)});
(async () => {
  const lab = await Lab.create({ prefix: ${JSON.stringify(prefix)} });
  const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
  const pod = await lab.addPod(node, { name: 'web-0', ip: '10.244.1.10' });
  const sleeper = lab.spawn(pod, 'sleep', ['300']);
  console.log(JSON.stringify({ id: lab.id, dir: lab.dir, sleeper: sleeper.pid }));
  ${then === 'throw' ? "setTimeout(() => { throw new Error('owner crashed'); }, 100);" : 'setInterval(() => {}, 1000);'}
})().catch((err) => { console.error(err); process.exit(1); });`;
}
