/**
 * Hex fixtures. "Captured" ones are `tcpdump -xx` output of real traffic on this
 * project's machine (kernel 6.18, tcpdump 4.99.3): a Linux SYN with the usual
 * options and the RST a closed port / netfilter REJECT answers with. "Built" ones
 * come from test/support/packet-builder.ts and were checked with `tcpdump -vvv -r`
 * (checksums correct, fields as asserted here), so they pin the builder too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, decodeNetwork } from '../../src/decode/decode';
import { DecodeError, LinkType, TcpFlag, type DecodedPacket } from '../../src/decode/types';
import { buildIcmpFragNeeded, buildIcmpv6PacketTooBig, buildTcp, buildUdp, fromHex, toHex } from '../support/packet-builder';

function decoded(linkType: LinkType, hex: string): DecodedPacket {
  const result = decodeFrame(linkType, fromHex(hex));
  if (!result.ok) assert.fail(`decode failed: ${result.error.layer} ${result.error.message}`);
  return result.packet;
}

// Captured on lo: python connect() to 127.0.0.1:81 with iptables REJECT --reject-with tcp-reset.
const LOOPBACK_SYN = `
	0x0000:  0000 0000 0000 0000 0000 0000 0800 4500
	0x0010:  003c 033e 4000 4006 397c 7f00 0001 7f00
	0x0020:  0001 d728 0051 89fb 7576 0000 0000 a002
	0x0030:  ffd7 fe30 0000 0204 ffd7 0402 080a f8c7
	0x0040:  0da2 0000 0000 0103 030a`;
const NETFILTER_RST = `
	0x0000:  0000 0000 0000 0000 0000 0000 0800 4500
	0x0010:  0028 0000 4000 4006 3cce 7f00 0001 7f00
	0x0020:  0001 0051 d728 0000 0000 89fb 7577 5014
	0x0030:  0000 fe1c 0000`;
// Captured with `tcpdump -i any -y LINUX_SLL` / `-y LINUX_SLL2`: the same SYN to 127.0.0.1:82, incoming on lo.
const SLL_SYN = `
	0x0000:  0000 0304 0006 0000 0000 0000 0000 0800
	0x0010:  4500 003c 4532 4000 4006 f787 7f00 0001
	0x0020:  7f00 0001 8c3c 0052 8c8b 4cdf 0000 0000
	0x0030:  a002 ffd7 fe30 0000 0204 ffd7 0402 080a
	0x0040:  03d4 bfde 0000 0000 0103 030a`;
const SLL2_SYN = `
	0x0000:  0800 0000 0000 0001 0304 0006 0000 0000
	0x0010:  0000 0000 4500 003c 4532 4000 4006 f787
	0x0020:  7f00 0001 7f00 0001 8c3c 0052 8c8b 4cdf
	0x0030:  0000 0000 a002 ffd7 fe30 0000 0204 ffd7
	0x0040:  0402 080a 03d4 bfde 0000 0000 0103 030a`;
// Captured on lo: connect() to [::1]:83, closed port.
const IPV6_RST = `
	0x0000:  0000 0000 0000 0000 0000 0000 86dd 6001
	0x0010:  f32b 0014 0640 0000 0000 0000 0000 0000
	0x0020:  0000 0000 0001 0000 0000 0000 0000 0000
	0x0030:  0000 0000 0001 0053 a6f8 0000 0000 1baa
	0x0040:  97f0 5014 0000 001c 0000`;

// Built (see file comment).
const FRAG_NEEDED_QUOTING_TCP =
  '0200000000020200000000010800450000385a5a0000fe019566c00002fe0a0100050304e66b00000578' +
  '450005d01c4640003f0605d20a0100050a020009ad211f9011223344';
const PACKET_TOO_BIG =
  '02000000000202000000000186dd6000000000683a4020010db800ff0000000000000000000120010db800010000000000000000000502004fc50000050060000000058c0640' +
  '20010db800010000000000000000000520010db8000200000000000000000009ad2101bbdeadbeef000000015010faf002690000626262626262626262626262626262626262626262626262626262626262626262626262';
const VLAN_RST = '02000000000202000000000181006064080045000028000040003f0622ce0af401070af402141f90c822000003e8000007d050140000a3630000';
const QINQ_FIN = '02000000000202000000000188a800148100012c08004500002800004000400626ce0a0000010a0000020050040000000005000000065001faf09c950000';
const IPV6_HOP_BY_HOP_FRAGMENT_UDP =
  '02000000000202000000000186dd6000000000280040fd000000000000000000000000000001fd0000000000000000000000000000022c0001040000000011000001abcdef0114e900350018d58063636363636363636363636363636363';
const IPV4_RECORD_ROUTE_SYN = '02000000000202000000000108004700003400004000400619bb0a0000010a00000207070400000000009c401f9000000001000000006002faf0cd610000020405b4';

describe('captured frames', () => {
  it('decodes a Linux SYN with MSS, SACK-permitted, timestamps and window scale', () => {
    const p = decoded(LinkType.ETHERNET, LOOPBACK_SYN);
    assert.deepEqual(p.link, { type: LinkType.ETHERNET, etherType: 0x0800, vlanIds: [], pktType: null, ifindex: null, networkOffset: 14 });
    assert.equal(p.ip.src, '127.0.0.1');
    assert.equal(p.ip.ipId, 0x033e);
    assert.equal(p.ip.dontFragment, true);
    assert.equal(p.ip.ttl, 64);
    assert.equal(p.tcp?.flags, TcpFlag.SYN);
    assert.equal(p.tcp?.srcPort, 55080);
    assert.equal(p.tcp?.dstPort, 81);
    assert.equal(p.tcp?.seq, 2314958198);
    assert.equal(p.tcp?.headerBytes, 40);
    assert.equal(p.tcp?.payloadBytes, 0);
    assert.deepEqual(p.tcp?.options, {
      mss: 65495,
      windowScale: 10,
      sackPermitted: true,
      sackBlocks: [],
      timestamp: { value: 0xf8c70da2, echo: 0 },
    });
  });

  it('decodes a netfilter-style RST: IP ID 0, window 0, RST+ACK', () => {
    const p = decoded(LinkType.ETHERNET, NETFILTER_RST);
    assert.equal(p.ip.ipId, 0);
    assert.equal(p.ip.fragment, null);
    assert.equal(p.tcp?.window, 0);
    assert.equal(p.tcp?.flags, TcpFlag.RST | TcpFlag.ACK);
    assert.equal(p.tcp?.seq, 0);
    assert.equal(p.tcp?.ack, 2314958199);
    assert.equal(p.tcp?.srcPort, 81);
  });

  it('decodes Linux cooked SLL and SLL2 headers of the same SYN', () => {
    const sll = decoded(LinkType.LINUX_SLL, SLL_SYN);
    const sll2 = decoded(LinkType.LINUX_SLL2, SLL2_SYN);
    assert.deepEqual(sll.link, { type: LinkType.LINUX_SLL, etherType: 0x0800, vlanIds: [], pktType: 0, ifindex: null, networkOffset: 16 });
    assert.deepEqual(sll2.link, { type: LinkType.LINUX_SLL2, etherType: 0x0800, vlanIds: [], pktType: 0, ifindex: 1, networkOffset: 20 });
    assert.deepEqual(sll.ip, { ...sll2.ip, offset: 16, payloadOffset: 36 });
    assert.deepEqual(sll.tcp, sll2.tcp);
    assert.equal(sll.tcp?.dstPort, 82);
  });

  it('decodes an IPv6 RST from loopback', () => {
    const p = decoded(LinkType.ETHERNET, IPV6_RST);
    assert.equal(p.ip.version, 6);
    assert.equal(p.ip.src, '::1');
    assert.equal(p.ip.totalBytes, 60);
    assert.equal(p.ip.ipId, null);
    assert.equal(p.tcp?.flags, TcpFlag.RST | TcpFlag.ACK);
    assert.equal(p.tcp?.window, 0);
  });

  it('decodes the same packets from their network header with decodeNetwork', () => {
    const frame = fromHex(NETFILTER_RST);
    const result = decodeNetwork(0x0800, frame.subarray(14));
    assert.ok(result.ok);
    assert.equal(result.packet.link.type, LinkType.RAW);
    assert.equal(result.packet.tcp?.flags, TcpFlag.RST | TcpFlag.ACK);
  });
});

describe('built frames (verified with tcpdump)', () => {
  it('decodes ICMP fragmentation needed with the next-hop MTU and the quoted TCP segment', () => {
    const p = decoded(LinkType.ETHERNET, FRAG_NEEDED_QUOTING_TCP);
    assert.equal(p.ip.dontFragment, false);
    assert.equal(p.icmp?.kind, 'frag-needed');
    assert.equal(p.icmp?.mtu, 1400);
    assert.equal(p.icmp?.quoted?.ip.src, '10.1.0.5');
    assert.equal(p.icmp?.quoted?.ip.dst, '10.2.0.9');
    assert.equal(p.icmp?.quoted?.ip.totalBytes, 1488);
    assert.deepEqual(p.icmp?.quoted?.tcp, { srcPort: 44321, dstPort: 8080, seq: 0x11223344 });
  });

  it('decodes ICMPv6 packet too big with the MTU and the quoted segment', () => {
    const p = decoded(LinkType.ETHERNET, PACKET_TOO_BIG);
    assert.equal(p.icmp?.version, 6);
    assert.equal(p.icmp?.kind, 'packet-too-big');
    assert.equal(p.icmp?.mtu, 1280);
    assert.equal(p.icmp?.quoted?.ip.src, '2001:db8:1::5');
    assert.deepEqual(p.icmp?.quoted?.tcp, { srcPort: 44321, dstPort: 443, seq: 0xdeadbeef });
  });

  it('decodes 802.1Q and QinQ tags, outermost first', () => {
    const vlan = decoded(LinkType.ETHERNET, VLAN_RST);
    assert.deepEqual(vlan.link.vlanIds, [100]);
    assert.equal(vlan.link.networkOffset, 18);
    assert.equal(vlan.tcp?.flags, TcpFlag.RST | TcpFlag.ACK);
    const qinq = decoded(LinkType.ETHERNET, QINQ_FIN);
    assert.deepEqual(qinq.link.vlanIds, [20, 300]);
    assert.equal(qinq.link.networkOffset, 22);
    assert.equal(qinq.tcp?.flags, TcpFlag.FIN);
  });

  it('walks IPv6 hop-by-hop and fragment headers to UDP', () => {
    const p = decoded(LinkType.ETHERNET, IPV6_HOP_BY_HOP_FRAGMENT_UDP);
    assert.deepEqual(p.ip.extensionHeaders, [0, 44]);
    assert.deepEqual(p.ip.fragment, { id: 0xabcdef01, offsetBytes: 0, moreFragments: true });
    assert.equal(p.ip.ipId, 0xabcdef01);
    assert.equal(p.ip.protocol, 17);
    assert.equal(p.ip.headerBytes, 56);
    assert.deepEqual(p.udp, { srcPort: 5353, dstPort: 53, lengthBytes: 24 });
  });

  it('reads IPv4 options (record route)', () => {
    const p = decoded(LinkType.ETHERNET, IPV4_RECORD_ROUTE_SYN);
    assert.equal(p.ip.headerBytes, 28);
    assert.deepEqual(p.ip.optionTypes, [7]);
    assert.equal(p.tcp?.options.mss, 1460);
  });

  it('the builder still produces the recorded bytes', () => {
    const quoted = buildTcp({
      link: 'raw', src: '10.1.0.5', dst: '10.2.0.9', srcPort: 44321, dstPort: 8080, flags: ['PSH', 'ACK'],
      seq: 0x11223344, ack: 0x55667788, ttl: 63, ipId: 0x1c46, payload: new Uint8Array(1448).fill(0x61),
    });
    const fragNeeded = buildIcmpFragNeeded({ src: '192.0.2.254', dst: '10.1.0.5', ttl: 254, ipId: 0x5a5a, df: false, mtu: 1400, quoted, quotedBytes: 28 });
    assert.equal(toHex(fragNeeded), FRAG_NEEDED_QUOTING_TCP);
    const ptb = buildIcmpv6PacketTooBig({
      src: '2001:db8:ff::1', dst: '2001:db8:1::5', mtu: 1280, quotedBytes: 96,
      quoted: buildTcp({ link: 'raw', src: '2001:db8:1::5', dst: '2001:db8:2::9', srcPort: 44321, dstPort: 443, flags: 'ACK', seq: 0xdeadbeef, ack: 1, payload: new Uint8Array(1400).fill(0x62) }),
    });
    assert.equal(toHex(ptb), PACKET_TOO_BIG);
    const udp = buildUdp({
      src: 'fd00::1', dst: 'fd00::2', srcPort: 5353, dstPort: 53, payload: new Uint8Array(16).fill(0x63),
      ipv6ExtensionHeaders: [{ type: 0 }, { type: 44 }], fragment: { id: 0xabcdef01, offsetBytes: 0, moreFragments: true },
    });
    assert.equal(toHex(udp), IPV6_HOP_BY_HOP_FRAGMENT_UDP);
  });
});

describe('link types', () => {
  const ipPacket = fromHex(NETFILTER_RST).subarray(14);
  const ipv6Packet = fromHex(IPV6_RST).subarray(14);

  it('decodes raw IP (LINKTYPE_RAW, IPV4, IPV6) by version nibble', () => {
    for (const type of [LinkType.RAW, LinkType.IPV4]) {
      const r = decodeFrame(type, ipPacket);
      assert.ok(r.ok);
      assert.equal(r.packet.link.networkOffset, 0);
    }
    assert.ok(decodeFrame(LinkType.IPV6, ipv6Packet).ok);
    const wrong = decodeFrame(LinkType.IPV6, ipPacket);
    assert.ok(!wrong.ok && wrong.error.kind === 'malformed');
  });

  it('decodes BSD loopback in both byte orders and all AF_INET6 values', () => {
    const cases: Array<[number[], Uint8Array]> = [
      [[2, 0, 0, 0], ipPacket],
      [[0, 0, 0, 2], ipPacket],
      [[24, 0, 0, 0], ipv6Packet],
      [[0, 0, 0, 28], ipv6Packet],
      [[30, 0, 0, 0], ipv6Packet],
    ];
    for (const [header, packet] of cases) {
      const r = decodeFrame(LinkType.NULL, Uint8Array.from([...header, ...packet]));
      assert.ok(r.ok, `family ${header}`);
      assert.equal(r.packet.link.networkOffset, 4);
    }
    const unknown = decodeFrame(LinkType.NULL, Uint8Array.from([17, 0, 0, 0, ...ipPacket]));
    assert.ok(!unknown.ok && unknown.error.kind === 'unsupported');
  });

  it('decodes a SOCK_DGRAM frame whose VLAN tag the kernel left in the data', () => {
    const withTag = Uint8Array.from([0x00, 0x64, 0x08, 0x00, ...ipPacket]);
    for (const tpid of [0x8100, 0x88a8]) {
      const r = decodeNetwork(tpid, withTag);
      assert.ok(r.ok);
      assert.deepEqual(r.packet.link.vlanIds, [100]);
      assert.equal(r.packet.link.etherType, 0x0800);
      assert.equal(r.packet.ip.offset, 4);
    }
  });

  it('reports ARP and unknown link types as unsupported', () => {
    const arp = fromHex('ffffffffffff0200000000010806' + '0001080006040001');
    const r = decodeFrame(LinkType.ETHERNET, arp);
    assert.ok(!r.ok && r.error instanceof DecodeError && r.error.kind === 'unsupported');
    const odd = decodeFrame(147 as LinkType, arp);
    assert.ok(!odd.ok && odd.error.kind === 'unsupported');
  });
});

describe('truncation and malformed headers', () => {
  const syn = fromHex(LOOPBACK_SYN);

  it('accepts a payload cut by the snap length and keeps payloadBytes from the IP lengths', () => {
    const frame = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', payload: new Uint8Array(1000), timestamp: { value: 1, echo: 2 } });
    const r = decodeFrame(LinkType.ETHERNET, frame.subarray(0, 14 + 20 + 32 + 10));
    assert.ok(r.ok);
    assert.equal(r.packet.tcp?.payloadBytes, 1000);
  });

  it('rejects a TCP header cut inside its options as truncated', () => {
    const r = decodeFrame(LinkType.ETHERNET, syn.subarray(0, syn.length - 1));
    assert.ok(!r.ok);
    assert.deepEqual([r.error.kind, r.error.layer, r.error.offset], ['truncated', 'tcp', 34]);
  });

  it('rejects an IPv4 header length below 20 and a total length below the header', () => {
    const badIhl = syn.slice();
    badIhl[14] = 0x44;
    const r1 = decodeFrame(LinkType.ETHERNET, badIhl);
    assert.ok(!r1.ok && r1.error.kind === 'malformed' && r1.error.layer === 'ipv4');
    const badTotal = syn.slice();
    badTotal[16] = 0;
    badTotal[17] = 19;
    const r2 = decodeFrame(LinkType.ETHERNET, badTotal);
    assert.ok(!r2.ok && r2.error.kind === 'malformed');
  });

  it('rejects TCP options with impossible lengths', () => {
    for (const raw of [[2, 3, 0, 0], [0x99, 1, 0, 0], [0x99, 9, 0, 0], [5, 6, 0, 0, 0, 0, 0, 0], [8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]) {
      const frame = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', rawTcpOptions: raw });
      const r = decodeFrame(LinkType.ETHERNET, frame);
      assert.ok(!r.ok && r.error.layer === 'tcp' && r.error.kind === 'malformed', `options ${raw}`);
    }
  });

  it('skips unknown TCP options by their length', () => {
    const frame = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', mss: 1400, rawTcpOptions: [0xfe, 6, 1, 2, 3, 4, 1, 3, 3, 7] });
    const r = decodeFrame(LinkType.ETHERNET, frame);
    assert.ok(r.ok);
    assert.equal(r.packet.tcp?.options.mss, 1400);
    assert.equal(r.packet.tcp?.options.windowScale, 7);
  });

  it('does not decode the transport of a non-first fragment', () => {
    const frame = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', df: false, fragment: { offsetBytes: 1480, moreFragments: false }, ipId: 77 });
    const r = decodeFrame(LinkType.ETHERNET, frame);
    assert.ok(r.ok);
    assert.equal(r.packet.tcp, null);
    assert.deepEqual(r.packet.ip.fragment, { id: 77, offsetBytes: 1480, moreFragments: false });
  });

  it('stops at ESP and reports it as the protocol', () => {
    const frame = buildUdp({ src: 'fd00::1', dst: 'fd00::2', ipv6ExtensionHeaders: [{ type: 60 }], protocol: 50 });
    const r = decodeFrame(LinkType.ETHERNET, frame);
    assert.ok(r.ok);
    assert.equal(r.packet.ip.protocol, 50);
    assert.deepEqual(r.packet.ip.extensionHeaders, [60]);
    assert.equal(r.packet.udp, null);
  });

  it('returns a null MTU for a frag-needed from a pre-RFC 1191 router (MTU 0)', () => {
    const quoted = buildTcp({ link: 'raw', src: '10.0.0.1', dst: '10.0.0.2' });
    const r = decodeFrame(LinkType.ETHERNET, buildIcmpFragNeeded({ src: '10.0.0.254', dst: '10.0.0.1', mtu: 0, quoted }));
    assert.ok(r.ok);
    assert.equal(r.packet.icmp?.mtu, null);
    assert.equal(r.packet.icmp?.quoted?.tcp?.dstPort, 8080);
  });
});
