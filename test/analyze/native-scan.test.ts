import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { scanCaptureFile, type ScanOptions } from '../../src/analyze/capture-scan';
import { loadScanBinding } from '../../src/analyze/native-scan';
import { pcapngBlock } from '../../src/evidence/pcapng-writer';
import { writePcap, writePcapng, type FixturePacket } from '../support/capture-writer';
import { buildUdp, type LinkKind, type TcpFlagName } from '../support/packet-builder';
import { CAPTURE_FIXTURES, captureDir, recordingSink, seededRandom, TcpConversation } from './scan-fixtures';

/**
 * The native scanner (native/src/capture_scan.cc) against the TypeScript scan it
 * follows, the reference: on every file, the sink must see the same calls (frames
 * byte for byte, times, duplicate flags, ticks) in the same order, and the scan
 * the same result (packets, problem with its offset and message, link types).
 */
const binding = loadScanBinding();
const skip = binding === null ? 'the native addon is not built (npm run build)' : undefined;

const { file } = captureDir('rstprobe-native-scan-');

/** Scans with both scanners; asserts the same calls and result; returns them. */
async function assertSameScan(where: string, options: ScanOptions = {}): Promise<{ calls: string[]; result: Awaited<ReturnType<typeof scanCaptureFile>> }> {
  const reference: string[] = [];
  const native: string[] = [];
  const expected = await scanCaptureFile(where, recordingSink(reference), { ...options, scanner: 'typescript' });
  const actual = await scanCaptureFile(where, recordingSink(native), { ...options, scanner: 'native' });
  assert.equal(native.length, reference.length, 'as many calls');
  for (let index = 0; index < reference.length; index++) assert.equal(native[index], reference[index], `call ${index}`);
  assert.deepEqual(actual, expected);
  return { calls: native, result: actual };
}


/**
 * Interleaved connections with everything the scan distinguishes: handshakes,
 * data and bare ACKs, gaps longer and shorter than a burst boundary, FINs, RSTs,
 * second copies one TTL lower or higher, and some UDP. IPv4 or IPv6, framed for `link`.
 */
function traffic(seed: number, link: LinkKind, family: 4 | 6, connections = 30, extra: { vlanIds?: number[] } = {}): FixturePacket[] {
  const next = seededRandom(seed);
  const events: Array<{ timeMs: number; frame: Uint8Array }> = [];
  for (let connection = 0; connection < connections; connection++) {
    const client = family === 4 ? `10.1.${connection >> 8}.${1 + (connection & 0x7f)}` : `fd00::1:${connection.toString(16)}`;
    const server = family === 4 ? `10.2.0.${1 + (connection % 5)}` : `fd00::2:${(connection % 5).toString(16)}`;
    const clientPort = 30000 + connection;
    const serverPort = connection % 2 === 0 ? 80 : 8080;
    let timeMs = next() * 3000;
    const conversation = new TcpConversation({ client, server, clientPort, serverPort }, next, { link, ...extra, fill: connection });
    const send = (fromClient: boolean, flags: TcpFlagName[], payloadBytes: number): void => {
      const frame = conversation.frame(fromClient, flags, payloadBytes);
      events.push({ timeMs, frame });
      if (next() < 0.15) {
        const copy = Uint8Array.from(frame);
        const ttlAt = copy.length - payloadBytes - 20 - (family === 4 ? 12 : 33);
        copy[ttlAt] += next() < 0.5 ? -1 : 1; // seen one hop later, or (a copy from before a hop) one earlier
        events.push({ timeMs: timeMs + next() * 0.2, frame: copy });
      }
    };
    send(true, ['SYN'], 0);
    timeMs += 1;
    send(false, ['SYN', 'ACK'], 0);
    const exchanges = 5 + Math.floor(next() * 40);
    for (let exchange = 0; exchange < exchanges; exchange++) {
      timeMs += next() < 0.1 ? 400 + next() * 800 : next() * 30;
      send(true, ['PSH', 'ACK'], Math.floor(next() * 300));
      timeMs += next() * 5;
      send(false, ['ACK'], next() < 0.5 ? 0 : 1 + Math.floor(next() * 1400));
      if (next() < 0.3) send(true, ['ACK'], 0);
    }
    timeMs += next() * 2000;
    const end = next();
    if (end < 0.4) send(false, ['RST', 'ACK'], 0);
    else if (end < 0.8) send(false, ['FIN', 'ACK'], 0);
    if (connection % 7 === 0) {
      events.push({ timeMs, frame: buildUdp({ link, ...extra, src: client, dst: server, srcPort: 5353, dstPort: 53, payload: new Uint8Array(20) }) });
    }
  }
  events.sort((a, b) => a.timeMs - b.timeMs);
  const startNs = 1_795_000_000_000_000_000n;
  return events.map(({ timeMs, frame }) => ({ frame, timeNs: startNs + BigInt(Math.round(timeMs * 1e6)) }));
}

describe('native scanner: the same output as the TypeScript scan', { skip }, () => {
  const links: Array<{ name: string; link: LinkKind; fileLinkType: number; family: 4 | 6; extra?: { vlanIds?: number[] } }> = [
    { name: 'Ethernet', link: 'ethernet', fileLinkType: 1, family: 4 },
    { name: 'Ethernet, QinQ', link: 'ethernet', fileLinkType: 1, family: 4, extra: { vlanIds: [10, 42] } },
    { name: 'Ethernet, IPv6', link: 'ethernet', fileLinkType: 1, family: 6 },
    { name: 'Linux SLL', link: 'sll', fileLinkType: 113, family: 4 },
    { name: 'Linux SLL2, IPv6', link: 'sll2', fileLinkType: 276, family: 6 },
    { name: 'raw', link: 'raw', fileLinkType: 101, family: 4 },
    { name: 'DLT_RAW 12, IPv6', link: 'raw', fileLinkType: 12, family: 6 },
    { name: 'LINKTYPE_IPV4', link: 'raw', fileLinkType: 228, family: 4 },
    { name: 'LINKTYPE_IPV6', link: 'raw', fileLinkType: 229, family: 6 },
    { name: 'BSD loopback', link: 'null', fileLinkType: 0, family: 4 },
  ];
  for (const [index, each] of links.entries()) {
    for (const littleEndian of [true, false]) {
      for (const nanos of [false, true]) {
        test(`pcap, ${each.name}, ${littleEndian ? 'little' : 'big'}-endian, ${nanos ? 'ns' : 'µs'}`, async () => {
          const packets = traffic(index + 1, each.link, each.family, 30, each.extra);
          const where = file(`links-${index}-${littleEndian}-${nanos}.pcap`, writePcap(packets, { linkType: each.fileLinkType, littleEndian, nanos }));
          const { calls, result } = await assertSameScan(where);
          assert.equal(result.read.packets, packets.length);
          assert.ok(calls.length > 60 && calls.length < packets.length, `${calls.length} calls for ${packets.length} packets: coalesced`);
        });
      }
    }
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}: 400 connections over chunks of 2 MiB, coalescing on and off`, async () => {
      const where = file(`many-${seed}.pcap`, writePcap(traffic(seed * 101, 'ethernet', 4, 400), { linkType: 1 }));
      const on = await assertSameScan(where, { bufferBytes: 2 << 20 });
      const off = await assertSameScan(where, { bufferBytes: 2 << 20, coalesce: false });
      assert.ok(on.result.read.bytes > 2 << 20, 'the file spans several reads');
      assert.ok(on.calls.length < off.calls.length);
    });
  }

  test('pcapng: two sections of opposite byte order, interfaces of several link types and resolutions, EPB, SPB, PB, unknown and unsupported', async () => {
    const eth = traffic(11, 'ethernet', 4, 6);
    const raw6 = traffic(12, 'raw', 6, 6);
    const sll2 = traffic(13, 'sll2', 4, 6);
    const sectionA = {
      littleEndian: true,
      interfaces: [{ linkType: 1, tsresol: 6 }, { linkType: 101, tsresol: 9 }, { linkType: 147 }],
      unknownBlocks: [{ type: 0x00000bad, body: new Uint8Array(40) }, { type: 0x00000005, body: new Uint8Array(20) }],
      packets: [
        ...eth.map((packet, index) => ({ ...packet, interfaceId: 0, block: index % 9 === 4 ? ('pb' as const) : undefined })),
        ...raw6.map((packet) => ({ ...packet, interfaceId: 1 })),
        { ...eth[0], interfaceId: 2 },
      ],
    };
    const sectionB = {
      littleEndian: false,
      interfaces: [{ linkType: 276, tsresol: 0x80 | 20, snapBytes: 100 }],
      packets: sll2.map((packet, index) => ({ ...packet, frame: packet.frame.subarray(0, 100), block: index % 5 === 2 ? ('spb' as const) : undefined })),
    };
    const { result } = await assertSameScan(file('mixed.pcapng', writePcapng([sectionA, sectionB])));
    assert.deepEqual([...result.read.unsupportedLinkTypes], [[147, 1]]);
  });

  test('pcapng: a block of an unknown type larger than the read buffer is skipped', async () => {
    const eth = traffic(21, 'ethernet', 4, 10);
    await assertSameScan(file('big-unknown.pcapng', writePcapng([{ interfaces: [{ linkType: 1 }], unknownBlocks: [{ type: 0x0a, body: new Uint8Array(3 << 20) }], packets: eth }])), {
      bufferBytes: 2 << 20,
    });
  });

  test('gzip pcap and pcapng', async () => {
    const packets = traffic(31, 'ethernet', 4, 50);
    await assertSameScan(file('z.pcap.gz', gzipSync(writePcap(packets, { linkType: 1 }))));
    await assertSameScan(file('z.pcapng.gz', gzipSync(writePcapng([{ interfaces: [{ linkType: 1 }], packets }]))));
    const zipped = gzipSync(writePcap(traffic(32, 'ethernet', 4, 300), { linkType: 1 }));
    const { result } = await assertSameScan(file('cut.pcap.gz', zipped.subarray(0, Math.floor(zipped.length * 0.6))));
    assert.match(result.read.problem?.message ?? '', /unexpected end of file/);
  });

  test('recorded captures: tcpdump (SLL2) and dumpcap pcapng', async () => {
    await assertSameScan(path.join(CAPTURE_FIXTURES, 'node-b-any-tcpdump.pcap'));
    await assertSameScan(path.join(CAPTURE_FIXTURES, 'node-a-any-dumpcap.pcapng'));
  });

  describe('corrupt and cut-off files: the same problem, offset and message, and the same packets before it', () => {
    const packets = traffic(41, 'ethernet', 4, 8);
    const pcap = (): Buffer => writePcap(packets, { linkType: 1 });
    /** Offsets of the pcap records. */
    const records = (bytes: Buffer, little = true): number[] => {
      const offsets: number[] = [];
      for (let at = 24; at + 16 <= bytes.length; at += 16 + (little ? bytes.readUInt32LE(at + 8) : bytes.readUInt32BE(at + 8))) offsets.push(at);
      return offsets;
    };
    const pcapng = (): { bytes: Buffer; epb: number[]; idb: number } => {
      const bytes = writePcapng([{ interfaces: [{ linkType: 1 }], packets }]);
      const epb: number[] = [];
      let idb = -1;
      for (let at = 0; at < bytes.length; at += bytes.readUInt32LE(at + 4)) {
        if (bytes.readUInt32LE(at) === 6) epb.push(at);
        if (bytes.readUInt32LE(at) === 1) idb = at;
      }
      return { bytes, epb, idb };
    };
    const cases: Array<[string, () => Buffer, RegExp]> = [
      ['pcap cut inside a packet', () => pcap().subarray(0, pcap().length - 5), /last packet record is cut off/],
      ['pcap cut inside a record header', () => pcap().subarray(0, records(pcap())[20] + 7), /inside a packet record header \(7 of 16 bytes\)/],
      [
        'pcap caplen above the snap length',
        () => {
          const bytes = writePcap(packets, { linkType: 1, snapBytes: 1600 });
          bytes.writeUInt32LE(1601, records(bytes)[30] + 8);
          return bytes;
        },
        /more than the file's snap length 1600/,
      ],
      [
        'pcap caplen above 256 KiB, big-endian',
        () => {
          const bytes = writePcap(packets, { linkType: 1, littleEndian: false, snapBytes: 0 });
          bytes.writeUInt32BE(300_000, records(bytes, false)[12] + 8);
          return bytes;
        },
        /300000 captured bytes, more than the 262144-byte limit/,
      ],
      [
        'pcapng block length not a multiple of 4',
        () => {
          const { bytes, epb } = pcapng();
          bytes.writeUInt32LE(bytes.readUInt32LE(epb[9] + 4) + 2, epb[9] + 4);
          return bytes;
        },
        /does not add up/,
      ],
      [
        'pcapng trailer differs',
        () => {
          const { bytes, epb } = pcapng();
          const length = bytes.readUInt32LE(epb[5] + 4);
          bytes.writeUInt32LE(length + 4, epb[5] + length - 4);
          return bytes;
        },
        /in its header but/,
      ],
      [
        'pcapng caplen that does not fit its block',
        () => {
          const { bytes, epb } = pcapng();
          bytes.writeUInt32LE(5000, epb[7] + 20);
          return bytes;
        },
        /which does not fit its block length/,
      ],
      [
        'pcapng packet of an interface the section does not describe',
        () => {
          const { bytes, epb } = pcapng();
          bytes.writeUInt32LE(3, epb[4] + 8);
          return bytes;
        },
        /names interface 3, but the section describes 1/,
      ],
      [
        'pcapng caplen above the interface snap length',
        () => {
          const { bytes, idb } = pcapng();
          bytes.writeUInt32LE(80, idb + 12);
          return bytes;
        },
        /more than interface 0's snap length 80/,
      ],
      [
        'pcapng packet block claiming more than 1 MiB',
        () => {
          const { bytes, epb } = pcapng();
          bytes.writeUInt32LE(2 << 20, epb[3] + 4);
          return bytes;
        },
        /more than a packet or interface block can hold/,
      ],
      [
        'pcapng section header with a bad byte-order magic',
        () => {
          const { bytes } = pcapng();
          const second = Buffer.from(bytes);
          second.writeUInt32LE(0x12345678, 8);
          return Buffer.concat([bytes, second]);
        },
        /byte-order magic 0x12345678/,
      ],
      ['pcapng cut inside the last block', () => pcapng().bytes.subarray(0, pcapng().bytes.length - 10), /last block is cut off/],
      ['pcapng cut inside a block header', () => pcapng().bytes.subarray(0, pcapng().epb[6] + 5), /inside a block header \(5 of 8 bytes\)/],
    ];
    for (const [name, bytes, message] of cases) {
      test(name, async () => {
        const { result } = await assertSameScan(file(`${name.replace(/\W+/g, '-')}.cap`, bytes()));
        assert.match(result.read.problem?.message ?? '', message);
      });
    }
  });


  test('pcapng: a simple packet block of 12 bytes (a negative implied length) is an empty frame', async () => {
    const head = writePcapng([{ interfaces: [{ linkType: 1 }], packets: traffic(51, 'ethernet', 4, 2) }]);
    const { calls, result } = await assertSameScan(file('spb12.pcapng', Buffer.concat([head, pcapngBlock(3, Buffer.alloc(0)), head.subarray(48)])));
    assert.equal(result.read.problem, null);
    assert.ok(calls.some((call) => call.endsWith(' true ')), 'the empty frame');
  });

  test('pcapng: a packet block shorter than its fixed fields at the very end of a read', async () => {
    // SHB and IDB (48 bytes) and two unknown blocks fill the first 2 MiB read up to the last 12 bytes, where a 12-byte EPB sits.
    const head = writePcapng([{ interfaces: [{ linkType: 1 }], packets: [] }]);
    assert.equal(head.length, 48);
    const fill1 = pcapngBlock(0x0bad, Buffer.alloc(1_048_564));
    const fill2 = pcapngBlock(0x0bad, Buffer.alloc((2 << 20) - 12 - 48 - fill1.length - 12));
    const tail = writePcapng([{ interfaces: [{ linkType: 1 }], packets: traffic(52, 'ethernet', 4, 3) }]);
    const bytes = Buffer.concat([head, fill1, fill2, pcapngBlock(6, Buffer.alloc(0)), tail]);
    assert.equal(bytes.indexOf(pcapngBlock(6, Buffer.alloc(0)), 48), (2 << 20) - 12);
    const { result } = await assertSameScan(file('short-epb.pcapng', bytes), { bufferBytes: 2 << 20 });
    assert.deepEqual(result.read.problem, { offset: (2 << 20) - 12, message: 'packet block claims NaN captured bytes, which does not fit its block length 12' });
  });

  test('bad arguments are TypeErrors naming the argument', () => {
    assert.throws(() => binding!.openCaptureScanner({ format: 'pcapx' as 'pcap', coalesce: true }), /options.format must be 'pcap' or 'pcapng'/);
    const scanner = binding!.openCaptureScanner({ format: 'pcapng', coalesce: true });
    assert.throws(() => scanner.parse('x' as unknown as Buffer, 0, 0, 0), /buffer/);
    assert.throws(() => scanner.parse(Buffer.alloc(10), 0, 11, 0), /end/);
    assert.throws(() => scanner.parse(Buffer.alloc(10), 0, 10, 'x' as unknown as number), /baseOffset must be a number/);
    assert.equal(scanner.parse(Buffer.alloc(10), 0, 10, 0), 0, 'less than a block: nothing parsed');
  });
});
