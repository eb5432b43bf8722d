import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AddressTextCache, formatIpv4, formatIpv6, parseIpAddress, parseIpv4, parseIpv6 } from '../../src/decode/address';

const RUNS = 3000;
/** 16 bytes where zero groups are common, so runs of zeros and ties appear. */
const ipv6Bytes = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const bytes = new Uint8Array(16);
    groups.forEach((g, i) => {
      bytes[i * 2] = g >> 8;
      bytes[i * 2 + 1] = g & 0xff;
    });
    return bytes;
  });

function isIpv4Mapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

describe('address text', () => {
  it('formats IPv6 exactly as WHATWG URL does (RFC 5952), IPv4-mapped as ::ffff:a.b.c.d', () => {
    fc.assert(
      fc.property(ipv6Bytes, (bytes) => {
        const text = formatIpv6(bytes, 0);
        if (isIpv4Mapped(bytes)) {
          assert.equal(text, `::ffff:${bytes.subarray(12).join('.')}`);
        } else {
          const hex = [...Array(8).keys()].map((g) => ((bytes[g * 2] << 8) | bytes[g * 2 + 1]).toString(16)).join(':');
          assert.equal(text, new URL(`http://[${hex}]/`).hostname.slice(1, -1));
        }
        assert.deepEqual(parseIpv6(text), bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('formats the RFC 5952 §4 examples', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group is not compressed
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3: the longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: the first of equal runs
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['::ffff:c000:0280', '::ffff:192.0.2.128'],
    ];
    for (const [input, expected] of cases) {
      const bytes = parseIpv6(input);
      assert.ok(bytes, input);
      assert.equal(formatIpv6(bytes, 0), expected);
    }
  });

  it('formats and parses IPv4', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const text = formatIpv4(bytes, 0);
        assert.equal(text, bytes.join('.'));
        assert.deepEqual(parseIpv4(text), bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('the decoders\' address cache gives the formatters\' text, one string per address, also past slot collisions', () => {
    const cache = new AddressTextCache(2); // 4 slots per family: collisions on every few addresses
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), ipv6Bytes), { minLength: 1, maxLength: 40 }), (addresses) => {
        for (const bytes of addresses) {
          const text = bytes.length === 4 ? cache.ipv4(bytes, 0) : cache.ipv6(bytes, 0);
          assert.equal(text, bytes.length === 4 ? formatIpv4(bytes, 0) : formatIpv6(bytes, 0));
        }
      }),
      { numRuns: RUNS / 10 },
    );
    const packet = Uint8Array.from([0, 0, 10, 244, 12, 123, 10, 244, 12, 123]);
    const first = new AddressTextCache().ipv4(packet, 2);
    const shared = new AddressTextCache();
    assert.equal(shared.ipv4(packet, 2), first);
    assert.ok(Object.is(shared.ipv4(packet, 2), shared.ipv4(packet, 6)), 'the same address at another offset is the same string');
    const v6 = parseIpv6('fd00:10:244::1')!;
    assert.equal(shared.ipv6(v6, 0), 'fd00:10:244::1');
    assert.equal(shared.ipv6(Uint8Array.from([9, ...v6]), 1), 'fd00:10:244::1');
  });

  it('parses every text form RFC 4291 §2.2 allows and rejects junk', () => {
    assert.deepEqual(parseIpAddress('::ffff:10.0.0.1'), parseIpv6('::ffff:a00:1'));
    assert.deepEqual(parseIpAddress('1:2:3:4:5:6:7::'), parseIpv6('1:2:3:4:5:6:7:0'));
    assert.deepEqual(parseIpAddress('::2:3:4:5:6:7:8'), parseIpv6('0:2:3:4:5:6:7:8'));
    assert.equal(parseIpAddress('FD00::A')?.[15], 10);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.a', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '::1.2.3', '1:2:3:4:5:6:7:8::']) {
      assert.equal(parseIpAddress(bad), null, bad);
    }
  });
});
