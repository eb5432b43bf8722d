import assert from 'node:assert/strict';
import test from 'node:test';
import { resetClassKey } from '../../src/capture/storm-guard';
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
