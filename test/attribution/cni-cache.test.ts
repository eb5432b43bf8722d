import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { CniCacheWatcher, parseCniCacheDirArgument } from '../../src/attribution/cni-cache';
import { IpOwnershipMap } from '../../src/attribution/ip-map';
import { eventually, podCniFiles, removeCniFiles, writeCniFiles } from './cni-fixtures';

/** A logger whose lines the test can read. */
function recordingLogger(): { log: pino.Logger; lines: Array<{ level: number; msg: string; file?: string }> } {
  const lines: Array<{ level: number; msg: string; file?: string }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const WARN = 40;

describe('CniCacheWatcher with real files', () => {
  let root: string;
  let dir: string;
  let controller: AbortController;
  let watcher: CniCacheWatcher | null;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-cni-'));
    dir = path.join(root, 'cni');
    fs.mkdirSync(path.join(dir, 'results'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'networks', 'lab'), { recursive: true });
    controller = new AbortController();
    watcher = null;
  });

  afterEach(async () => {
    controller.abort();
    await watcher?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  function startWatcher(options: { dirs?: string[]; resyncMs?: number; nodeOfDir?: Map<string, string> } = {}) {
    const ipMap = new IpOwnershipMap({ leadMs: 0 });
    const logger = recordingLogger();
    watcher = new CniCacheWatcher({ dirs: options.dirs ?? [dir], nodeName: 'node-a', nodeOfDir: options.nodeOfDir, ipMap, log: logger.log, resyncMs: options.resyncMs ?? 3_600_000 });
    return { ipMap, lines: logger.lines, started: watcher.start(controller.signal), watcher };
  }

  it('reads the pods already there at start: identity, node, and the time the CNI wrote them', async () => {
    const written = writeCniFiles(dir, podCniFiles({ name: 'web-0', ip: '10.244.1.10', ip6: 'fd00:244:1::10' }));
    const writtenAtMs = fs.statSync(written[0]).mtimeMs;
    const { ipMap, started, watcher: cni } = startWatcher();
    await started;
    const owner = ipMap.lookup('10.244.1.10', Date.now());
    assert.deepEqual(owner, { kind: 'pod', key: 'uid-web-0', pod: { namespace: 'shop', name: 'web-0', uid: 'uid-web-0' }, node: 'node-a', service: null });
    assert.equal(ipMap.lookup('fd00:244:1::10', Date.now())?.pod?.name, 'web-0');
    assert.ok(Math.abs(ipMap.history('10.244.1.10')[0].fromMs - writtenAtMs) < 1_000, 'held since the files were written, not since we read them');
    // A lookup in the very ms of the write (Date.now() is a whole ms, the mtime has ns digits) finds it too.
    assert.equal(ipMap.lookup('10.244.1.10', Math.floor(Math.min(...written.map((file) => fs.statSync(file).mtimeMs))))?.pod?.name, 'web-0');
    const facts = cni.podNetwork('uid-web-0');
    assert.equal(facts?.netnsPath, '/var/run/netns/cni-web-0');
    assert.equal(facts?.hostIfname, 'veth-web-0');
    assert.equal(facts?.containerId.length, 64);
    assert.equal(cni.podNetworkByContainerId(facts!.containerId)?.name, 'web-0');
    assert.equal(cni.addresses, 2);
  });

  it('picks up a pod added after start through inotify, and releases it when its files go', async () => {
    const { ipMap, started, watcher: cni } = startWatcher();
    await started;
    const files = podCniFiles({ name: 'late-0', ip: '10.244.1.20' });
    writeCniFiles(dir, files);
    await eventually(() => ipMap.lookup('10.244.1.20', Date.now()) !== null, 3_000, 'the late pod');
    assert.equal(cni.pods().length, 1);
    const heldAtMs = Date.now();
    removeCniFiles(dir, files);
    await eventually(() => ipMap.lookup('10.244.1.20', Date.now()) === null, 3_000, 'the release');
    assert.equal(ipMap.lookup('10.244.1.20', heldAtMs)?.pod?.name, 'late-0', 'history keeps who held it');
    assert.equal(cni.podNetwork('uid-late-0'), null);
  });

  it('IP reuse: pod A then pod B on one address; each time has its own owner', async () => {
    const { ipMap, started } = startWatcher();
    await started;
    const a = podCniFiles({ name: 'a', ip: '10.244.1.30' });
    writeCniFiles(dir, a);
    await eventually(() => ipMap.lookup('10.244.1.30', Date.now())?.pod?.name === 'a', 3_000, 'pod a');
    const t1 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 30));
    removeCniFiles(dir, a);
    writeCniFiles(dir, podCniFiles({ name: 'b', ip: '10.244.1.30' }));
    await eventually(() => ipMap.lookup('10.244.1.30', Date.now())?.pod?.name === 'b', 3_000, 'pod b');
    assert.equal(ipMap.lookup('10.244.1.30', t1)?.pod?.name, 'a');
    assert.equal(ipMap.history('10.244.1.30').length, 2);
  });

  it('a half-written file gets one warning (not one per resync) and is picked up once complete', async () => {
    const { ipMap, lines, started, watcher: cni } = startWatcher();
    await started;
    const result = podCniFiles({ name: 'slow-0', ip: '10.244.1.40' }).find((file) => file.relativePath.startsWith('results/'))!;
    const file = path.join(dir, result.relativePath);
    fs.writeFileSync(file, result.content.slice(0, 50));
    await eventually(() => lines.some((line) => line.level === WARN && line.file === file), 3_000, 'the warning');
    cni.resync();
    cni.resync();
    assert.equal(lines.filter((line) => line.level === WARN && line.file === file).length, 1);
    assert.equal(cni.malformedFiles, 1);
    assert.equal(ipMap.lookup('10.244.1.40', Date.now()), null);
    fs.appendFileSync(file, result.content.slice(50));
    await eventually(() => ipMap.lookup('10.244.1.40', Date.now())?.pod?.name === 'slow-0', 3_000, 'the completed file');
    assert.equal(cni.malformedFiles, 0);
    assert.ok(lines.some((line) => line.msg === 'CNI file parses now' && line.file === file));
  });

  it('a corrupt file does not stop the others', async () => {
    fs.writeFileSync(path.join(dir, 'results', 'lab-garbage-eth0'), '\u0000\u0001 not json');
    fs.writeFileSync(path.join(dir, 'networks', 'lab', '10.244.1.99'), '');
    writeCniFiles(dir, podCniFiles({ name: 'ok-0', ip: '10.244.1.50' }));
    const { ipMap, lines, started } = startWatcher();
    await started;
    assert.equal(ipMap.lookup('10.244.1.50', Date.now())?.pod?.name, 'ok-0');
    assert.equal(ipMap.lookup('10.244.1.99', Date.now()), null);
    assert.equal(lines.filter((line) => line.level === WARN).length, 2);
  });

  it('a pod with a second network (Multus net1) claims both addresses; its facts are those of eth0', async () => {
    const containerId = 'aa'.repeat(32);
    writeCniFiles(dir, podCniFiles({ name: 'multi-1', ip: '10.244.1.12', containerId }));
    const primary = JSON.parse(fs.readFileSync(path.join(dir, 'results', `lab-${containerId}-eth0`), 'utf8'));
    const secondary = { ...primary, networkName: 'storage', ifName: 'net1', result: { ...primary.result, ips: [{ address: '192.168.50.12/24' }], interfaces: [{ name: 'net1-host', sandbox: '' }] } };
    fs.writeFileSync(path.join(dir, 'results', `storage-${containerId}-net1`), JSON.stringify(secondary));
    const { ipMap, started, watcher: cni } = startWatcher();
    await started;
    assert.equal(ipMap.lookup('10.244.1.12', Date.now())?.pod?.name, 'multi-1');
    assert.equal(ipMap.lookup('192.168.50.12', Date.now())?.pod?.name, 'multi-1');
    assert.equal(cni.podNetwork('uid-multi-1')?.ifName, 'eth0');
    assert.equal(cni.podNetwork('uid-multi-1')?.hostIfname, 'veth-multi-1');
  });

  it('last_reserved_ip and lock files are not addresses', async () => {
    writeCniFiles(dir, podCniFiles({ name: 'web-1', ip: '10.244.1.11' }));
    fs.writeFileSync(path.join(dir, 'networks', 'lab', 'lock'), '');
    const { lines, started, watcher: cni } = startWatcher();
    await started;
    assert.equal(cni.addresses, 1);
    assert.equal(lines.filter((line) => line.level === WARN).length, 0);
  });

  it('a reservation alone (no cached result) marks the address as a pod of this node, pod unknown; its result file then names it', async () => {
    const { ipMap, started } = startWatcher();
    await started;
    // A network directory created after start, like a second CNI network.
    const networkDir = path.join(dir, 'networks', 'second');
    fs.mkdirSync(networkDir);
    await new Promise((resolve) => setTimeout(resolve, 50));
    fs.writeFileSync(path.join(networkDir, '10.244.1.60'), `${'ef'.repeat(32)}\r\neth1`);
    await eventually(() => ipMap.lookup('10.244.1.60', Date.now()) !== null, 3_000, 'the reservation');
    const sandboxOnly = ipMap.lookup('10.244.1.60', Date.now());
    assert.equal(sandboxOnly?.kind, 'pod');
    assert.equal(sandboxOnly?.pod, null);
    assert.equal(sandboxOnly?.node, 'node-a');
    const files = podCniFiles({ name: 'multi-0', ip: '10.244.1.60', containerId: 'ef'.repeat(32) }).filter((file) => file.relativePath.startsWith('results/'));
    writeCniFiles(dir, files);
    await eventually(() => ipMap.lookup('10.244.1.60', Date.now())?.pod?.name === 'multi-0', 3_000, 'the named pod');
  });

  it('a stale result of a pod whose CNI DEL never ran loses to the newer holder of the address', async () => {
    const stale = writeCniFiles(dir, podCniFiles({ name: 'dead-0', ip: '10.244.1.70' }).filter((file) => file.relativePath.startsWith('results/')));
    const past = new Date(Date.now() - 3_600_000);
    for (const file of stale) fs.utimesSync(file, past, past);
    writeCniFiles(dir, podCniFiles({ name: 'live-0', ip: '10.244.1.70' }));
    const { ipMap, started } = startWatcher();
    await started;
    assert.equal(ipMap.lookup('10.244.1.70', Date.now())?.pod?.name, 'live-0');
  });

  it('the periodic resync finds a directory that did not exist at start, and several directories are watched', async () => {
    const second = path.join(root, 'cni-2');
    const { ipMap, started } = startWatcher({ dirs: [dir, second], resyncMs: 100 });
    await started;
    writeCniFiles(second, podCniFiles({ name: 'other-0', ip: '10.244.1.80' }));
    writeCniFiles(dir, podCniFiles({ name: 'first-0', ip: '10.244.1.81' }));
    await eventually(() => ipMap.lookup('10.244.1.80', Date.now()) !== null, 3_000, 'the late directory');
    await eventually(() => ipMap.lookup('10.244.1.81', Date.now()) !== null, 3_000, 'the first directory');
    // Once found, the new directory is watched: a removal shows within the next resync at most.
    removeCniFiles(second, podCniFiles({ name: 'other-0', ip: '10.244.1.80' }));
    await eventually(() => ipMap.lookup('10.244.1.80', Date.now()) === null, 3_000, 'the removal');
  });

  it('results/ and networks/ created after start (a fresh node) are noticed through inotify, without waiting for the resync', async () => {
    fs.rmSync(path.join(dir, 'results'), { recursive: true });
    fs.rmSync(path.join(dir, 'networks'), { recursive: true });
    const { ipMap, started } = startWatcher();
    await started;
    writeCniFiles(dir, podCniFiles({ name: 'first-pod', ip: '10.244.1.85' }));
    await eventually(() => ipMap.lookup('10.244.1.85', Date.now())?.pod?.name === 'first-pod', 3_000, 'the first pod of the node');
  });

  it('results/ removed and made again is watched again: its new pods are noticed through inotify', async () => {
    writeCniFiles(dir, podCniFiles({ name: 'before-0', ip: '10.244.1.86' }));
    const { ipMap, started } = startWatcher();
    await started;
    fs.rmSync(path.join(dir, 'results'), { recursive: true });
    await eventually(() => ipMap.lookup('10.244.1.86', Date.now())?.pod === null, 3_000, 'the result file gone (the reservation stays)');
    fs.mkdirSync(path.join(dir, 'results'));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the new directory is watched, then a pod arrives
    writeCniFiles(dir, podCniFiles({ name: 'after-0', ip: '10.244.1.87' }));
    await eventually(() => ipMap.lookup('10.244.1.87', Date.now())?.pod?.name === 'after-0', 3_000, 'the pod in the new results/');
  });

  it("another node's directory (NODE=DIR) names its pods with that node", async () => {
    const other = path.join(root, 'node-b-cni');
    writeCniFiles(other, podCniFiles({ name: 'remote-0', ip: '10.244.2.20' }));
    writeCniFiles(dir, podCniFiles({ name: 'local-0', ip: '10.244.1.21' }));
    const { ipMap, started } = startWatcher({ dirs: [dir, `${other}/`], nodeOfDir: new Map([[other, 'node-b']]) });
    await started;
    assert.equal(ipMap.lookup('10.244.2.20', Date.now())?.node, 'node-b');
    assert.equal(ipMap.lookup('10.244.1.21', Date.now())?.node, 'node-a');
  });

  it('the resync alone (no inotify event) drops records of files that are gone', async () => {
    const files = podCniFiles({ name: 'gone-0', ip: '10.244.1.90' });
    writeCniFiles(dir, files);
    const { ipMap, started, watcher: cni } = startWatcher();
    await started;
    await cni.stop(); // no more events
    removeCniFiles(dir, files);
    assert.equal(ipMap.lookup('10.244.1.90', Date.now())?.pod?.name, 'gone-0');
    cni.resync();
    assert.equal(ipMap.lookup('10.244.1.90', Date.now()), null);
  });
});

describe('--cni-cache-dir values', () => {
  it('DIR is this node; NODE=/abs/dir is another node; anything else is a plain path', () => {
    assert.deepEqual(parseCniCacheDirArgument('/var/lib/cni'), { dir: '/var/lib/cni', nodeName: null });
    assert.deepEqual(parseCniCacheDirArgument('node-b=/tmp/lab/cni/node-b'), { dir: '/tmp/lab/cni/node-b', nodeName: 'node-b' });
    assert.deepEqual(parseCniCacheDirArgument('ip-10-0-1-5.ec2.internal=/copies/cni'), { dir: '/copies/cni', nodeName: 'ip-10-0-1-5.ec2.internal' });
    assert.deepEqual(parseCniCacheDirArgument('relative=dir'), { dir: 'relative=dir', nodeName: null });
    assert.deepEqual(parseCniCacheDirArgument('/odd/path=/x'), { dir: '/odd/path=/x', nodeName: null });
    assert.deepEqual(parseCniCacheDirArgument('Node_B=/x'), { dir: 'Node_B=/x', nodeName: null });
  });
});
