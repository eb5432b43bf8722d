import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame } from '../../src/decode/decode';
import { LinkType } from '../../src/decode/types';
import { PathObserver } from '../../src/pmtu/path-observer';
import { tcpObservation } from '../support/observations';
import { buildIcmpEcho, buildIcmpFragNeeded, buildTcp } from '../support/packet-builder';

describe('passive path evidence from the capture', () => {
  it('attaches a SYN MSS the path cannot carry, with the MSS to clamp to', () => {
    const observer = new PathObserver();
    observer.observe(tcpObservation({ src: '10.244.1.10', dst: '10.244.2.20', srcPort: 40000, dstPort: 8080, flags: 'SYN', mss: 1460 }, 1_000));
    const lines = observer.evidenceFor('10.244.2.20', 1400, 4);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /MSS 1460 .*SYN 10\.244\.1\.10:40000 → 10\.244\.2\.20:8080.* 1500-byte packets, 100 more than the path carries; clamp MSS to 1360/);
    assert.deepEqual(observer.evidenceFor('10.244.2.20', 1500, 4), [], 'an MSS that fits is no evidence');
  });

  it('attaches frag-needed errors for packets to the target, with the announced MTU and the router', () => {
    const observer = new PathObserver();
    const quoted = buildTcp({ link: 'raw', src: '10.244.1.10', dst: '10.244.2.20', srcPort: 40000, dstPort: 8080, payload: new Uint8Array(1460) });
    const frame = buildIcmpFragNeeded({ link: 'raw', src: '10.210.0.1', dst: '10.244.1.10', mtu: 1400, quoted });
    const decoded = decodeFrame(LinkType.RAW, frame);
    assert.ok(decoded.ok);
    observer.observe({ timeMs: 1, ifindex: 2, pktType: 0, packet: decoded.packet });
    observer.observe({ timeMs: 2, ifindex: 2, pktType: 0, packet: decoded.packet });
    assert.deepEqual(observer.evidenceFor('10.244.2.20', 1400, 4), ['capture: 2 ICMP fragmentation-needed errors from 10.210.0.1 for packets to 10.244.2.20, announcing MTU 1400']);
  });

  it('does not count the errors its own probes draw (quoted echo requests, UDP to the probe ports)', () => {
    const observer = new PathObserver();
    const probe = buildIcmpEcho({ link: 'raw', src: '10.210.0.11', dst: '10.244.2.20', id: 7, seq: 1, payload: new Uint8Array(1472) });
    const decoded = decodeFrame(LinkType.RAW, buildIcmpFragNeeded({ link: 'raw', src: '10.210.0.1', dst: '10.210.0.11', mtu: 1400, quoted: probe }));
    assert.ok(decoded.ok);
    observer.observe({ timeMs: 1, ifindex: 2, pktType: 0, packet: decoded.packet });
    assert.deepEqual(observer.evidenceFor('10.244.2.20', 1400, 4), []);
  });

  it('learns the peers of the local gateways from their SYNs, and nobody else\'s', () => {
    const observer = new PathObserver();
    observer.setLocalSources(['10.244.1.10']);
    observer.observe(tcpObservation({ src: '10.244.1.10', dst: '10.244.2.20', flags: 'SYN' }, 1));
    observer.observe(tcpObservation({ src: '10.244.1.99', dst: '10.244.3.30', flags: 'SYN' }, 2));
    observer.observe(tcpObservation({ src: '10.244.2.20', dst: '10.244.1.10', flags: ['SYN', 'ACK'] }, 3));
    assert.deepEqual(observer.peerAddresses(), ['10.244.2.20']);
  });

  it('stays bounded', () => {
    const observer = new PathObserver({ maxEntries: 10 });
    observer.setLocalSources(['10.0.0.1']);
    for (let i = 0; i < 100; i += 1) observer.observe(tcpObservation({ src: '10.0.0.1', dst: `10.1.0.${i}`, flags: 'SYN', mss: 1460 }, i));
    assert.equal(observer.peerAddresses().length, 10);
    assert.equal(observer.peerAddresses()[0], '10.1.0.99');
  });
});
