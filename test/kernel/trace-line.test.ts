import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { contextFromFlags, parseTraceLine, type KernelResetEvent } from '../../src/kernel/trace-line';
import { LINES } from './fixtures';

function event(line: string): KernelResetEvent {
  const result = parseTraceLine(line);
  assert.equal(result.kind, 'event', JSON.stringify(result));
  return (result as { event: KernelResetEvent }).event;
}

const SEND_FIELDS =
  'tcp_send_reset: skbaddr=00000000159b2cf2 skaddr=0000000000000000 src=10.0.0.1:80 dest=10.0.0.2:5555 state=TCP_ESTABLISHED reason=TCP_ABORT_ON_CLOSE';

describe('parseTraceLine on lines captured on this machine', () => {
  it('connect to a closed port: NO_SOCKET sent by the closed port, softirq, no process', () => {
    assert.deepEqual(event(LINES.noSocketV4Send), {
      direction: 'send',
      monotonicMs: 325717.061,
      src: { ip: '127.0.0.1', port: 1 },
      dst: { ip: '127.0.0.1', port: 40001 },
      state: null,
      reason: 'NO_SOCKET',
      process: null,
      context: 'softirq',
      cpu: 1,
    });
  });

  it('the client receiving that RST: oriented like the RST, process context with the socket owner', () => {
    assert.deepEqual(event(LINES.noSocketV4Receive), {
      direction: 'receive',
      monotonicMs: 325717.13,
      src: { ip: '127.0.0.1', port: 1 },
      dst: { ip: '127.0.0.1', port: 40001 },
      state: null,
      reason: null,
      process: { pid: 4770, tid: 4770, comm: null },
      context: 'process',
      cpu: 1,
      sockCookie: '1',
    });
  });

  it('IPv6 and IPv4-mapped addresses', () => {
    const v6 = event(LINES.noSocketV6Send);
    assert.deepEqual([v6.src, v6.dst], [
      { ip: '::1', port: 1 },
      { ip: '::1', port: 40002 },
    ]);
    const v6Receive = event(LINES.noSocketV6Receive);
    assert.deepEqual([v6Receive.src, v6Receive.dst], [
      { ip: '::1', port: 1 },
      { ip: '::1', port: 40002 },
    ]);
    const mapped = event(LINES.noSocketMappedReceive);
    assert.deepEqual([mapped.src, mapped.dst], [
      { ip: '127.0.0.1', port: 2 },
      { ip: '127.0.0.1', port: 40003 },
    ]);
    const mappedAbort = event(LINES.abortOnCloseMappedSend);
    assert.deepEqual([mappedAbort.src, mappedAbort.dst], [
      { ip: '127.0.0.1', port: 40040 },
      { ip: '127.0.0.1', port: 40041 },
    ]);
    assert.equal(event(LINES.abortOnCloseV6Send).src.ip, '::1');
  });

  it('abort on close: TCP_CLOSE/TCP_ABORT_ON_CLOSE in the closing process', () => {
    const abort = event(LINES.abortOnCloseSend);
    assert.equal(abort.reason, 'TCP_ABORT_ON_CLOSE');
    assert.equal(abort.state, 'TCP_CLOSE');
    assert.deepEqual(abort.process, { pid: 4999, tid: 4999, comm: null });
    assert.deepEqual([abort.src, abort.dst], [
      { ip: '127.0.0.1', port: 40010 },
      { ip: '127.0.0.1', port: 40011 },
    ]);
    const received = event(LINES.abortOnCloseReceive);
    assert.equal(received.context, 'softirq');
    assert.equal(received.process, null);
    assert.deepEqual(received.src, abort.src);
  });

  it('time-wait: TCP_TIME_WAIT/TCP_TIMEWAIT_SOCKET', () => {
    const timeWait = event(LINES.timeWaitSend);
    assert.equal(timeWait.state, 'TCP_TIME_WAIT');
    assert.equal(timeWait.reason, 'TCP_TIMEWAIT_SOCKET');
    assert.equal(timeWait.process, null);
    assert.deepEqual(timeWait.src, { ip: '127.0.0.1', port: 40020 });
    assert.deepEqual(event(LINES.timeWaitReceive).process, { pid: 5007, tid: 5007, comm: 'node' });
  });

  it('idle task lines never carry a process', () => {
    const idle = event(LINES.idleSoftirqSend);
    assert.equal(idle.process, null);
    assert.equal(idle.reason, 'TCP_ABORT_ON_DATA');
    assert.deepEqual(idle.dst, { ip: '203.0.113.80', port: 443 });
  });

  it('record-tgid column and a need-resched flag', () => {
    assert.equal(event(LINES.tgidColumnSend).context, 'softirq');
    assert.deepEqual(event(LINES.tgidColumnReceive).process, { pid: 5112, tid: 5112, comm: 'node' });
  });

  it('irq-info off: context unknown, so no process', () => {
    const noFlags = event(LINES.noFlagsSend);
    assert.equal(noFlags.context, 'unknown');
    assert.equal(noFlags.process, null);
    assert.equal(noFlags.src.port, 1);
  });

  it('lost-events marker', () => {
    assert.deepEqual(parseTraceLine(LINES.lost), { kind: 'lost', cpu: 1, lostEvents: 720 });
  });
});

describe('parseTraceLine on synthetic variants', () => {
  it('comm with spaces and dashes; tgid differs from tid', () => {
    const line = `  my-app worker-2-31337 (  31000) [003] ..... 100.000001: ${SEND_FIELDS}`;
    assert.deepEqual(event(line).process, { pid: 31000, tid: 31337, comm: 'my-app worker-2' });
  });

  it('unknown tgid "(-------)" falls back to the task id', () => {
    const line = `        envoy-77      (-------) [000] ..... 5.5: ${SEND_FIELDS}`;
    assert.deepEqual(event(line).process, { pid: 77, tid: 77, comm: 'envoy' });
  });

  it('hard irq, nmi, and 4-character flags of older kernels', () => {
    assert.equal(event(`  nginx-10 [000] d.h2. 1.000001: ${SEND_FIELDS}`).process, null);
    assert.equal(event(`  nginx-10 [000] d.H2. 1.000001: ${SEND_FIELDS}`).context, 'hardirq');
    assert.equal(event(`  nginx-10 [000] d.Z2. 1.000001: ${SEND_FIELDS}`).context, 'nmi');
    assert.deepEqual(event(`  nginx-10 [000] .N.. 1.000001: ${SEND_FIELDS}`).process, { pid: 10, tid: 10, comm: 'nginx' });
    assert.equal(event(`  nginx-10 [000] ..s1 1.000001: ${SEND_FIELDS}`).context, 'softirq');
    assert.equal(contextFromFlags(undefined), 'unknown');
    assert.equal(contextFromFlags('..?1.'), 'unknown');
  });

  it('pid 0 in process context is still no process', () => {
    assert.equal(event(`  swapper/0-0 [000] ..... 1.000001: ${SEND_FIELDS}`).process, null);
  });

  it('tolerates CRLF and keeps state and reason names', () => {
    const parsed = event(`  nginx-10 [000] ..... 1.000001: ${SEND_FIELDS}\r`);
    assert.equal(parsed.state, 'TCP_ESTABLISHED');
    assert.equal(parsed.reason, 'TCP_ABORT_ON_CLOSE');
    assert.equal(parsed.monotonicMs, 1000.001);
  });

  it('garbage gives typed errors', () => {
    const codeOf = (line: string): string | undefined => {
      const result = parseTraceLine(line);
      return result.kind === 'error' ? result.error.code : undefined;
    };
    assert.equal(codeOf(''), 'empty');
    assert.equal(codeOf('hello world'), 'header');
    assert.equal(codeOf('  bash-1 [000] ..... 1.000001: sched_switch: prev_comm=bash'), 'unknown-event');
    assert.equal(codeOf('  bash-1 [000] ..... 1.000001: tcp_send_reset: skbaddr=0'), 'fields');
    assert.equal(codeOf(`  bash-1 [000] ..... 1.000001: ${SEND_FIELDS.replace('10.0.0.1:80', '10.0.0.999:80')}`), 'address');
    assert.equal(codeOf(`  bash-1 [000] ..... 1.000001: ${SEND_FIELDS.replace(':5555', ':70000')}`), 'address');
    assert.equal(codeOf(LINES.noSocketV4Receive.replace('AF_INET', 'AF_UNIX')), 'fields');
    const long = parseTraceLine('x'.repeat(10_000));
    assert.ok(long.kind === 'error' && long.error.line.length <= 200);
  });

  it('never throws, on any string or on mutated real lines', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (line) => {
        parseTraceLine(line);
      }),
      { numRuns: 5000 },
    );
    const real = Object.values(LINES);
    fc.assert(
      fc.property(fc.constantFrom(...real), fc.nat(300), fc.nat(300), fc.string({ maxLength: 12 }), (line, start, end, insert) => {
        const mutated = line.slice(0, Math.min(start, end)) + insert + line.slice(Math.max(start, end));
        const result = parseTraceLine(mutated);
        if (result.kind === 'event') {
          assert.ok(result.event.src.port <= 65535 && result.event.dst.port <= 65535);
          assert.ok(result.event.process === null || result.event.process.tid !== 0);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
