import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressBar } from '../../src/analyze/progress-bar';

describe('progress bar', () => {
  test('draws at most once per interval, on one line, and clears it', () => {
    const writes: string[] = [];
    const stream = { write: (text: string) => writes.push(text) } as unknown as NodeJS.WriteStream;
    const bar = new ProgressBar(stream, 'big.pcap', 60_000, 10);
    bar.update(50e6, 200e6);
    bar.update(100e6, 200e6); // within the interval: not drawn
    assert.equal(writes.length, 1);
    assert.equal(writes[0], '\rbig.pcap [###.......]  25% 50/200 MB');
    bar.clear();
    assert.equal(writes[1], '\r\x1b[2K');
    bar.clear();
    assert.equal(writes.length, 2, 'nothing to clear twice');
  });
});
