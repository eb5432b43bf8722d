/**
 * fast-check arbitraries of builder options: random but valid packets, shared by
 * the decoder round-trip and fuzz tests and the BPF filter tests.
 */
import fc from 'fast-check';
import type {
  FragmentSpec,
  IcmpEchoBuildOptions,
  IpBuildOptions,
  LinkKind,
  TcpBuildOptions,
  UdpBuildOptions,
} from '../support/packet-builder';

const byte = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** IPv4 text from 4 random bytes. */
export const ipv4Text = fc.tuple(byte, byte, byte, byte).map((b) => b.join('.'));
/** IPv6 text, uncompressed, with zero groups made likely so `::` compression is exercised. */
export const ipv6Text = fc
  .array(fc.oneof(fc.constant(0), u16), { minLength: 8, maxLength: 8 })
  .map((groups) => groups.map((g) => g.toString(16)).join(':'));

export const vlanIdsArb = fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 });

export const linkArb: fc.Arbitrary<{ link: LinkKind; vlanIds: number[] }> = fc.oneof(
  fc.record({ link: fc.constantFrom<LinkKind>('ethernet', 'sll', 'sll2', 'dgram'), vlanIds: vlanIdsArb }),
  fc.record({ link: fc.constantFrom<LinkKind>('raw', 'null'), vlanIds: fc.constant<number[]>([]) }),
);

/** IPv4 options: NOPs and record-route/timestamp-like options with valid lengths, at most 40 bytes. */
const ipv4OptionsArb = fc
  .array(
    fc.oneof(
      fc.constant([1]),
      fc.record({ type: fc.constantFrom(7, 68, 130, 148), dataBytes: fc.integer({ min: 0, max: 10 }) }).map(({ type, dataBytes }) => [
        type,
        2 + dataBytes,
        ...new Array<number>(dataBytes).fill(4),
      ]),
    ),
    { maxLength: 4 },
  )
  .map((options) => options.flat())
  .filter((bytes) => bytes.length <= 40);

const ipv6ExtensionsArb = fc.array(
  fc.oneof(
    fc.record({ type: fc.constantFrom(0, 43, 60), lengthBytes: fc.constantFrom(8, 16, 24) }),
    fc.record({ type: fc.constant(51), lengthBytes: fc.constantFrom(16, 24) }),
  ),
  { maxLength: 3 },
);

/** First fragments (offset 0, MF) and non-first ones. */
export const fragmentArb: fc.Arbitrary<FragmentSpec> = fc.record({
  id: u32,
  offsetBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8000 }).map((n) => n * 8)),
  moreFragments: fc.boolean(),
}).filter((f) => f.offsetBytes !== 0 || f.moreFragments);

export const ipArb: fc.Arbitrary<IpBuildOptions> = fc
  .record({
    v6: fc.boolean(),
    src4: ipv4Text,
    dst4: ipv4Text,
    src6: ipv6Text,
    dst6: ipv6Text,
    link: linkArb,
    ttl: byte,
    ipId: u16,
    df: fc.boolean(),
    tos: byte,
    ipv4Options: ipv4OptionsArb,
    ipv6ExtensionHeaders: ipv6ExtensionsArb,
    fragment: fc.option(fragmentArb, { freq: 4 }),
  })
  .map((r) => ({
    ...r.link,
    src: r.v6 ? r.src6 : r.src4,
    dst: r.v6 ? r.dst6 : r.dst4,
    ttl: r.ttl,
    ipId: r.ipId,
    df: r.df,
    tos: r.tos,
    ...(r.v6 ? { ipv6ExtensionHeaders: r.ipv6ExtensionHeaders } : { ipv4Options: r.ipv4Options }),
    ...(r.fragment === null ? {} : { fragment: r.fragment }),
  }));

const payloadArb = fc.integer({ min: 0, max: 64 }).map((n) => new Uint8Array(n).fill(0xab));

export const tcpArb: fc.Arbitrary<TcpBuildOptions> = fc
  .record({
    ip: ipArb,
    srcPort: u16,
    dstPort: u16,
    flags: byte,
    seq: u32,
    ack: u32,
    window: u16,
    mss: fc.option(u16),
    windowScale: fc.option(fc.integer({ min: 0, max: 14 })),
    sackPermitted: fc.boolean(),
    timestamp: fc.option(fc.record({ value: u32, echo: u32 })),
    sack: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
    payload: payloadArb,
  })
  .map(({ ip, mss, windowScale, timestamp, ...tcp }) => ({
    ...ip,
    ...tcp,
    ...(mss === null ? {} : { mss }),
    ...(windowScale === null ? {} : { windowScale }),
    ...(timestamp === null ? {} : { timestamp: { value: timestamp.value, echo: timestamp.echo } }),
  }))
  .filter((o) => tcpOptionBytes(o) <= 40);

/** Bytes the builder spends on TCP options (its layout, see tcpOptionBytes in the builder). */
export function tcpOptionBytes(o: TcpBuildOptions): number {
  let n = o.mss !== undefined ? 4 : 0;
  if (o.sackPermitted && o.timestamp) n += 12;
  else n += (o.sackPermitted ? 4 : 0) + (o.timestamp ? 12 : 0);
  if (o.windowScale !== undefined) n += 4;
  if (o.sack && o.sack.length > 0) n += 4 + 8 * o.sack.length;
  return n;
}

export const udpArb: fc.Arbitrary<UdpBuildOptions> = fc
  .record({ ip: ipArb, srcPort: u16, dstPort: u16, payload: payloadArb })
  .map(({ ip, ...udp }) => ({ ...ip, ...udp }));

export const echoArb: fc.Arbitrary<IcmpEchoBuildOptions> = fc
  .record({ ip: ipArb, echo: fc.constantFrom<'request' | 'reply'>('request', 'reply'), id: u16, seq: u16, payload: payloadArb })
  .map(({ ip, ...echo }) => ({ ...ip, ...echo }));
