import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlayKindOf, overlayOverheadBytes, parseLinks, type NodeInterface } from '../../src/pmtu/interfaces';
import { compareMtus, type PathFacts } from '../../src/pmtu/mismatch';
import type { PodInterfaceMtu } from '../../src/pmtu/pod-mtu';

const path: PathFacts = { targetIp: '10.0.0.12', family: 4, pmtuBytes: 1400, blackHole: false, icmpSeen: true, routeIfname: 'eth0', localMtuBytes: 1400 };
const link = (ifname: string, mtuBytes: number, linkKind: string | null, overlay: NodeInterface['overlay'] = null): NodeInterface => ({ ifname, mtuBytes, linkKind, overlay, up: true });
const pod = (name: string, mtuBytes: number, source: PodInterfaceMtu['source'] = 'pod-netns'): PodInterfaceMtu => ({
  namespace: 'default',
  name,
  ips: ['10.244.1.5'],
  ifname: 'eth0',
  hostIfname: `veth-${name}`,
  mtuBytes,
  source,
});

describe('MTU mismatch against the measured path', () => {
  it('finds nothing when every interface fits the path', () => {
    const result = compareMtus(path, [link('eth0', 1400, null), link('veth-a', 1400, 'veth')], [pod('a', 1400)]);
    assert.equal(result.mismatch, false);
    assert.match(result.advice, /no interface on this node is larger/);
  });

  it('names pods whose eth0 is larger than a routed path, by how much, and the MTU to set', () => {
    const result = compareMtus(path, [link('eth0', 1400, null)], [pod('a', 1500), pod('b', 1500), pod('c', 1500), pod('d', 1500), pod('e', 1400)]);
    assert.equal(result.mismatch, true);
    assert.equal(result.offenders.length, 1);
    assert.match(result.advice, /eth0 of 4 pods \(default\/a, default\/b, default\/c, and 1 more\) has MTU 1500, 100 bytes more than the path to 10\.0\.0\.12 carries: set it to 1400/);
  });

  it('subtracts the overlay overhead: a vxlan device and pods behind it must fit inside the path', () => {
    const interfaces = [link('eth0', 1500, null), link('flannel.1', 1450, 'vxlan', 'vxlan')];
    const result = compareMtus({ ...path, localMtuBytes: 1500 }, interfaces, [pod('a', 1450)]);
    assert.equal(result.mismatch, true);
    const advice = result.advice;
    assert.match(advice, /uplink eth0 has MTU 1500, 100 bytes more .* set it to 1400/);
    assert.match(advice, /vxlan device flannel\.1 has MTU 1450, 100 bytes more .* set it to 1350 \(path MTU 1400 minus vxlan overhead 50\)/);
    assert.match(advice, /eth0 of 1 pod \(default\/a\) has MTU 1450, 100 bytes more .* set it to 1350/);
  });

  it('uses WireGuard\'s 60 bytes (IPv4 underlay) and 80 (IPv6)', () => {
    assert.equal(overlayOverheadBytes('wireguard', 4), 60);
    assert.equal(overlayOverheadBytes('wireguard', 6), 80);
    assert.equal(overlayOverheadBytes('vxlan', 4), 50);
    assert.equal(overlayOverheadBytes('ipip', 4), 20);
    const result = compareMtus(path, [link('eth0', 1400, null), link('wg0', 1420, 'wireguard', 'wireguard')], []);
    assert.match(result.advice, /wireguard device wg0 has MTU 1420, 80 bytes more .* set it to 1340/);
  });

  it('says the black hole and the MSS to clamp to, even with no interface to blame', () => {
    const result = compareMtus({ ...path, blackHole: true, icmpSeen: false }, [link('eth0', 1400, null)], []);
    assert.equal(result.mismatch, false);
    assert.match(result.advice, /allow ICMP type 3 code 4 .* clamp TCP MSS to 1360/);
  });

  it('says when the pod MTU was read from the host-side veth (the fallback)', () => {
    const result = compareMtus(path, [link('eth0', 1400, null)], [pod('a', 1500, 'host-veth')]);
    assert.match(result.advice, /read from the host-side veth/);
  });

  it('tells overlay devices apart by link kind, sysfs, then name', () => {
    assert.equal(overlayKindOf('whatever', 'geneve', null), 'geneve');
    assert.equal(overlayKindOf('flannel.1', 'veth', null), null, 'the kernel\'s kind wins over the name');
    assert.equal(overlayKindOf('t0', null, { devtype: 'wireguard', arphrd: 65534 }), 'wireguard');
    assert.equal(overlayKindOf('t1', null, { devtype: null, arphrd: 768 }), 'ipip');
    assert.equal(overlayKindOf('cilium_vxlan', null, null), 'vxlan');
    assert.equal(overlayKindOf('tunl0', null, null), 'ipip');
    assert.equal(overlayKindOf('eth0', null, null), null);
  });

  it('parses ip -d -j link output, skipping loopback and junk', () => {
    const links = parseLinks([
      { ifname: 'lo', mtu: 65536, link_type: 'loopback', flags: ['UP'] },
      { ifname: 'eth0', mtu: 1500, flags: ['UP', 'LOWER_UP'] },
      { ifname: 'vxlan.calico', mtu: 1450, flags: ['UP'], linkinfo: { info_kind: 'vxlan' } },
      { ifname: 'cali1', mtu: 1450, flags: [], linkinfo: { info_kind: 'veth' } },
      { nonsense: true },
    ]);
    assert.deepEqual(
      links.map((entry) => [entry.ifname, entry.mtuBytes, entry.overlay, entry.up]),
      [
        ['eth0', 1500, null, true],
        ['vxlan.calico', 1450, 'vxlan', true],
        ['cali1', 1450, null, false],
      ],
    );
    assert.deepEqual(parseLinks('not a list'), []);
  });
});
