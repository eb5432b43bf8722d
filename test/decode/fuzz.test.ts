/**
 * Fuzzing: arbitrary bytes and mutated valid frames (truncations, bit flips) into
 * every decoder and link type. The result is always ok or a DecodeError, never a
 * throw, and every offset it reports lies within the input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, decodeNetwork } from '../../src/decode/decode';
import { decodeIcmp } from '../../src/decode/icmp';
import { decodeIpv4 } from '../../src/decode/ipv4';
import { decodeIpv6 } from '../../src/decode/ipv6';
import { decodeTcp } from '../../src/decode/tcp';
import { DecodeError, LinkType, type DecodeResult, type IpInfo } from '../../src/decode/types';
import { decodeUdp } from '../../src/decode/udp';
import { buildIcmpEcho, buildIcmpFragNeeded, buildIcmpv6PacketTooBig, buildTcp, buildUdp, type LinkKind } from '../support/packet-builder';
import { echoArb, tcpArb, udpArb } from './arbitraries';

const RUNS = 3000;
const ALL_LINK_TYPES = Object.values(LinkType);
const ERROR_KINDS = ['truncated', 'unsupported', 'malformed'];
const ETHER_TYPES = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x0806, 0];

function checkIpBounds(ip: IpInfo, length: number): void {
  assert.ok(ip.offset >= 0 && ip.payloadOffset <= length, 'IP offsets within the input');
  assert.equal(ip.payloadOffset, ip.offset + ip.headerBytes);
  assert.ok(ip.headerBytes <= ip.totalBytes);
  assert.ok(ip.version === 4 || ip.version === 6);
}

function checkResult(result: DecodeResult, length: number): void {
  if (!result.ok) {
    assert.ok(result.error instanceof DecodeError);
    assert.ok(ERROR_KINDS.includes(result.error.kind));
    assert.ok(result.error.offset >= 0 && result.error.offset <= length, `error offset ${result.error.offset} of ${length}`);
    return;
  }
  const { link, ip, tcp, icmp } = result.packet;
  assert.ok(link.networkOffset >= 0 && link.networkOffset <= length);
  assert.equal(ip.offset, link.networkOffset);
  checkIpBounds(ip, length);
  if (tcp) {
    assert.ok(ip.payloadOffset + tcp.headerBytes <= length, 'TCP header within the input');
    assert.ok(tcp.payloadBytes >= 0);
  }
  if (icmp?.quoted) checkIpBounds(icmp.quoted.ip, length);
}

/** Decodes `frame` with every entry point and checks each result. */
function decodeEverywhere(frame: Uint8Array, etherType: number): void {
  for (const linkType of ALL_LINK_TYPES) checkResult(decodeFrame(linkType, frame), frame.length);
  checkResult(decodeNetwork(etherType, frame), frame.length);
}

const LINK_TYPE_OF: Record<LinkKind, number> = {
  ethernet: LinkType.ETHERNET,
  raw: LinkType.RAW,
  sll: LinkType.LINUX_SLL,
  sll2: LinkType.LINUX_SLL2,
  null: LinkType.NULL,
  dgram: LinkType.RAW,
};

/** A valid frame of any kind the builder makes. */
const validFrameArb = fc.oneof(
  tcpArb.map((o) => ({ o, frame: buildTcp(o) })),
  udpArb.map((o) => ({ o, frame: buildUdp(o) })),
  echoArb.map((o) => ({ o, frame: buildIcmpEcho(o) })),
  fc.tuple(tcpArb, fc.integer({ min: 0, max: 0xffff })).map(([inner, mtu]) => {
    const quoted = buildTcp({ ...inner, link: 'raw', vlanIds: [] });
    const o = { src: inner.dst, dst: inner.src, mtu, quoted };
    return { o: { link: 'ethernet' as const }, frame: inner.src.includes(':') ? buildIcmpv6PacketTooBig(o) : buildIcmpFragNeeded(o) };
  }),
);

describe('decoders never throw', () => {
  it('arbitrary bytes into every link type and decodeNetwork', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.constantFrom(...ETHER_TYPES), (bytes, etherType) => {
        decodeEverywhere(bytes, etherType);
      }),
      { numRuns: RUNS },
    );
  });

  it('arbitrary bytes behind a plausible IPv4/IPv6 first byte', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x6f), fc.uint8Array({ minLength: 0, maxLength: 120 }), (first, rest) => {
        const packet = Uint8Array.from([first, ...rest]);
        decodeEverywhere(packet, first >> 4 === 4 ? 0x0800 : 0x86dd);
      }),
      { numRuns: RUNS },
    );
  });

  it('truncated and bit-flipped valid frames', () => {
    const mutationArb = fc.record({
      cut: fc.nat(),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
      truncate: fc.boolean(),
    });
    fc.assert(
      fc.property(validFrameArb, mutationArb, ({ o, frame }, { cut, flips, truncate }) => {
        const mutated = truncate ? frame.slice(0, cut % (frame.length + 1)) : frame.slice();
        for (const [at, bit] of flips) if (mutated.length > 0) mutated[at % mutated.length] ^= 1 << bit;
        const link = o.link ?? 'ethernet';
        checkResult(decodeFrame(LINK_TYPE_OF[link] as LinkType, mutated), mutated.length);
        decodeEverywhere(mutated, 0x0800);
        decodeEverywhere(mutated, 0x8100);
      }),
      { numRuns: RUNS },
    );
  });

  it('the layer decoders at arbitrary offsets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 110 }), fc.integer({ min: -10, max: 2000 }), (bytes, offset, segmentBytes) => {
        const results: unknown[] = [
          decodeIpv4(bytes, offset),
          decodeIpv6(bytes, offset),
          decodeTcp(bytes, offset, segmentBytes),
          decodeUdp(bytes, offset, segmentBytes),
          decodeIcmp(bytes, offset, 4),
          decodeIcmp(bytes, offset, 6),
        ];
        for (const result of results) {
          if (result instanceof DecodeError) assert.ok(ERROR_KINDS.includes(result.kind));
          else assert.equal(typeof result, 'object');
        }
      }),
      { numRuns: RUNS },
    );
  });
});
