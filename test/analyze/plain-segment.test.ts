import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readSegment, SegmentKind, type PlainSegmentInfo } from '../../src/analyze/plain-segment';
import { LinkType } from '../../src/decode/types';
import { buildTcp } from '../support/packet-builder';

const info = (): PlainSegmentInfo => ({ key: 0, check: 0, direction: 0, sameness: 0, ttl: 0, ttlIndex: 0, hasPayload: false });

/** The documented mix (hashEndpoints): words of the lower endpoint's address, the higher's, then the ports. */
function referenceHash(words: number[]): [number, number] {
  let lane1 = 0x811c9dc5 | 0;
  let lane2 = 0x01000193;
  for (const word of words) {
    lane1 = Math.imul(lane1 ^ word, 0x01000193) ^ (lane1 >>> 13);
    lane2 = Math.imul(lane2 ^ word, 0x5bd1e995) ^ (lane2 >>> 15);
  }
  return [lane1 | 0, lane2 | 0];
}

const ipv4Word = (address: string): number => address.split('.').reduce((word, part) => ((word << 8) | Number(part)) | 0, 0);

describe('readSegment', () => {
  test('IPv4: both directions of a connection get one key and check, the documented hash, and opposite directions', () => {
    const cases: Array<[string, string, number, number]> = [
      ['10.1.0.1', '10.2.0.1', 40000, 8080],
      ['10.2.0.1', '10.1.0.1', 8080, 40000],
      ['200.1.2.3', '10.0.0.9', 443, 55555], // a word above 2^31 (negative as int32)
      ['10.0.0.9', '10.0.0.9', 1000, 2000], // same address: the ports decide
      ['10.0.0.9', '10.0.0.9', 2000, 1000],
    ];
    for (const [src, dst, srcPort, dstPort] of cases) {
      const forward = info();
      const backward = info();
      const there = buildTcp({ src, dst, srcPort, dstPort, flags: 'ACK' });
      const back = buildTcp({ src: dst, dst: src, srcPort: dstPort, dstPort: srcPort, flags: 'ACK' });
      assert.equal(readSegment(LinkType.ETHERNET, there, 0, there.length, forward), SegmentKind.PLAIN);
      assert.equal(readSegment(LinkType.ETHERNET, back, 0, back.length, backward), SegmentKind.PLAIN);
      assert.equal(forward.key, backward.key);
      assert.equal(forward.check, backward.check);
      assert.notEqual(forward.direction, backward.direction);
      const [low, high] = forward.direction === 0 ? [src, dst] : [dst, src];
      const [lowPort, highPort] = forward.direction === 0 ? [srcPort, dstPort] : [dstPort, srcPort];
      assert.deepEqual([forward.key, forward.check], referenceHash([ipv4Word(low), ipv4Word(high), ((lowPort << 16) | highPort) | 0]), `${src}:${srcPort} ${dst}:${dstPort}`);
    }
  });

  test('a RST is control, with the same key as the connection', () => {
    const plain = info();
    const reset = info();
    const ack = buildTcp({ src: '10.1.0.1', dst: '10.2.0.1', srcPort: 40000, dstPort: 80, flags: 'ACK' });
    const rst = buildTcp({ src: '10.2.0.1', dst: '10.1.0.1', srcPort: 80, dstPort: 40000, flags: ['RST', 'ACK'] });
    readSegment(LinkType.ETHERNET, ack, 0, ack.length, plain);
    assert.equal(readSegment(LinkType.ETHERNET, rst, 0, rst.length, reset), SegmentKind.CONTROL);
    assert.equal(reset.key, plain.key);
    assert.equal(reset.check, plain.check);
  });
});
