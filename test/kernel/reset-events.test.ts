/**
 * The component against a fake tracefs directory (format files only) and a FIFO
 * standing in for trace_pipe: no privilege needed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log';
import { KernelResetEvents, type TimedKernelResetEvent } from '../../src/kernel/reset-events';
import { pollingFileBinding } from './fake-binding';
import { LINES, RECEIVE_RESET_FORMAT, SEND_RESET_FORMAT } from './fixtures';

const OFFSET_NS = 123_000_000n; // the fake's realtime − monotonic gets +123 ms on top of the real one

describe('KernelResetEvents with a fake tracefs and a FIFO', () => {
  let root: string;
  let tracefs: string;
  let fifo: string;

  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'rstprobe-kernel-'));
    tracefs = path.join(root, 'tracing');
    for (const [event, text] of [
      ['tcp_send_reset', SEND_RESET_FORMAT],
      ['tcp_receive_reset', RECEIVE_RESET_FORMAT],
    ]) {
      mkdirSync(path.join(tracefs, 'events', 'tcp', event), { recursive: true });
      writeFileSync(path.join(tracefs, 'events', 'tcp', event, 'format'), text);
    }
    // A stale instance of a pid that cannot exist (above the 64-bit pid_max 4194304).
    mkdirSync(path.join(tracefs, 'instances', 'rstprobe-4194309-deadbeef'), { recursive: true });
    mkdirSync(path.join(tracefs, 'instances', 'someone-else'));
    fifo = path.join(root, 'trace_pipe');
    execFileSync('mkfifo', [fifo]);
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('configures a private instance, streams events with wall time and counts the rest', async () => {
    const binding = pollingFileBinding({ pathOverride: fifo, offsetNs: OFFSET_NS, pollMs: 5 });
    const kernel = new KernelResetEvents({ logger: silentLogger(), tracefsDir: tracefs, binding, exitCleanup: false, readProcStatus: () => undefined });
    const events: TimedKernelResetEvent[] = [];
    kernel.on('event', (event) => events.push(event));
    const controller = new AbortController();
    await kernel.start(controller.signal);

    const instance = kernel.instance;
    assert.ok(instance);
    assert.match(instance.name, new RegExp(`^rstprobe-${process.pid}-[0-9a-f]{8}$`));
    assert.deepEqual(binding.openedPaths, [path.join(tracefs, 'instances', instance.name, 'trace_pipe')]);
    assert.equal(readFileSync(path.join(instance.dir, 'trace_clock'), 'utf8'), 'mono');
    assert.equal(readFileSync(path.join(instance.dir, 'buffer_size_kb'), 'utf8'), '1024');
    assert.equal(readFileSync(path.join(instance.dir, 'set_event'), 'utf8'), 'tcp:tcp_send_reset\ntcp:tcp_receive_reset\n');
    assert.equal(existsSync(path.join(tracefs, 'instances', 'rstprobe-4194309-deadbeef')), false, 'stale instance swept');
    assert.equal(existsSync(path.join(tracefs, 'instances', 'someone-else')), true, 'foreign instance kept');
    assert.equal(kernel.formats?.send.symbols.get('reason')?.get(1), 'NO_SOCKET');

    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const text = [LINES.noSocketV4Send, 'garbage', LINES.lost, LINES.abortOnCloseSend].join('\n') + '\n';
    writeSync(writer, text.slice(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 30));
    writeSync(writer, text.slice(100));
    const deadline = Date.now() + 2000;
    while (events.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    closeSync(writer);

    assert.equal(events.length, 2);
    assert.equal(events[0].reason, 'NO_SOCKET');
    assert.deepEqual(events[1].process, { pid: 4999, tid: 4999, comm: null });
    // timeMs = monotonic + (realtime − monotonic); the fake's offset is the real one + 123 ms.
    const realOffsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
    assert.ok(Math.abs(events[0].timeMs - (325717.061 + realOffsetMs + 123)) < 50, String(events[0].timeMs));
    assert.deepEqual({ ...kernel.counters }, { events: 2, parseErrors: 1, lost: 720 });

    await kernel.stop();
    await kernel.stop();
    assert.equal(kernel.instance, null);
    // A fake directory keeps its files, so rmdir fails there (logged); set_event was cleared first.
    assert.equal(readFileSync(path.join(instance.dir, 'set_event'), 'utf8'), '');
  });

  it('stops when the start signal aborts', async () => {
    const kernel = new KernelResetEvents({
      logger: silentLogger(),
      tracefsDir: tracefs,
      binding: pollingFileBinding({ pathOverride: fifo }),
      exitCleanup: false,
    });
    const controller = new AbortController();
    await kernel.start(controller.signal);
    assert.ok(kernel.instance);
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(kernel.instance, null);
  });

  it('fails cleanly when trace_pipe cannot be opened', async () => {
    const kernel = new KernelResetEvents({
      logger: silentLogger(),
      tracefsDir: tracefs,
      binding: pollingFileBinding({ pathOverride: path.join(root, 'missing') }),
      exitCleanup: false,
    });
    await assert.rejects(kernel.start(new AbortController().signal), { code: 'RSTPROBE_ERR_KERNEL_EVENTS', message: /cannot read .*trace_pipe/ });
    assert.equal(kernel.instance, null);
  });

  it('names the missing event', async () => {
    const partial = path.join(root, 'partial');
    mkdirSync(path.join(partial, 'instances'), { recursive: true });
    mkdirSync(path.join(partial, 'events', 'tcp', 'tcp_send_reset'), { recursive: true });
    writeFileSync(path.join(partial, 'events', 'tcp', 'tcp_send_reset', 'format'), SEND_RESET_FORMAT);
    const kernel = new KernelResetEvents({ logger: silentLogger(), tracefsDir: partial, binding: pollingFileBinding(), exitCleanup: false });
    await assert.rejects(kernel.start(new AbortController().signal), { message: /lacks event tcp\/tcp_receive_reset/ });
  });
});
