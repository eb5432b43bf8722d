import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readCaptureFile } from '../../src/capture-file/capture-file-reader';
import { CaptureFileError } from '../../src/common/errors';
import { readAllPackets } from '../support/capture-readers';
import { writePcap, writePcapng, type FixturePacket } from '../support/capture-writer';
import { buildTcp } from '../support/packet-builder';

const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-corrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer): string => {
  const where = path.join(dir, name);
  writeFileSync(where, bytes);
  return where;
};

const packets: FixturePacket[] = [0, 1, 2, 3].map((index) => ({
  frame: buildTcp({ src: '10.1.0.1', dst: '10.2.0.2', srcPort: 40000, dstPort: 80, seq: index, payload: new Uint8Array(10) }),
  timeNs: 1_795_000_000_000_000_000n + BigInt(index) * 1_000_000n,
}));
const frameBytes = packets[0].frame.length; // all four are the same size
const PCAP_RECORD = 16 + frameBytes;

describe('corrupt and truncated capture files: one problem with its byte offset, what came before still read', () => {
  test('pcap cut off inside the last packet', async () => {
    const bytes = writePcap(packets, { linkType: 1 });
    const { packets: read, summary } = await readAllPackets(file('cut.pcap', bytes.subarray(0, bytes.length - 5)));
    assert.equal(read.length, 3);
    assert.equal(summary.problem?.offset, 24 + 3 * PCAP_RECORD);
    assert.match(summary.problem!.message, new RegExp(`last packet record is cut off \\(${frameBytes - 5} of ${frameBytes} captured bytes`));
  });

  test('pcap cut off inside a record header', async () => {
    const bytes = writePcap(packets, { linkType: 1 });
    const { packets: read, summary } = await readAllPackets(file('cut-header.pcap', bytes.subarray(0, 24 + 2 * PCAP_RECORD + 7)));
    assert.equal(read.length, 2);
    assert.equal(summary.problem?.offset, 24 + 2 * PCAP_RECORD);
    assert.match(summary.problem!.message, /inside a packet record header \(7 of 16 bytes\)/);
  });

  test('bad magic: a CaptureFileError at byte 0, nothing read', async () => {
    const where = file('bad.pcap', Buffer.from('this is not a capture file at all'));
    await assert.rejects(readCaptureFile(where, () => assert.fail('no packet expected')), (err: unknown) => {
      assert.ok(err instanceof CaptureFileError);
      assert.equal(err.code, 'RSTPROBE_ERR_CAPTURE_FILE');
      assert.match(err.message, /byte 0: not a pcap or pcapng file \(magic 74686973\)/);
      return true;
    });
  });

  test('an empty file is not a capture either', async () => {
    await assert.rejects(readCaptureFile(file('empty.pcap', Buffer.alloc(0)), () => {}), /magic empty/);
  });

  test('a caplen larger than the snap length', async () => {
    const bytes = writePcap(packets, { linkType: 1, snapBytes: frameBytes });
    bytes.writeUInt32LE(frameBytes + 1, 24 + 2 * PCAP_RECORD + 8); // third record
    const { packets: read, summary } = await readAllPackets(file('snaplen.pcap', bytes));
    assert.equal(read.length, 2);
    assert.equal(summary.problem?.offset, 24 + 2 * PCAP_RECORD);
    assert.match(summary.problem!.message, new RegExp(`claims ${frameBytes + 1} captured bytes, more than the file's snap length ${frameBytes}`));
  });

  test('a caplen larger than 256 KiB', async () => {
    const bytes = writePcap(packets, { linkType: 1, littleEndian: false, snapBytes: 0 });
    bytes.writeUInt32BE(300_000, 24 + PCAP_RECORD + 8);
    const { packets: read, summary } = await readAllPackets(file('huge.pcap', bytes));
    assert.equal(read.length, 1);
    assert.equal(summary.problem?.offset, 24 + PCAP_RECORD);
    assert.match(summary.problem!.message, /300000 captured bytes, more than the 262144-byte limit/);
  });

  const pcapngBlocks = (): { bytes: Buffer; epbOffsets: number[] } => {
    const bytes = writePcapng([{ interfaces: [{ linkType: 1 }], packets }]);
    const epbOffsets: number[] = [];
    for (let at = 0; at < bytes.length; at += bytes.readUInt32LE(at + 4)) if (bytes.readUInt32LE(at) === 6) epbOffsets.push(at);
    return { bytes, epbOffsets };
  };

  test('pcapng: a block length that is not a multiple of 4', async () => {
    const { bytes, epbOffsets } = pcapngBlocks();
    bytes.writeUInt32LE(bytes.readUInt32LE(epbOffsets[2] + 4) + 2, epbOffsets[2] + 4);
    const { packets: read, summary } = await readAllPackets(file('len.pcapng', bytes));
    assert.equal(read.length, 2);
    assert.equal(summary.problem?.offset, epbOffsets[2]);
    assert.match(summary.problem!.message, /does not add up/);
  });

  test('pcapng: trailer length differs from the header length', async () => {
    const { bytes, epbOffsets } = pcapngBlocks();
    const length = bytes.readUInt32LE(epbOffsets[1] + 4);
    bytes.writeUInt32LE(length + 4, epbOffsets[1] + length - 4);
    const { packets: read, summary } = await readAllPackets(file('trailer.pcapng', bytes));
    assert.equal(read.length, 1);
    assert.equal(summary.problem?.offset, epbOffsets[1]);
    assert.match(summary.problem!.message, new RegExp(`length ${length} in its header but ${length + 4} in its trailer`));
  });

  test('pcapng: a packet block whose caplen does not fit the block', async () => {
    const { bytes, epbOffsets } = pcapngBlocks();
    bytes.writeUInt32LE(5000, epbOffsets[3] + 20);
    const { packets: read, summary } = await readAllPackets(file('caplen.pcapng', bytes));
    assert.equal(read.length, 3);
    assert.equal(summary.problem?.offset, epbOffsets[3]);
    assert.match(summary.problem!.message, /claims 5000 captured bytes, which does not fit/);
  });

  test('pcapng: cut off inside the last block', async () => {
    const { bytes, epbOffsets } = pcapngBlocks();
    const { packets: read, summary } = await readAllPackets(file('cut.pcapng', bytes.subarray(0, bytes.length - 10)));
    assert.equal(read.length, 3);
    assert.equal(summary.problem?.offset, epbOffsets[3]);
    assert.match(summary.problem!.message, /last block is cut off/);
  });

  test('a cut-off gzip file: the packets decompressed before the cut are read, and the end is reported', async () => {
    const many: FixturePacket[] = [];
    for (let index = 0; index < 2000; index++) many.push({ ...packets[0], timeNs: packets[0].timeNs + BigInt(index) * 1000n, frame: buildTcp({ src: '10.1.0.1', dst: '10.2.0.2', seq: index * 7919 }) });
    const zipped = gzipSync(writePcap(many, { linkType: 1 }));
    const { packets: read, summary } = await readAllPackets(file('cut.pcap.gz', zipped.subarray(0, Math.floor(zipped.length * 0.6))));
    assert.ok(read.length > 0 && read.length < many.length, `${read.length} packets`);
    assert.ok(summary.problem !== null);
    assert.match(summary.problem.message, /unexpected end of file/);
  });
});
