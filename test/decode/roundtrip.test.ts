/** Builder → decoder: whatever fields go in come back out (fast-check properties). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIpAddress } from '../../src/decode/address';
import { decodeFrame, decodeNetwork } from '../../src/decode/decode';
import { LinkType, type DecodeResult, type DecodedPacket, type IpInfo } from '../../src/decode/types';
import {
  buildIcmpEcho,
  buildIcmpFragNeeded,
  buildIcmpv6PacketTooBig,
  buildTcp,
  buildUdp,
  dgramEtherType,
  isIpv6Text,
  type IpBuildOptions,
  type LinkKind,
  type UdpBuildOptions,
} from '../support/packet-builder';
import { echoArb, ipArb, tcpArb, tcpOptionBytes, udpArb } from './arbitraries';

const RUNS = 2000;

const LINK_TYPE: Record<Exclude<LinkKind, 'dgram'>, LinkType> = {
  ethernet: LinkType.ETHERNET,
  raw: LinkType.RAW,
  sll: LinkType.LINUX_SLL,
  sll2: LinkType.LINUX_SLL2,
  null: LinkType.NULL,
};

/** Decodes a builder frame the way its link kind is read in practice. */
export function decodeBuilt(options: IpBuildOptions, frame: Uint8Array): DecodeResult {
  const link = options.link ?? 'ethernet';
  return link === 'dgram' ? decodeNetwork(dgramEtherType(options), frame) : decodeFrame(LINK_TYPE[link], frame);
}

function mustDecode(options: IpBuildOptions, frame: Uint8Array): DecodedPacket {
  const result = decodeBuilt(options, frame);
  if (!result.ok) assert.fail(`${result.error.layer}: ${result.error.message} (${JSON.stringify(options)})`);
  return result.packet;
}

function sameAddress(text: string, expected: string): void {
  assert.deepEqual(parseIpAddress(text), parseIpAddress(expected), `${text} vs ${expected}`);
}

/** Is this the first fragment or not a fragment: the transport header follows. */
export function carriesTransport(options: IpBuildOptions): boolean {
  return options.fragment === undefined || options.fragment.offsetBytes === 0;
}

function checkIp(ip: IpInfo, o: IpBuildOptions, transportBytes: number): void {
  const v6 = isIpv6Text(o.src);
  sameAddress(ip.src, o.src);
  sameAddress(ip.dst, o.dst);
  assert.equal(ip.version, v6 ? 6 : 4);
  assert.equal(ip.ttl, o.ttl);
  if (v6) {
    const types = (o.ipv6ExtensionHeaders ?? []).map((h) => h.type);
    if (o.fragment) types.push(44);
    assert.deepEqual(ip.extensionHeaders, types);
    const extensionBytes = (o.ipv6ExtensionHeaders ?? []).reduce((n, h) => n + (h.lengthBytes ?? 8), 0) + (o.fragment ? 8 : 0);
    assert.equal(ip.headerBytes, 40 + extensionBytes);
    assert.equal(ip.ipId, o.fragment ? o.fragment.id : null);
    assert.deepEqual(ip.fragment, o.fragment ? { id: o.fragment.id, offsetBytes: o.fragment.offsetBytes, moreFragments: o.fragment.moreFragments } : null);
  } else {
    assert.equal(ip.ipId, o.ipId);
    assert.equal(ip.dontFragment, o.df);
    const options = o.ipv4Options ?? [];
    assert.equal(ip.headerBytes, 20 + Math.ceil(options.length / 4) * 4);
    const expectedTypes: number[] = [];
    for (let i = 0; i < options.length; ) {
      if (options[i] === 1) i++;
      else {
        expectedTypes.push(options[i]);
        i += options[i + 1];
      }
    }
    assert.deepEqual(ip.optionTypes, expectedTypes);
    assert.deepEqual(ip.fragment, o.fragment ? { id: o.ipId, offsetBytes: o.fragment.offsetBytes, moreFragments: o.fragment.moreFragments } : null);
  }
  assert.equal(ip.totalBytes, ip.headerBytes + transportBytes);
}

describe('builder → decoder round trip', () => {
  it('TCP: ports, flags, sequence numbers, window and every option', () => {
    fc.assert(
      fc.property(tcpArb, (o) => {
        const p = mustDecode(o, buildTcp(o));
        const payloadBytes = o.payload?.length ?? 0;
        const optionBytes = tcpOptionBytes(o);
        checkIp(p.ip, o, 20 + optionBytes + payloadBytes);
        assert.equal(p.ip.protocol, 6);
        assert.deepEqual(p.link.vlanIds, o.vlanIds ?? []);
        if (!carriesTransport(o)) {
          assert.equal(p.tcp, null);
          return;
        }
        assert.ok(p.tcp);
        assert.deepEqual(
          [p.tcp.srcPort, p.tcp.dstPort, p.tcp.flags, p.tcp.seq, p.tcp.ack, p.tcp.window, p.tcp.payloadBytes],
          [o.srcPort, o.dstPort, o.flags, o.seq, o.ack, o.window, payloadBytes],
        );
        assert.deepEqual(p.tcp.options, {
          mss: o.mss ?? null,
          windowScale: o.windowScale ?? null,
          sackPermitted: o.sackPermitted ?? false,
          sackBlocks: o.sack ?? [],
          timestamp: o.timestamp ?? null,
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('UDP: ports and length', () => {
    fc.assert(
      fc.property(udpArb, (o) => {
        const p = mustDecode(o, buildUdp(o));
        const lengthBytes = 8 + (o.payload?.length ?? 0);
        checkIp(p.ip, o, lengthBytes);
        if (carriesTransport(o)) assert.deepEqual(p.udp, { srcPort: o.srcPort, dstPort: o.dstPort, lengthBytes });
        else assert.equal(p.udp, null);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('ICMP and ICMPv6 echo: kind, identifier, sequence', () => {
    fc.assert(
      fc.property(echoArb, (o) => {
        const p = mustDecode(o, buildIcmpEcho(o));
        if (!carriesTransport(o)) return;
        assert.equal(p.icmp?.version, isIpv6Text(o.src) ? 6 : 4);
        assert.equal(p.icmp?.kind, o.echo === 'reply' ? 'echo-reply' : 'echo-request');
        assert.deepEqual(p.icmp?.echo, { id: o.id, seq: o.seq });
        assert.equal(p.icmp?.quoted, null);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('frag-needed and packet-too-big: MTU and the quoted packet', () => {
    const arb = fc.record({
      outer: ipArb.filter((o) => o.fragment === undefined),
      inner: fc.oneof(tcpArb, udpArb, echoArb).filter((o) => o.fragment === undefined),
      mtu: fc.integer({ min: 1, max: 0xffff }),
      extraQuotedBytes: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(arb, ({ outer, inner, mtu, extraQuotedBytes }) => {
        const v6 = isIpv6Text(inner.src);
        // The ICMP message goes back to the sender of `inner`, over the same IP version.
        const quotedOptions = { ...inner, link: 'raw' as const, vlanIds: [] };
        const quoted = 'flags' in inner ? buildTcp(quotedOptions) : 'echo' in inner ? buildIcmpEcho(quotedOptions) : buildUdp(quotedOptions);
        const outerSameFamily = { ...outer, src: v6 ? 'fe80::1' : '192.0.2.1', dst: inner.src, ipv4Options: v6 ? undefined : outer.ipv4Options, ipv6ExtensionHeaders: v6 ? outer.ipv6ExtensionHeaders : undefined };
        const ipHeaderBytes = v6 ? 40 + (inner.ipv6ExtensionHeaders ?? []).reduce((n, h) => n + (h.lengthBytes ?? 8), 0) : (quoted[0] & 0x0f) * 4;
        // At least the IP header and 8 bytes (RFC 792), sometimes more.
        const quotedBytes = ipHeaderBytes + 8 + extraQuotedBytes;
        const frame = v6
          ? buildIcmpv6PacketTooBig({ ...outerSameFamily, mtu, quoted, quotedBytes })
          : buildIcmpFragNeeded({ ...outerSameFamily, mtu, quoted, quotedBytes });
        const p = mustDecode(outerSameFamily, frame);
        assert.equal(p.icmp?.kind, v6 ? 'packet-too-big' : 'frag-needed');
        assert.equal(p.icmp?.mtu, mtu);
        const q = p.icmp?.quoted;
        assert.ok(q, 'quoted packet decoded');
        sameAddress(q.ip.src, inner.src);
        sameAddress(q.ip.dst, inner.dst);
        assert.equal(q.ip.totalBytes, quoted.length);
        if ('flags' in inner) assert.deepEqual(q.tcp, { srcPort: inner.srcPort, dstPort: inner.dstPort, seq: inner.seq });
        else if ('echo' in inner) assert.deepEqual(q.echo, inner.echo === 'reply' ? null : { id: inner.id, seq: inner.seq });
        else assert.deepEqual(q.udp, { srcPort: (inner as UdpBuildOptions).srcPort, dstPort: (inner as UdpBuildOptions).dstPort });
      }),
      { numRuns: RUNS / 2 },
    );
  });
});
