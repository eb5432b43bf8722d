import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cniFilesForPod, cniResultFileName, firstHost } from './cni';

const CONTAINER_ID = 'ab'.repeat(32);

describe('lab CNI files', () => {
  const files = cniFilesForPod({
    containerId: CONTAINER_ID,
    netnsPath: '/var/run/netns/rst-0123abcd-pod1-web-0',
    namespace: 'shop',
    name: 'web-0',
    uid: '11111111-2222-3333-4444-555555555555',
    hostIfname: 'veth0123456789a',
    hostMac: '02:00:00:00:00:01',
    podMac: '02:00:00:00:00:02',
    addresses: [
      { ip: '10.244.1.10', cidr: '10.244.1.0/24' },
      { ip: 'fd00:244:1::10', cidr: 'fd00:244:1::/64' },
    ],
  });
  const byPath = new Map(files.map((file) => [file.relativePath, file.content]));

  it('writes the libcni cache under results/<network>-<containerId>-<ifName>', () => {
    assert.equal(cniResultFileName(CONTAINER_ID), `lab-${CONTAINER_ID}-eth0`);
    const cache = JSON.parse(byPath.get(`results/lab-${CONTAINER_ID}-eth0`) ?? 'null');
    assert.equal(cache.kind, 'cniCacheV1');
    assert.equal(cache.containerId, CONTAINER_ID);
    assert.equal(cache.networkName, 'lab');
    assert.equal(cache.ifName, 'eth0');
    assert.equal(cache.netns, '/var/run/netns/rst-0123abcd-pod1-web-0');
    assert.deepEqual(JSON.parse(Buffer.from(cache.config, 'base64').toString()).name, 'lab');
    const args = new Map(cache.cniArgs as [string, string][]);
    assert.equal(args.get('K8S_POD_NAMESPACE'), 'shop');
    assert.equal(args.get('K8S_POD_NAME'), 'web-0');
    assert.equal(args.get('K8S_POD_UID'), '11111111-2222-3333-4444-555555555555');
    assert.equal(args.get('K8S_POD_INFRA_CONTAINER_ID'), CONTAINER_ID);
    assert.deepEqual(cache.result.ips, [
      { address: '10.244.1.10/24', gateway: '10.244.1.1', interface: 1 },
      { address: 'fd00:244:1::10/64', gateway: 'fd00:244:1::1', interface: 1 },
    ]);
    assert.deepEqual(cache.result.interfaces[1], { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/var/run/netns/rst-0123abcd-pod1-web-0' });
    assert.equal(cache.result.interfaces[0].sandbox, '');
  });

  it('writes host-local reservations as "<containerId>\\r\\n<ifName>"', () => {
    assert.equal(byPath.get('networks/lab/10.244.1.10'), `${CONTAINER_ID}\r\neth0`);
    assert.equal(byPath.get('networks/lab/fd00:244:1::10'), `${CONTAINER_ID}\r\neth0`);
    assert.equal(byPath.get('networks/lab/last_reserved_ip.0'), '10.244.1.10');
  });

  it('derives the range gateway as network + 1', () => {
    assert.equal(firstHost('10.244.2.0/24'), '10.244.2.1');
    assert.equal(firstHost('fd00:244:2::/64'), 'fd00:244:2::1');
  });
});
