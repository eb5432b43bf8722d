import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import pino from 'pino';
import { IpOwnershipMap } from '../../../src/attribution/ip-map';
import { inClusterConfigAvailable, KubeConfigError } from '../../../src/attribution/kubernetes/kube-config';
import { KubeWatcher, type KubeWatcherOptions } from '../../../src/attribution/kubernetes/kube-watcher';
import type { ClusterChange } from '../../../src/attribution/kubernetes/types';
import { KubeApiServer, networkPolicyJson, nodeJson, podJson, serviceJson } from '../../support/kube-api-server';

/**
 * The real @kubernetes/client-node (KubeConfig, Watch) against the test API
 * server over real HTTP on 127.0.0.1: every behaviour here goes through list,
 * chunked watch streams, resourceVersions and 410s as a real API server sends them.
 */

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A logger whose JSON lines the test can read. */
function capturedLogger(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('KubeWatcher against the test API server', () => {
  let dir: string;
  let server: KubeApiServer;
  let kubeconfig: string;
  const running: KubeWatcher[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-kube-'));
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((watcher) => watcher.stop()));
    await server?.stop();
  });

  async function startServer(options: ConstructorParameters<typeof KubeApiServer>[0] = {}): Promise<void> {
    server = new KubeApiServer(options);
    await server.start();
    kubeconfig = server.writeKubeconfig(dir);
  }

  async function startWatcher(overrides: Partial<KubeWatcherOptions> = {}): Promise<{ watcher: KubeWatcher; ipMap: IpOwnershipMap; changes: ClusterChange[]; lines: Array<{ level: number; msg: string }> }> {
    const ipMap = new IpOwnershipMap();
    const { log, lines } = capturedLogger();
    const watcher = new KubeWatcher({ kubeconfigPath: kubeconfig, scope: 'cluster', nodeName: 'node-a', ipMap, log, retryInitialMs: 50, retryMaxMs: 200, staleAfterMs: 400, ...overrides });
    const changes: ClusterChange[] = [];
    watcher.on('change', (change) => changes.push(change));
    running.push(watcher);
    await watcher.start(new AbortController().signal);
    return { watcher, ipMap, changes, lines };
  }

  test('initial list: pods, nodes and services land in the view and the ip map from their start times', async () => {
    await startServer();
    const startedAt = new Date(Date.now() - 30_000);
    const pod = server.upsert('pods', podJson({ namespace: 'shop', name: 'reviews-7d9-abcde', nodeName: 'node-b', ips: ['10.244.2.20'], startedAt, labels: { app: 'reviews' } }));
    const local = server.upsert('pods', podJson({ namespace: 'shop', name: 'productpage-5f8-fghij', nodeName: 'node-a', ips: ['10.244.1.20'], startedAt }));
    server.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12', podCidr: '10.244.2.0/24' }));
    server.upsert('services', serviceJson({ namespace: 'shop', name: 'reviews', clusterIp: '10.96.0.20', ports: [{ port: 80, targetPort: 'http' }], selector: { app: 'reviews' } }));

    const { watcher, ipMap } = await startWatcher();
    assert.equal(watcher.synced, true);
    assert.equal(watcher.state.synced, true);
    const record = watcher.state.podByIp('10.244.2.20', Date.now());
    assert.equal(record?.uid, pod.metadata.uid);
    assert.equal(record?.name, 'reviews-7d9-abcde');
    assert.equal(ipMap.history('10.244.2.20')[0].fromMs, startedAt.getTime(), 'claimed from status.startTime');
    assert.equal(watcher.state.podByIp('10.244.2.20', startedAt.getTime() - 60_000), null, 'not before it held the address');
    assert.equal(watcher.state.nodeByAddress('10.210.0.12')?.name, 'node-b');
    assert.equal(watcher.state.nodeForPodIp('10.244.2.99')?.name, 'node-b');
    assert.equal(ipMap.lookup('10.210.0.12', Date.now())?.key, 'node/node-b');
    assert.equal(watcher.state.serviceByIp('10.96.0.20')?.name, 'reviews');
    assert.deepEqual(ipMap.lookup('10.96.0.20', Date.now())?.service, { namespace: 'shop', name: 'reviews' });
    assert.deepEqual(watcher.state.servicesSelecting(record!).map((s) => s.name), ['reviews']);
    // Container IDs name local processes' cgroups: kept for this node's pods only.
    const containerId = (local.status.containerStatuses[0].containerID as string).slice('containerd://'.length);
    assert.equal(watcher.state.podByContainerId(containerId)?.container.name, 'app');
    assert.equal(watcher.state.podByContainerId(containerId)?.pod.uid, local.metadata.uid);
    const remoteId = (pod.status.containerStatuses[0].containerID as string).slice('containerd://'.length);
    assert.equal(watcher.state.podByContainerId(remoteId), null);
    assert.equal(record?.containers[0].containerId, null);
    assert.equal(record?.containers[0].runtime, 'containerd');
  });

  test('pod add, update and delete via the watch: view, change events and ip tenures with times', async () => {
    await startServer();
    const { watcher, ipMap, changes } = await startWatcher();
    const beforeAdd = Date.now();
    const added = server.upsert('pods', podJson({ name: 'web-1', nodeName: 'node-a', ips: [] }));
    await waitUntil(() => watcher.state.podByUid(added.metadata.uid) !== null, 'the pending pod');
    assert.deepEqual(watcher.state.podByUid(added.metadata.uid)?.ips, []);

    // It gets its address: claimed from status.startTime (at most the event's arrival).
    const running1 = podJson({ name: 'web-1', uid: added.metadata.uid, nodeName: 'node-a', ips: ['10.244.1.7'], startedAt: new Date(beforeAdd) });
    server.upsert('pods', running1);
    await waitUntil(() => watcher.state.podByIp('10.244.1.7', Date.now()) !== null, 'the running pod');
    assert.equal(ipMap.history('10.244.1.7')[0].fromMs, beforeAdd);

    // Deleted: the tenure ends when the DELETED event arrives; the past still answers.
    const beforeDelete = Date.now();
    server.remove('pods', 'default', 'web-1');
    await waitUntil(() => ipMap.history('10.244.1.7')[0].untilMs !== null, 'the release');
    const releasedAt = ipMap.history('10.244.1.7')[0].untilMs!;
    assert.ok(releasedAt >= beforeDelete && releasedAt <= Date.now());
    assert.equal(watcher.state.podByIp('10.244.1.7', Date.now() + 1), null);
    assert.equal(watcher.state.podByIp('10.244.1.7', releasedAt - 1)?.name, 'web-1', 'a packet from before the deletion is still the deleted pod');

    // The address is reused by another pod: both answers hold, each for its time.
    const reused = server.upsert('pods', podJson({ name: 'web-2', nodeName: 'node-a', ips: ['10.244.1.7'], startedAt: new Date() }));
    await waitUntil(() => watcher.state.podByIp('10.244.1.7', Date.now())?.uid === reused.metadata.uid, 'the new owner');
    assert.equal(watcher.state.podByIp('10.244.1.7', releasedAt - 1)?.name, 'web-1');

    assert.deepEqual(
      changes.filter((c) => c.kind === 'pod').map((c) => `${c.type} ${c.record.name}`),
      ['ADDED web-1', 'MODIFIED web-1', 'DELETED web-1', 'ADDED web-2'],
    );
  });

  test('a pod that finishes (Succeeded) releases its address; a restart shows in the change event', async () => {
    await startServer();
    const { watcher, ipMap, changes } = await startWatcher();
    const pod = server.upsert('pods', podJson({ name: 'job-1', ips: ['10.244.1.30'] }));
    await waitUntil(() => watcher.state.podByIp('10.244.1.30', Date.now()) !== null, 'the pod');
    server.upsert('pods', podJson({ name: 'job-1', uid: pod.metadata.uid, ips: ['10.244.1.30'], containers: [{ name: 'app', restartCount: 1, lastTerminationReason: 'OOMKilled', memoryLimit: '64Mi' }] }));
    await waitUntil(() => changes.some((c) => c.kind === 'pod' && c.type === 'MODIFIED'), 'the restart');
    const restarted = changes.find((c) => c.kind === 'pod' && c.type === 'MODIFIED')!.record as { containers: Array<{ restartCount: number; lastTermination: { reason: string } | null; memoryLimitBytes: number | null }> };
    assert.equal(restarted.containers[0].restartCount, 1);
    assert.equal(restarted.containers[0].lastTermination?.reason, 'OOMKilled');
    assert.equal(restarted.containers[0].memoryLimitBytes, 64 * 2 ** 20);
    server.upsert('pods', podJson({ name: 'job-1', uid: pod.metadata.uid, ips: ['10.244.1.30'], phase: 'Succeeded' }));
    await waitUntil(() => ipMap.history('10.244.1.30')[0].untilMs !== null, 'the release');
    assert.equal(watcher.state.podByUid(pod.metadata.uid)?.phase, 'Succeeded', 'the object itself stays');
  });

  test('node and service changes: addresses move, deletions release', async () => {
    await startServer();
    server.upsert('nodes', nodeJson({ name: 'node-c', internalIp: '10.210.0.13', podCidr: '10.244.3.0/24' }));
    server.upsert('services', serviceJson({ name: 'api', clusterIp: '10.96.0.30', ports: [{ port: 443, targetPort: 8443 }] }));
    const { watcher, ipMap } = await startWatcher();
    server.upsert('nodes', nodeJson({ name: 'node-c', internalIp: '10.210.0.23', podCidr: '10.244.30.0/24' }));
    await waitUntil(() => watcher.state.nodeByAddress('10.210.0.23') !== null, 'the new node address');
    assert.equal(watcher.state.nodeByAddress('10.210.0.13'), null);
    assert.notEqual(ipMap.history('10.210.0.13')[0].untilMs, null);
    assert.equal(watcher.state.nodeForPodIp('10.244.30.5')?.name, 'node-c');
    assert.equal(watcher.state.nodeForPodIp('10.244.3.5'), null);

    server.upsert('services', serviceJson({ name: 'api', clusterIp: '10.96.0.30', ports: [{ port: 443, targetPort: 9443 }] }));
    await waitUntil(() => watcher.state.serviceByIp('10.96.0.30')?.ports[0].targetPort === 9443, 'the new target port');
    server.remove('services', 'default', 'api');
    server.remove('nodes', null, 'node-c');
    await waitUntil(() => watcher.state.serviceByIp('10.96.0.30') === null && watcher.state.node('node-c') === null, 'the deletions');
    assert.equal(ipMap.lookup('10.96.0.30', Date.now() + 1), null);
    assert.equal(ipMap.lookup('10.210.0.23', Date.now() + 1), null);
  });

  for (const expiredWatch of ['event', 'http'] as const) {
    test(`410 Gone (${expiredWatch === 'event' ? 'ERROR event with a Status' : 'HTTP status'}) → re-list: nothing lost, deletions in the gap applied`, async () => {
      await startServer({ expiredWatch });
      const kept = server.upsert('pods', podJson({ name: 'kept', ips: ['10.244.1.40'] }));
      server.upsert('pods', podJson({ name: 'doomed', ips: ['10.244.1.41'] }));
      const { watcher, ipMap, changes } = await startWatcher();
      await waitUntil(() => server.openWatches === 4, 'four open watches');
      const listsBefore = server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length;

      // A gap the watcher cannot replay: its watch ends, changes happen, history is compacted.
      server.closeWatches();
      server.remove('pods', 'default', 'doomed');
      const born = server.upsert('pods', podJson({ name: 'born', ips: ['10.244.1.42'] }));
      server.expireHistory();

      await waitUntil(() => watcher.state.podByUid(born.metadata.uid) !== null, 'the re-list');
      assert.ok(server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length > listsBefore, 'pods were listed again');
      assert.equal(watcher.state.podByIp('10.244.1.40', Date.now())?.uid, kept.metadata.uid, 'unchanged pods kept');
      assert.equal(ipMap.history('10.244.1.40').length, 1, 'and their tenure untouched');
      assert.equal(watcher.state.podByIp('10.244.1.41', Date.now() + 1), null, 'the pod deleted in the gap is gone');
      assert.notEqual(ipMap.history('10.244.1.41')[0].untilMs, null);
      assert.ok(changes.some((c) => c.kind === 'pod' && c.type === 'DELETED' && c.record.name === 'doomed'));
      assert.equal(watcher.stale, false);
    });
  }

  test('410 as an ERROR event on an open watch (the server compacted under it) → re-list', async () => {
    await startServer();
    const { watcher } = await startWatcher();
    await waitUntil(() => server.openWatches === 4, 'four open watches');
    const listsBefore = server.requests.filter((r) => r.query.watch === undefined).length;
    server.expireHistory('error');
    const late = server.upsert('pods', podJson({ name: 'late', ips: ['10.244.1.43'] }));
    await waitUntil(() => watcher.state.podByUid(late.metadata.uid) !== null, 'the pod after the re-list');
    await waitUntil(() => server.requests.filter((r) => r.query.watch === undefined).length >= listsBefore + 4, 'every resource re-listed');
    await waitUntil(() => server.openWatches === 4, 'four watches again');
    assert.equal(watcher.stale, false, 'a 410 is no outage');
  });

  test('bookmarks advance the resourceVersion a re-watch starts from; a normal watch end re-watches without a list', async () => {
    await startServer();
    const { watcher } = await startWatcher();
    await waitUntil(() => server.openWatches === 4, 'four open watches');
    server.upsert('nodes', nodeJson({ name: 'node-x', internalIp: '10.210.0.99' })); // moves the revision past the pods watch
    server.bookmark();
    const bookmarked = String(server.resourceVersion);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const listsBefore = server.requests.filter((r) => r.query.watch === undefined).length;
    server.closeWatches();
    await waitUntil(() => server.openWatches === 4, 'the re-watches');
    const podWatches = server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === 'true');
    assert.equal(podWatches.at(-1)?.query.resourceVersion, bookmarked);
    assert.equal(podWatches.at(-1)?.query.allowWatchBookmarks, 'true');
    assert.equal(server.requests.filter((r) => r.query.watch === undefined).length, listsBefore, 'no re-list');
    assert.equal(watcher.stale, false);
  });

  test('API server restart and outage: stale after staleAfterMs, last good map kept, one warning, recovery clears stale', async () => {
    await startServer();
    const pod = server.upsert('pods', podJson({ name: 'survivor', ips: ['10.244.1.50'] }));
    server.upsert('pods', podJson({ name: 'casualty', ips: ['10.244.1.51'] }));
    const { watcher, lines } = await startWatcher();
    await server.stop();
    await waitUntil(() => watcher.stale, 'stale', 3_000);
    assert.equal(watcher.state.stale, true);
    assert.equal(watcher.state.podByIp('10.244.1.50', Date.now())?.uid, pod.metadata.uid, 'the last good state still answers');
    await new Promise((resolve) => setTimeout(resolve, 500)); // several retries while down

    // Changes while it was down, then it comes back on the same port.
    server.remove('pods', 'default', 'casualty');
    const newcomer = server.upsert('pods', podJson({ name: 'newcomer', ips: ['10.244.1.52'] }));
    await server.start();
    await waitUntil(() => !watcher.stale && watcher.state.podByUid(newcomer.metadata.uid) !== null, 'recovery', 5_000);
    assert.equal(watcher.state.podByIp('10.244.1.51', Date.now() + 1), null, 'the deletion during the outage applied');
    assert.equal(watcher.state.podByIp('10.244.1.50', Date.now())?.name, 'survivor');
    const warnings = lines.filter((line) => line.level === 40);
    assert.equal(warnings.length, 1, `one warning per outage: ${JSON.stringify(warnings)}`);
    assert.match(warnings[0].msg, /unreachable/);
    assert.equal(lines.filter((line) => line.msg.includes('reachable again')).length, 1);
  });

  test('start() resolves without a sync when the API server is down, and syncs once it is up', async () => {
    await startServer();
    server.upsert('pods', podJson({ name: 'early', ips: ['10.244.1.60'] }));
    await server.stop();
    const startedMs = Date.now();
    const { watcher } = await startWatcher({ firstSyncTimeoutMs: 300 });
    assert.ok(Date.now() - startedMs < 2_000);
    assert.equal(watcher.synced, false);
    await server.start();
    await waitUntil(() => watcher.synced, 'the first sync');
    assert.equal(watcher.state.podByIp('10.244.1.60', Date.now())?.name, 'early');
  });

  test('node scope: the field selector shows only this node\'s pods, cluster-wide nodes and services', async () => {
    await startServer();
    server.upsert('pods', podJson({ name: 'mine', nodeName: 'node-a', ips: ['10.244.1.70'] }));
    server.upsert('pods', podJson({ name: 'theirs', nodeName: 'node-b', ips: ['10.244.2.70'] }));
    server.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12' }));
    const { watcher } = await startWatcher({ scope: 'node', nodeName: 'node-a' });
    assert.equal(watcher.state.podByIp('10.244.1.70', Date.now())?.name, 'mine');
    assert.equal(watcher.state.podByIp('10.244.2.70', Date.now()), null);
    assert.equal(watcher.state.nodeByAddress('10.210.0.12')?.name, 'node-b');
    server.upsert('pods', podJson({ name: 'theirs-2', nodeName: 'node-b', ips: ['10.244.2.71'] }));
    const later = server.upsert('pods', podJson({ name: 'mine-2', nodeName: 'node-a', ips: ['10.244.1.71'] }));
    await waitUntil(() => watcher.state.podByUid(later.metadata.uid) !== null, 'the second local pod');
    assert.equal(watcher.state.podByIp('10.244.2.71', Date.now()), null);
    assert.deepEqual(watcher.state.podsOnNode('node-a').map((p) => p.name).sort(), ['mine', 'mine-2']);
    for (const request of server.requests.filter((r) => r.path === '/api/v1/pods')) assert.equal(request.query.fieldSelector, 'spec.nodeName=node-a');
  });

  test('NetworkPolicy podSelector with matchExpressions, and service selectors, select the right pods', async () => {
    await startServer();
    const api = server.upsert('pods', podJson({ namespace: 'shop', name: 'api-0', ips: ['10.244.1.80'], labels: { app: 'api', tier: 'backend' } }));
    const web = server.upsert('pods', podJson({ namespace: 'shop', name: 'web-0', ips: ['10.244.1.81'], labels: { app: 'web', tier: 'frontend' } }));
    server.upsert('networkpolicies', networkPolicyJson({ namespace: 'shop', name: 'deny-all', podSelector: {}, policyTypes: ['Ingress'] }));
    server.upsert('networkpolicies', networkPolicyJson({
      namespace: 'shop',
      name: 'backend-only-from-frontend',
      podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend', 'data'] }, { key: 'canary', operator: 'DoesNotExist' }] },
      ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    }));
    server.upsert('networkpolicies', networkPolicyJson({ namespace: 'other', name: 'elsewhere', podSelector: {} }));
    server.upsert('services', serviceJson({ namespace: 'shop', name: 'api', clusterIp: '10.96.1.1', ports: [{ port: 80, targetPort: 8080 }], selector: { app: 'api' } }));
    server.upsert('services', serviceJson({ namespace: 'other', name: 'api', clusterIp: '10.96.1.2', ports: [{ port: 80 }], selector: { app: 'api' } }));
    server.upsert('services', serviceJson({ namespace: 'shop', name: 'manual', clusterIp: '10.96.1.3', ports: [{ port: 80 }], selector: null }));
    const { watcher } = await startWatcher();

    const apiPod = watcher.state.podByUid(api.metadata.uid)!;
    const webPod = watcher.state.podByUid(web.metadata.uid)!;
    assert.deepEqual(watcher.state.policiesSelecting(apiPod).map((p) => p.name).sort(), ['backend-only-from-frontend', 'deny-all']);
    assert.deepEqual(watcher.state.policiesSelecting(webPod).map((p) => p.name), ['deny-all']);
    const policy = watcher.state.policiesSelecting(apiPod).find((p) => p.name === 'backend-only-from-frontend')!;
    assert.deepEqual(policy.ingress[0].ports, [{ protocol: 'TCP', port: 8080, endPort: null }]);
    assert.deepEqual(watcher.state.servicesSelecting(apiPod).map((s) => `${s.namespace}/${s.name}`), ['shop/api']);
    assert.deepEqual(watcher.state.servicesSelecting(webPod), []);
    assert.deepEqual(watcher.state.podsMatching({ tier: 'backend' }).map((p) => p.name), ['api-0']);

    // A canary label takes the pod out of the DoesNotExist policy, live.
    server.upsert('pods', podJson({ namespace: 'shop', name: 'api-0', uid: api.metadata.uid, ips: ['10.244.1.80'], labels: { app: 'api', tier: 'backend', canary: 'true' } }));
    await waitUntil(() => watcher.state.podByUid(api.metadata.uid)?.labels.canary === 'true', 'the relabel');
    assert.deepEqual(watcher.state.policiesSelecting(watcher.state.podByUid(api.metadata.uid)!).map((p) => p.name), ['deny-all']);
  });

  test('a list served in pages (limit/continue) is complete', async () => {
    await startServer();
    for (let index = 0; index < 25; index++) server.upsert('pods', podJson({ name: `paged-${index}`, ips: [`10.244.4.${index + 1}`] }));
    const { watcher } = await startWatcher({ listPageSize: 10 });
    for (let index = 0; index < 25; index++) assert.ok(watcher.state.podByIp(`10.244.4.${index + 1}`, Date.now()) !== null, `pod ${index}`);
    const pages = server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined);
    assert.equal(pages.length, 3);
    assert.ok(pages[1].query.continue && pages[2].query.continue);
  });

  test('a bearer token from the kubeconfig is sent; a wrong one is an outage, not a crash', async () => {
    await startServer({ token: 's3cret' });
    server.upsert('pods', podJson({ name: 'authed', ips: ['10.244.1.90'] }));
    const { watcher } = await startWatcher();
    assert.equal(watcher.state.podByIp('10.244.1.90', Date.now())?.name, 'authed');
    await watcher.stop();
    kubeconfig = server.writeKubeconfig(dir, { token: 'wrong', fileName: 'wrong.yaml' });
    const { watcher: refused, lines } = await startWatcher({ firstSyncTimeoutMs: 300 });
    assert.equal(refused.synced, false);
    assert.ok(lines.some((line) => line.level === 40 && /401/.test(line.msg)), JSON.stringify(lines));
  });
});

describe('KubeWatcher configuration errors', () => {
  const ipMap = new IpOwnershipMap();
  const log = pino({ level: 'silent' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-kubeconfig-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, () => string, RegExp]> = [
    ['a missing file', () => path.join(dir, 'absent.yaml'), /cannot read kubeconfig .*absent\.yaml \(ENOENT\): check the --kubeconfig path/],
    ['a directory', () => dir, /cannot read kubeconfig .* \(EISDIR\)/],
    ['broken YAML', () => { fs.writeFileSync(path.join(dir, 'broken.yaml'), 'clusters: [\n  - : : :\n'); return path.join(dir, 'broken.yaml'); }, /is not valid YAML\/JSON/],
    ['no current context', () => { fs.writeFileSync(path.join(dir, 'empty.yaml'), 'apiVersion: v1\nkind: Config\n'); return path.join(dir, 'empty.yaml'); }, /has no current context/],
    ['plain http without insecure-skip-tls-verify', () => {
      fs.writeFileSync(path.join(dir, 'http.yaml'), 'apiVersion: v1\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
      return path.join(dir, 'http.yaml');
    }, /plain http; use https or set insecure-skip-tls-verify/],
  ];
  for (const [name, file, message] of cases) {
    test(`${name} → start() rejects with one KubeConfigError line naming the fix`, async () => {
      const watcher = new KubeWatcher({ kubeconfigPath: file(), scope: 'cluster', nodeName: 'n', ipMap, log });
      await assert.rejects(watcher.start(new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof KubeConfigError);
        assert.equal(err.code, 'RSTPROBE_ERR_KUBECONFIG');
        assert.match(err.message, message);
        assert.ok(!err.message.includes('\n'), 'one line');
        return true;
      });
      await watcher.stop();
    });
  }

  test('in-cluster config: needs the service variables and a readable token', () => {
    const serviceAccount = fs.mkdtempSync(path.join(dir, 'sa-'));
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    assert.equal(inClusterConfigAvailable(env, serviceAccount), false, 'no token file');
    fs.writeFileSync(path.join(serviceAccount, 'token'), 'eyJhbGciOi...');
    assert.equal(inClusterConfigAvailable(env, serviceAccount), true);
    assert.equal(inClusterConfigAvailable({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, serviceAccount), false, 'no port');
  });

  test('no kubeconfig and no in-cluster config → start() rejects naming --kubeconfig', { skip: inClusterConfigAvailable() ? 'this machine has in-cluster config' : false }, async () => {
    const watcher = new KubeWatcher({ kubeconfigPath: null, scope: 'node', nodeName: 'n', ipMap, log });
    await assert.rejects(watcher.start(new AbortController().signal), (err: unknown) => err instanceof KubeConfigError && /pass --kubeconfig PATH/.test(err.message));
  });
});
