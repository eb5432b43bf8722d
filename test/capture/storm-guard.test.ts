import assert from 'node:assert/strict';
import test from 'node:test';
import { NOT_A_RESET, resetClassKey, StormGuard, SUPPRESSED } from '../../src/capture/storm-guard';
import { buildTcp, type TcpBuildOptions } from '../support/packet-builder';

const rst = (options: Partial<TcpBuildOptions> = {}): Uint8Array =>
  buildTcp({ link: 'raw', src: '10.244.1.10', dst: '10.244.1.11', srcPort: 1024, dstPort: 80, flags: 'RST', ...options });

test('a RST class is its source and destination: ports and sequence numbers do not matter', () => {
  const key = (bytes: Uint8Array): number => resetClassKey(bytes, 0, bytes.length);
  assert.equal(key(rst()), key(rst({ srcPort: 40000, seq: 99 })));
  assert.notEqual(key(rst()), key(rst({ src: '10.244.1.12' })));
  assert.notEqual(key(rst()), key(rst({ dst: '10.244.1.12' })));
  assert.ok(key(rst({ src: 'fd00::1', dst: 'fd00::2' })) >= 0);
  assert.equal(key(rst({ flags: 'SYN' })), -1, 'only RSTs have a class');
  assert.equal(key(rst({ fragment: { offsetBytes: 8, moreFragments: false } })), -1, 'no TCP header in a later fragment');
});

test('past its budget a class is counted, not analysed, and the counts are handed over once', () => {
  const guard = new StormGuard(100, 10);
  const bytes = rst();
  const verdicts = Array.from({ length: 50 }, (_, i) => guard.admit(bytes, 0, bytes.length, 1_000 + i * 0.01));
  assert.equal(verdicts.filter((v) => v >= 0).length, 10, 'the burst is analysed');
  assert.equal(verdicts.filter((v) => v === SUPPRESSED).length, 40);
  assert.deepEqual(guard.drain(2_000).map(({ count }) => count), [40]);
  assert.deepEqual(guard.drain(2_000), [], 'drained counts are not handed over twice');
  // 100 ms later the bucket has refilled 10 tokens.
  assert.ok(guard.admit(bytes, 0, bytes.length, 1_100.5) >= 0);
  const syn = rst({ flags: 'SYN' });
  assert.equal(guard.admit(syn, 0, syn.length, 1_101), NOT_A_RESET);
});
