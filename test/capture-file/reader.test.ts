import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { LinkType } from '../../src/decode/types';
import { decodeFrame } from '../../src/decode/decode';
import { readAllPackets, readWithPcapParser, tsharkFields, tsharkSkipReason } from '../support/capture-readers';
import { writePcap, writePcapng, type FixturePacket } from '../support/capture-writer';
import { buildTcp, type LinkKind } from '../support/packet-builder';

const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer): string => {
  const where = path.join(dir, name);
  writeFileSync(where, bytes);
  return where;
};

const BASE_NS = 1_795_000_000_123_456_789n;

/** Three segments of one connection (SYN, SYN-ACK, RST) framed for `link`. */
function conversation(link: LinkKind, family: 4 | 6 = 4, extra: Partial<Parameters<typeof buildTcp>[0]> = {}): FixturePacket[] {
  const [client, server] = family === 4 ? ['10.1.0.1', '10.2.0.2'] : ['fd00::1', 'fd00::2'];
  const frames = [
    buildTcp({ link, src: client, dst: server, srcPort: 40000, dstPort: 80, flags: 'SYN', seq: 100, ...extra }),
    buildTcp({ link, src: server, dst: client, srcPort: 80, dstPort: 40000, flags: ['SYN', 'ACK'], seq: 500, ack: 101, ttl: 61, ...extra }),
    buildTcp({ link, src: server, dst: client, srcPort: 80, dstPort: 40000, flags: 'RST', seq: 501, ttl: 61, ...extra }),
  ];
  return frames.map((frame, index) => ({ frame, timeNs: BASE_NS + BigInt(index) * 1_000_123n }));
}

const expectedMs = (timeNs: bigint, nanos: boolean): number => {
  const seconds = Number(timeNs / 1_000_000_000n);
  const fractionNs = Number(timeNs % 1_000_000_000n);
  return nanos ? seconds * 1000 + fractionNs / 1e6 : seconds * 1000 + Math.floor(fractionNs / 1000) / 1000;
};

function assertSameFrames(read: Awaited<ReturnType<typeof readAllPackets>>['packets'], written: readonly FixturePacket[], nanos: boolean): void {
  assert.equal(read.length, written.length);
  read.forEach((packet, index) => {
    assert.equal(packet.hex, Buffer.from(written[index].frame).toString('hex'), `packet ${index} bytes`);
    assert.equal(packet.timeMs, expectedMs(written[index].timeNs, nanos), `packet ${index} time`);
  });
}

describe('pcap: every link type and byte order', () => {
  const cases: Array<{ name: string; link: LinkKind; fileLinkType: number; linkType: number; family?: 4 | 6; extra?: Parameters<typeof conversation>[2] }> = [
    { name: 'Ethernet', link: 'ethernet', fileLinkType: 1, linkType: LinkType.ETHERNET },
    { name: 'Ethernet with a VLAN tag', link: 'ethernet', fileLinkType: 1, linkType: LinkType.ETHERNET, extra: { vlanIds: [42] } },
    { name: 'Linux SLL', link: 'sll', fileLinkType: 113, linkType: LinkType.LINUX_SLL },
    { name: 'Linux SLL2', link: 'sll2', fileLinkType: 276, linkType: LinkType.LINUX_SLL2, family: 6 },
    { name: 'LINKTYPE_RAW', link: 'raw', fileLinkType: 101, linkType: LinkType.RAW, family: 6 },
    { name: 'DLT_RAW 12', link: 'raw', fileLinkType: 12, linkType: LinkType.RAW },
    { name: 'DLT_RAW 14 (OpenBSD)', link: 'raw', fileLinkType: 14, linkType: LinkType.RAW },
    { name: 'LINKTYPE_IPV4', link: 'raw', fileLinkType: 228, linkType: LinkType.IPV4 },
    { name: 'LINKTYPE_IPV6', link: 'raw', fileLinkType: 229, linkType: LinkType.IPV6, family: 6 },
    { name: 'BSD loopback (NULL), little-endian family', link: 'null', fileLinkType: 0, linkType: LinkType.NULL },
    { name: 'BSD loopback (NULL), IPv6', link: 'null', fileLinkType: 0, linkType: LinkType.NULL, family: 6, extra: { nullInet6Family: 30 } },
    { name: 'DLT_LOOP 108, big-endian family', link: 'null', fileLinkType: 108, linkType: LinkType.NULL, extra: { nullByteOrder: 'big' } },
  ];
  for (const each of cases) {
    for (const littleEndian of [true, false]) {
      for (const nanos of [false, true]) {
        test(`${each.name}, ${littleEndian ? 'little' : 'big'}-endian, ${nanos ? 'ns' : 'µs'}: bytes, times and decoded addresses`, async () => {
          const packets = conversation(each.link, each.family, each.extra);
          const where = file(`${each.fileLinkType}-${littleEndian}-${nanos}-${each.name.length}.pcap`, writePcap(packets, { linkType: each.fileLinkType, littleEndian, nanos }));
          const { packets: read, summary } = await readAllPackets(where);
          assert.equal(summary.format, nanos ? 'pcap-ns' : 'pcap');
          assert.equal(summary.problem, null);
          assertSameFrames(read, packets, nanos);
          for (const packet of read) {
            assert.equal(packet.linkType, each.linkType);
            const decoded = decodeFrame(packet.linkType as LinkType, Buffer.from(packet.hex, 'hex'));
            assert.ok(decoded.ok, JSON.stringify(decoded));
            assert.ok(decoded.packet.tcp !== null);
          }
          if (!nanos) {
            // pcap-parser reads only µs files: both readers agree packet for packet.
            assert.deepEqual(read, await readWithPcapParser(where).then((list) => list.map((packet) => ({ ...packet, linkType: read[0].linkType }))));
          }
        });
      }
    }
  }

  test('tshark reads the fixtures as the reader does (times, lengths, addresses)', { skip: tsharkSkipReason() }, async () => {
    for (const [link, fileLinkType, nanos] of [['ethernet', 1, false], ['sll2', 276, true], ['null', 0, false], ['raw', 101, true]] as const) {
      const packets = conversation(link);
      const where = file(`tshark-${fileLinkType}.pcap`, writePcap(packets, { linkType: fileLinkType, littleEndian: false, nanos }));
      const { packets: read } = await readAllPackets(where);
      const rows = await tsharkFields(where, ['frame.time_epoch', 'frame.cap_len', 'ip.src', 'tcp.srcport']);
      assert.equal(rows.length, read.length, `${link}`);
      rows.forEach(([epoch, caplen, src, port], index) => {
        assert.ok(Math.abs(Number(epoch) * 1000 - read[index].timeMs) < 0.01, `${link} ${epoch} vs ${read[index].timeMs}`);
        assert.equal(Number(caplen), read[index].capturedBytes);
        assert.equal(src, index === 0 ? '10.1.0.1' : '10.2.0.2');
        assert.equal(Number(port), index === 0 ? 40000 : 80);
      });
    }
  });

  test('a file larger than the read buffer: records straddling reads arrive whole, as pcap-parser reads them', async () => {
    const packets: FixturePacket[] = [];
    for (let index = 0; index < 9000; index++) {
      const payload = new Uint8Array(200 + (index % 700)).fill(index & 0xff);
      packets.push({ frame: buildTcp({ src: '10.1.0.1', dst: '10.2.0.2', srcPort: 40000, dstPort: 80, seq: index, payload }), timeNs: BASE_NS + BigInt(index) * 1000n });
    }
    const where = file('large.pcap', writePcap(packets, { linkType: 1 }));
    const { packets: read, summary } = await readAllPackets(where, 2 << 20);
    assert.ok(summary.bytes > 4 << 20, 'the file spans several reads');
    assert.equal(summary.problem, null);
    assert.deepEqual(read, await readWithPcapParser(where).then((list) => list.map((packet) => ({ ...packet, linkType: LinkType.ETHERNET }))));
  });
});

describe('pcapng', () => {
  test('two sections of opposite byte order, several interfaces with their own link types and resolutions, EPB, SPB, PB, unknown blocks', async () => {
    const eth = conversation('ethernet');
    const raw6 = conversation('raw', 6);
    const sll2 = conversation('sll2');
    const sectionA = {
      littleEndian: true,
      interfaces: [
        { linkType: 1, tsresol: 6 },
        { linkType: 101, tsresol: 9 },
      ],
      unknownBlocks: [{ type: 0x00000bad, body: new Uint8Array(40) }, { type: 0x00000005, body: new Uint8Array(20) }],
      packets: [
        { ...eth[0], interfaceId: 0 },
        { ...raw6[0], interfaceId: 1 },
        { ...eth[1], interfaceId: 0, block: 'pb' as const },
        { ...raw6[2], interfaceId: 1 },
      ],
    };
    const sectionB = {
      littleEndian: false,
      interfaces: [{ linkType: 276, tsresol: 0x80 | 20 }],
      packets: [sll2[0], sll2[1], { ...sll2[2], block: 'spb' as const }],
    };
    const where = file('mixed.pcapng', writePcapng([sectionA, sectionB]));
    const { packets: read, summary } = await readAllPackets(where);
    assert.equal(summary.format, 'pcapng');
    assert.equal(summary.problem, null);
    assert.deepEqual(
      read.map((packet) => packet.linkType),
      [LinkType.ETHERNET, LinkType.RAW, LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL2, LinkType.LINUX_SLL2, LinkType.LINUX_SLL2],
    );
    const written = [...sectionA.packets, ...sectionB.packets];
    read.forEach((packet, index) => assert.equal(packet.hex, Buffer.from(written[index].frame).toString('hex')));
    // µs and ns interfaces give exact times; 2^-20 s ticks are within a microsecond.
    assert.equal(read[0].timeMs, expectedMs(eth[0].timeNs, false));
    assert.ok(Math.abs(read[1].timeMs - expectedMs(raw6[0].timeNs, true)) < 1e-3);
    assert.ok(Math.abs(read[4].timeMs - expectedMs(sll2[0].timeNs, true)) < 1e-3);
    assert.equal(read[6].timeMs, read[5].timeMs, 'an SPB has no time: it takes the previous packet\'s');
  });

  test('little-endian EPBs (the fast path) read exactly as the same blocks big-endian (the general path)', async () => {
    const eth = conversation('ethernet');
    const raw6 = conversation('raw', 6);
    const section = (littleEndian: boolean) => ({
      littleEndian,
      interfaces: [{ linkType: 1, tsresol: 9 }, { linkType: 147 }, { linkType: 101, snapBytes: 4096, tsresol: 0x80 | 20 }],
      packets: [
        { ...eth[0], interfaceId: 0 },
        { ...eth[1], interfaceId: 1 }, // a link type rstprobe does not read: counted, not delivered
        { ...raw6[0], interfaceId: 2 },
        { ...eth[2], interfaceId: 0, block: 'spb' as const },
        { ...raw6[1], interfaceId: 2 },
      ],
    });
    const little = await readAllPackets(file('fast-le.pcapng', writePcapng([section(true)])));
    const big = await readAllPackets(file('fast-be.pcapng', writePcapng([section(false)])));
    assert.equal(little.summary.problem, null);
    assert.equal(little.packets.length, 4);
    assert.deepEqual(little.packets, big.packets);
    assert.deepEqual([...little.summary.unsupportedLinkTypes], [[147, 1]]);
    assert.deepEqual([...big.summary.unsupportedLinkTypes], [[147, 1]]);
    assert.equal(little.summary.packets, 5);
    assert.equal(little.summary.bytes, big.summary.bytes);
  });

  test('a block larger than the read buffer of an unknown type is skipped', async () => {
    const eth = conversation('ethernet');
    const where = file('big-unknown.pcapng', writePcapng([{ interfaces: [{ linkType: 1 }], unknownBlocks: [{ type: 0x0a, body: new Uint8Array(3 << 20) }], packets: eth }]));
    const { packets: read, summary } = await readAllPackets(where, 2 << 20);
    assert.equal(summary.problem, null);
    assert.equal(read.length, 3);
  });

  test('tshark reads the fixture with the same packets', { skip: tsharkSkipReason() }, async () => {
    const eth = conversation('ethernet');
    const raw6 = conversation('raw', 6);
    const where = file('tshark.pcapng', writePcapng([{ littleEndian: false, interfaces: [{ linkType: 1 }, { linkType: 101, tsresol: 9 }], packets: [eth[0], { ...raw6[1], interfaceId: 1 }, eth[2]] }]));
    const { packets: read } = await readAllPackets(where);
    const rows = await tsharkFields(where, ['frame.time_epoch', 'frame.cap_len', 'frame.interface_id']);
    assert.deepEqual(rows.map((row) => Number(row[1])), read.map((packet) => packet.capturedBytes));
    rows.forEach(([epoch], index) => assert.ok(Math.abs(Number(epoch) * 1000 - read[index].timeMs) < 0.01));
  });
});

describe('gzip', () => {
  test('a gzip-compressed pcap and pcapng read like the plain files', async () => {
    const packets = conversation('ethernet');
    const pcap = writePcap(packets, { linkType: 1 });
    const pcapng = writePcapng([{ interfaces: [{ linkType: 1 }], packets }]);
    for (const [name, bytes] of [['a.pcap', pcap], ['a.pcapng', pcapng]] as const) {
      const plain = await readAllPackets(file(name, bytes));
      const zipped = await readAllPackets(file(`${name}.gz`, gzipSync(bytes)));
      assert.equal(zipped.summary.gzip, true);
      assert.equal(zipped.summary.problem, null);
      assert.deepEqual(zipped.packets, plain.packets);
    }
  });
});
