import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ScanSink } from '../../src/analyze/capture-scan';
import { readScanBatch, ScanBatchWriter } from '../../src/analyze/scan-batch';
import { LinkType } from '../../src/decode/types';

type Call = ['frame', LinkType, string, number, boolean] | ['tick', number];

/** A sink that writes down every call, frame bytes as hex (they are valid only during the call). */
function recorder(calls: Call[]): ScanSink {
  return {
    frame: (linkType, buffer, start, length, timeMs, checkDuplicate) => void calls.push(['frame', linkType, buffer.subarray(start, start + length).toString('hex'), timeMs, checkDuplicate]),
    tick: (nowMs) => void calls.push(['tick', nowMs]),
  };
}

describe('scan batches', () => {
  test('replay the frames and ticks in order: link types above 255, fractional times, both duplicate flags, odd lengths', () => {
    const batches: Array<[Buffer, number]> = [];
    const writer = new ScanBatchWriter((batch, used) => void batches.push([batch, used]), 4096);
    const expected: Call[] = [];
    const source = Buffer.alloc(3000);
    for (let index = 0; index < source.length; index++) source[index] = (index * 31) & 0xff;
    const linkTypes = [LinkType.ETHERNET, LinkType.LINUX_SLL2, LinkType.RAW, LinkType.NULL];
    for (let index = 0; index < 200; index++) {
      if (index % 7 === 0) {
        const nowMs = 1_795_000_000_000 + index * 1000.25;
        writer.tick(nowMs);
        expected.push(['tick', nowMs]);
      }
      const start = (index * 13) % 500;
      const length = index === 100 ? 2500 : 1 + ((index * 37) % 200);
      const timeMs = 1_795_000_000_000 + index * 0.001953125;
      const linkType = linkTypes[index % linkTypes.length];
      writer.frame(linkType, source, start, length, timeMs, index % 3 === 0);
      expected.push(['frame', linkType, source.subarray(start, start + length).toString('hex'), timeMs, index % 3 === 0]);
    }
    writer.end();
    assert.ok(batches.length > 5, `${batches.length} batches`);
    const calls: Call[] = [];
    for (const [batch, used] of batches) readScanBatch(batch, used, recorder(calls));
    assert.deepEqual(calls, expected);
  });

  test('each batch has an ArrayBuffer of its own (transferable), and end() with nothing written hands on nothing', () => {
    const batches: Buffer[] = [];
    const writer = new ScanBatchWriter((batch) => void batches.push(batch), 1024);
    writer.end();
    assert.equal(batches.length, 0);
    for (let index = 0; index < 20; index++) writer.frame(LinkType.ETHERNET, Buffer.alloc(100, index), 0, 100, index, true);
    writer.end();
    assert.ok(batches.length >= 2);
    for (const batch of batches) assert.deepEqual([batch.byteOffset, batch.buffer.byteLength], [0, 1024]);
    assert.equal(new Set(batches.map((batch) => batch.buffer)).size, batches.length);
  });

  test('a frame larger than a batch is refused, not cut', () => {
    const writer = new ScanBatchWriter(() => {}, 1024);
    assert.throws(() => writer.frame(LinkType.ETHERNET, Buffer.alloc(2000), 0, 2000, 0, true), /2000-byte frame does not fit a 1024-byte batch/);
  });
});
