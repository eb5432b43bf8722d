import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readNodeInterfaces } from '../../src/pmtu/interfaces';
import { readPodInterfaceMtus } from '../../src/pmtu/pod-mtu';
import { Lab, labSkipReason, type LabNode, type LabPod } from '../lab/lab';

/**
 * Pod interface MTUs from the CNI cache: read inside the pod's netns (nsenter), so a
 * pod whose eth0 differs from its host-side veth reports its own; the host veth is
 * the fallback when the netns cannot be entered. Runs in this process's netns
 * (root) against lab pods, as the agent does on a node.
 */
const skip = labSkipReason();

describe('pod interface MTUs', { skip }, () => {
  let lab: Lab;
  let node: LabNode;
  let pod: LabPod;

  before(async () => {
    lab = await Lab.create({ prefix: 'pmtupod' });
    node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    pod = await lab.addPod(node, { namespace: 'shop', name: 'cart-0', ip: '10.244.1.10', mtu: 1500 });
    await lab.setMtu(pod, 'eth0', 1450); // the pod's end differs from the host's (still 1500)
  });
  after(async () => {
    await lab?.destroy();
  });

  it('reads eth0 inside the pod\'s network namespace', async () => {
    const pods = await readPodInterfaceMtus({ cniDirs: [lab.cniDir(node)], hostMtus: new Map([[pod.hostIfname, 1500]]) });
    assert.deepEqual(
      pods.map((entry) => [entry.namespace, entry.name, entry.ifname, entry.mtuBytes, entry.source, entry.hostIfname]),
      [['shop', 'cart-0', 'eth0', 1450, 'pod-netns', pod.hostIfname]],
    );
  });

  it('falls back to the host-side veth when the netns cannot be entered', async () => {
    const pods = await readPodInterfaceMtus({
      cniDirs: [lab.cniDir(node)],
      hostMtus: new Map([[pod.hostIfname, 1500]]),
      readNetnsMtu: async () => {
        throw new Error('setns: Operation not permitted');
      },
    });
    assert.deepEqual(pods.map((entry) => [entry.mtuBytes, entry.source]), [[1500, 'host-veth']]);
  });

  it('lists the node\'s interfaces with kinds from inside the node namespace', async () => {
    const { stdout } = await lab.exec(node, [
      process.execPath,
      '-e',
      `require(${JSON.stringify(require.resolve('../../src/pmtu/interfaces'))}).readNodeInterfaces().then((l) => console.log(JSON.stringify(l)))`,
    ]);
    const links = JSON.parse(stdout) as Awaited<ReturnType<typeof readNodeInterfaces>>;
    const veth = links.find((entry) => entry.ifname === pod.hostIfname);
    assert.deepEqual([veth?.linkKind, veth?.mtuBytes, veth?.overlay], ['veth', 1500, null]);
    assert.ok(links.some((entry) => entry.ifname === 'eth0'));
  });
});
