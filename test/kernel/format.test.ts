import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseEventFormat, type TraceEventFormat } from '../../src/kernel/format';
import { RECEIVE_RESET_FORMAT, SEND_RESET_FORMAT } from './fixtures';

function parsed(text: string): TraceEventFormat {
  const result = parseEventFormat(text);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  return result.format;
}

describe('parseEventFormat', () => {
  it('reads name, id and fields of this machine’s tcp_send_reset', () => {
    const format = parsed(SEND_RESET_FORMAT);
    assert.equal(format.name, 'tcp_send_reset');
    assert.equal(format.id, 2280);
    assert.deepEqual(
      format.fields.map((field) => field.name),
      ['common_type', 'common_flags', 'common_preempt_count', 'common_pid', 'skbaddr', 'skaddr', 'state', 'reason', 'saddr', 'daddr'],
    );
    assert.deepEqual(format.fields.find((field) => field.name === 'reason'), {
      type: 'enum sk_rst_reason',
      name: 'reason',
      offset: 28,
      size: 4,
      signed: false,
    });
    assert.deepEqual(format.fields.find((field) => field.name === 'skbaddr'), {
      type: 'const void *',
      name: 'skbaddr',
      offset: 8,
      size: 8,
      signed: false,
    });
    assert.deepEqual(format.fields.find((field) => field.name === 'saddr'), {
      type: '__u8',
      name: 'saddr',
      offset: 32,
      size: 28,
      signed: false,
      arrayLength: 28,
    });
    assert.equal(format.fields.find((field) => field.name === 'common_pid')?.signed, true);
  });

  it('maps the sk_rst_reason numbers of this kernel to names', () => {
    const reasons = parsed(SEND_RESET_FORMAT).symbols.get('reason');
    assert.ok(reasons);
    assert.equal(reasons.get(0), 'NOT_SPECIFIED');
    assert.equal(reasons.get(1), 'NO_SOCKET');
    assert.equal(reasons.get(8), 'TCP_ABORT_ON_DATA');
    assert.equal(reasons.get(9), 'TCP_TIMEWAIT_SOCKET');
    assert.equal(reasons.get(11), 'TCP_ABORT_ON_CLOSE');
    assert.equal(reasons.get(13), 'TCP_ABORT_ON_MEMORY');
    assert.equal(reasons.get(15), 'TCP_KEEPALIVE_TIMEOUT');
    assert.equal(reasons.size, 26);
  });

  it('resolves the symbolic TCP state keys from tcp_states.h', () => {
    const format = parsed(SEND_RESET_FORMAT);
    const states = format.symbols.get('state');
    assert.equal(states?.get(1), 'TCP_ESTABLISHED');
    assert.equal(states?.get(6), 'TCP_TIME_WAIT');
    assert.equal(states?.get(7), 'TCP_CLOSE');
    assert.equal(states?.get(12), 'TCP_NEW_SYN_RECV');
    assert.equal(format.symbolNames.get('state')?.length, 12);
  });

  it('reads tcp_receive_reset with its family symbols', () => {
    const format = parsed(RECEIVE_RESET_FORMAT);
    assert.equal(format.name, 'tcp_receive_reset');
    assert.equal(format.id, 2279);
    assert.equal(format.fields.find((field) => field.name === 'sock_cookie')?.type, '__u64');
    assert.equal(format.fields.find((field) => field.name === 'saddr_v6')?.arrayLength, 16);
    assert.deepEqual([...(format.symbols.get('family') ?? [])], [
      [2, 'AF_INET'],
      [10, 'AF_INET6'],
    ]);
  });

  it('follows a kernel whose enum is numbered differently', () => {
    // As on a kernel where NO_SOCKET moved and the TCP_ reasons were inserted elsewhere.
    const variant = SEND_RESET_FORMAT.replace('{ 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }', '{ 0, "NOT_SPECIFIED" }, { 7, "NO_SOCKET" }')
      .replace('{ 7, "TCP_OLD_ACK" }', '{ 1, "TCP_OLD_ACK" }')
      .replace('{ 11, "TCP_ABORT_ON_CLOSE" }', '{ 0x2a, "TCP_ABORT_ON_CLOSE" }')
      .replace('ID: 2280', 'ID: 1487');
    const format = parsed(variant);
    const reasons = format.symbols.get('reason');
    assert.equal(format.id, 1487);
    assert.equal(reasons?.get(7), 'NO_SOCKET');
    assert.equal(reasons?.get(1), 'TCP_OLD_ACK');
    assert.equal(reasons?.get(42), 'TCP_ABORT_ON_CLOSE');
    assert.equal(reasons?.get(11), undefined);
  });

  it('returns typed errors for incomplete or broken formats', () => {
    const noName = parseEventFormat(SEND_RESET_FORMAT.replace('name: tcp_send_reset', ''));
    assert.equal(!noName.ok && noName.error.code, 'missing-name');
    const noId = parseEventFormat(SEND_RESET_FORMAT.replace('ID: 2280', 'ID: x'));
    assert.equal(!noId.ok && noId.error.code, 'missing-id');
    const badField = parseEventFormat(SEND_RESET_FORMAT.replace('offset:28;', 'offset:;'));
    assert.equal(!badField.ok && badField.error.code, 'bad-field');
    const noPrint = parseEventFormat(SEND_RESET_FORMAT.replace('print fmt:', 'print:'));
    assert.equal(!noPrint.ok && noPrint.error.code, 'missing-print-fmt');
    assert.equal(parseEventFormat('').ok, false);
  });

  it('never throws on arbitrary or mutated input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        parseEventFormat(text);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat(SEND_RESET_FORMAT.length), fc.nat(SEND_RESET_FORMAT.length), fc.string({ maxLength: 20 }), (start, end, insert) => {
        const cut = SEND_RESET_FORMAT.slice(0, Math.min(start, end)) + insert + SEND_RESET_FORMAT.slice(Math.max(start, end));
        parseEventFormat(cut);
      }),
      { numRuns: 2000 },
    );
  });
});
