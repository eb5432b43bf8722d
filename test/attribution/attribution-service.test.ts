import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttributionService } from '../../src/attribution/attribution-service';
import { RstprobeError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/log';
import { KubeApiServer, nodeJson, podJson } from '../support/kube-api-server';
import { eventually, podCniFiles, writeCniFiles } from './cni-fixtures';

describe('AttributionService', () => {
  let scratch: string;
  let cniDir: string;
  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-attr-svc-'));
    cniDir = path.join(scratch, 'cni');
    writeCniFiles(cniDir, podCniFiles({ name: 'web-0', ip: '10.244.1.10' }));
  });
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('without Kubernetes: attributes from the CNI cache once start resolves, reports health, stops cleanly', async () => {
    const controller = new AbortController();
    const service = new AttributionService({ nodeName: 'node-a', cniCacheDirs: [cniDir], kubeconfigPath: null, watchScope: 'cluster', log: silentLogger() });
    await service.start(controller.signal);
    try {
      assert.equal(service.cluster, null);
      const endpoint = service.attributor.endpoint('10.244.1.10', 8080, Date.now());
      assert.equal(endpoint.kind, 'pod');
      assert.equal(endpoint.pod?.name, 'web-0');
      assert.equal(endpoint.node, 'node-a');
      assert.equal(service.attributor.isOnThisKernel('10.244.1.10', Date.now()), true);
      assert.equal(service.podNetwork('uid-web-0')?.hostIfname, 'veth-web-0');
      assert.deepEqual(service.health(), {
        addresses: 1,
        tenures: 1,
        cni: { dirs: [cniDir], pods: 1, addresses: 1, malformedFiles: 0 },
        kubernetes: null,
      });
    } finally {
      controller.abort();
      await service.stop();
    }
  });

  it('with a kubeconfig: the watcher syncs against a list/watch API server and remote pods are named', async () => {
    const api = new KubeApiServer();
    await api.start();
    const controller = new AbortController();
    try {
      api.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12', podCidr: '10.244.2.0/24' }));
      api.upsert('pods', podJson({ name: 'reviews-0', uid: 'uid-reviews', nodeName: 'node-b', ips: ['10.244.2.20'] }));
      const kubeconfig = api.writeKubeconfig(scratch);
      const service = new AttributionService({ nodeName: 'node-a', cniCacheDirs: [cniDir], kubeconfigPath: kubeconfig, watchScope: 'cluster', log: silentLogger() });
      await service.start(controller.signal);
      assert.equal(service.health().kubernetes?.synced, true);
      assert.equal(service.cluster?.podByUid('uid-reviews')?.name, 'reviews-0');
      const remote = service.attributor.endpoint('10.244.2.20', 8080, Date.now());
      assert.deepEqual(remote.pod, { namespace: 'default', name: 'reviews-0', uid: 'uid-reviews', container: 'app' });
      assert.equal(remote.node, 'node-b');
      assert.equal(service.attributor.isOnThisKernel('10.244.2.20', Date.now()), false, 'a pod of another node');
      assert.equal(service.attributor.endpoint('10.210.0.12', 22, Date.now()).kind, 'node');
      // A pod added later arrives through the watch.
      api.upsert('pods', podJson({ name: 'ratings-0', uid: 'uid-ratings', nodeName: 'node-b', ips: ['10.244.2.21'] }));
      await eventually(() => service.attributor.endpoint('10.244.2.21', 80, Date.now()).pod?.name === 'ratings-0', 5_000, 'the watched pod');
      controller.abort();
      await service.stop();
    } finally {
      controller.abort();
      await api.stop();
    }
  });

  it('an API server outage: attribution keeps the last good state, and health says it is stale', async () => {
    const api = new KubeApiServer();
    await api.start();
    const controller = new AbortController();
    try {
      api.upsert('pods', podJson({ name: 'reviews-1', uid: 'uid-reviews-1', nodeName: 'node-b', ips: ['10.244.2.30'] }));
      const service = new AttributionService({
        nodeName: 'node-a',
        cniCacheDirs: [cniDir],
        kubeconfigPath: api.writeKubeconfig(scratch, { fileName: 'outage.yaml' }),
        watchScope: 'cluster',
        log: silentLogger(),
        kubernetesStaleAfterMs: 300,
      });
      await service.start(controller.signal);
      assert.match(service.healthLine(), /kubernetes: synced/);
      await api.stop();
      await eventually(() => service.health().kubernetes?.stale === true, 10_000, 'stale');
      assert.match(service.healthLine(), /kubernetes: stale/);
      assert.equal(service.attributor.endpoint('10.244.2.30', 80, Date.now()).pod?.name, 'reviews-1', 'the last good state still answers');
      await api.start();
      await eventually(() => service.health().kubernetes?.stale === false, 15_000, 'recovery');
      controller.abort();
      await service.stop();
    } finally {
      controller.abort();
      await api.stop();
    }
  });

  it('a kubeconfig that cannot be read rejects start with one actionable error', async () => {
    const controller = new AbortController();
    const service = new AttributionService({ nodeName: 'node-a', cniCacheDirs: [cniDir], kubeconfigPath: path.join(scratch, 'missing.yaml'), watchScope: 'node', log: silentLogger() });
    await assert.rejects(service.start(controller.signal), (err: unknown) => err instanceof RstprobeError && /--kubeconfig/.test(err.message) && !err.message.includes('\n'));
    controller.abort();
    await service.stop();
  });
});
