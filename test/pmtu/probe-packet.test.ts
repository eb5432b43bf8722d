import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { internetChecksum } from '../../src/decode/checksum';
import { buildEchoRequest, buildUdpProbe, parseProbeAnswer, UDP_PROBE_BASE_PORT, type ProbeIdentity } from '../../src/pmtu/probe-packet';
import { buildIcmpEcho, buildIcmpError, buildIcmpFragNeeded, buildIcmpv6PacketTooBig, buildIpPacket } from '../support/packet-builder';

const echo4: ProbeIdentity = { family: 4, method: 'icmp-echo', targetIp: '10.210.0.12', id: 0x4242 };
const echo6: ProbeIdentity = { family: 6, method: 'icmp-echo', targetIp: 'fd00:210::12', id: 0x4242 };
const udp4: ProbeIdentity = { family: 4, method: 'udp', targetIp: '10.210.0.12', id: 50_000 };

/** The probe as it left (IP header included), for an ICMP error to quote. */
function sentEcho(sizeBytes: number, seq: number): Uint8Array {
  return buildIcmpEcho({ link: 'raw', src: '10.210.0.11', dst: '10.210.0.12', id: 0x4242, seq, payload: new Uint8Array(sizeBytes - 28) });
}

describe('path-MTU probe packets', () => {
  it('builds an echo request whose IP packet has exactly the probe size, with a valid checksum', () => {
    const message = buildEchoRequest(4, 0x4242, 7, 1400);
    assert.equal(message.length + 20, 1400);
    assert.deepEqual([message[0], message.readUInt16BE(4), message.readUInt16BE(6)], [8, 0x4242, 7]);
    assert.equal(internetChecksum(message), 0);
    const v6 = buildEchoRequest(6, 1, 2, 1280);
    assert.equal(v6.length + 40, 1280);
    assert.equal(v6[0], 128);
  });

  it('builds a UDP probe to the base port plus its sequence, sized to the byte', () => {
    const datagram = buildUdpProbe(4, 50_000, 3, 1400);
    assert.equal(datagram.length + 20, 1400);
    assert.deepEqual([datagram.readUInt16BE(0), datagram.readUInt16BE(2), datagram.readUInt16BE(4)], [50_000, UDP_PROBE_BASE_PORT + 3, 1380]);
  });

  it('matches an echo reply by id and source, and ignores other processes\' replies', () => {
    const reply = buildIcmpEcho({ link: 'raw', src: '10.210.0.12', dst: '10.210.0.11', echo: 'reply', id: 0x4242, seq: 9 });
    assert.deepEqual(parseProbeAnswer(reply, '10.210.0.12', echo4), { seq: 9, outcome: { kind: 'reply' }, fromIp: '10.210.0.12' });
    const other = buildIcmpEcho({ link: 'raw', src: '10.210.0.12', dst: '10.210.0.11', echo: 'reply', id: 0x1111, seq: 9 });
    assert.equal(parseProbeAnswer(other, '10.210.0.12', echo4), null);
    assert.equal(parseProbeAnswer(reply, '10.210.0.99', echo4), null, 'a reply from another host is not ours');
  });

  it('reads frag-needed from a router: which probe, and the MTU it announces', () => {
    const error = buildIcmpFragNeeded({ link: 'raw', src: '10.210.0.1', dst: '10.210.0.11', mtu: 1400, quoted: sentEcho(1500, 4) });
    assert.deepEqual(parseProbeAnswer(error, '10.210.0.1', echo4), { seq: 4, outcome: { kind: 'too-big', source: 'icmp', mtuBytes: 1400 }, fromIp: '10.210.0.1' });
  });

  it('reads an IPv6 packet-too-big (the raw socket gives the ICMPv6 message without the IPv6 header)', () => {
    const probe = buildIcmpEcho({ link: 'raw', src: 'fd00:210::11', dst: 'fd00:210::12', id: 0x4242, seq: 2, payload: new Uint8Array(1452) });
    const full = buildIcmpv6PacketTooBig({ link: 'raw', src: 'fd00:210::1', dst: 'fd00:210::11', mtu: 1400, quoted: probe });
    const answer = parseProbeAnswer(full.subarray(40), 'fd00:210::1', echo6);
    assert.deepEqual(answer, { seq: 2, outcome: { kind: 'too-big', source: 'icmp', mtuBytes: 1400 }, fromIp: 'fd00:210::1' });
  });

  it('takes port unreachable from the target as the UDP probe\'s answer, and a router\'s frag-needed as too big', () => {
    const probe = buildIpPacket({ link: 'raw', src: '10.210.0.11', dst: '10.210.0.12' }, 17, buildUdpProbe(4, 50_000, 5, 1400), null);
    const unreachable = buildIcmpError({ link: 'raw', src: '10.210.0.12', dst: '10.210.0.11', type: 3, code: 3, quoted: probe });
    assert.deepEqual(parseProbeAnswer(unreachable, '10.210.0.12', udp4)?.outcome, { kind: 'reply' });
    assert.equal(parseProbeAnswer(unreachable, '10.210.0.12', udp4)?.seq, 5);
    const tooBig = buildIcmpFragNeeded({ link: 'raw', src: '10.210.0.1', dst: '10.210.0.11', mtu: 1280, quoted: probe });
    assert.deepEqual(parseProbeAnswer(tooBig, '10.210.0.1', udp4)?.outcome, { kind: 'too-big', source: 'icmp', mtuBytes: 1280 });
    assert.equal(parseProbeAnswer(unreachable, '10.210.0.12', { ...udp4, id: 50_001 }), null, 'another source port: not ours');
  });

  it('counts host unreachable about our probe as silence, and garbage as nothing', () => {
    const error = buildIcmpError({ link: 'raw', src: '10.210.0.1', dst: '10.210.0.11', type: 3, code: 1, quoted: sentEcho(600, 1) });
    assert.deepEqual(parseProbeAnswer(error, '10.210.0.1', echo4)?.outcome, { kind: 'silent' });
    assert.equal(parseProbeAnswer(new Uint8Array([0x45, 0, 0]), '10.210.0.1', echo4), null);
    assert.equal(parseProbeAnswer(new Uint8Array(0), '10.210.0.1', echo6), null);
  });
});
