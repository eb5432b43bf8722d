import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KernelEventsError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/log';
import { startWithKernelEventsMode } from '../../src/kernel/mode';
import { KernelResetEvents } from '../../src/kernel/reset-events';
import { completeProcess } from '../../src/kernel/task-info';
import { MonotonicToWallClock } from '../../src/kernel/wall-clock';
import { pollingFileBinding } from './fake-binding';

describe('MonotonicToWallClock', () => {
  it('adds realtime − monotonic and follows a clock step on resample', () => {
    let realtimeNs = 1_700_000_000_000_000_000n;
    const clock = new MonotonicToWallClock(() => ({ realtimeNs, monotonicNs: 5_000_000_000n, boottimeNs: 6_000_000_000n }));
    assert.equal(clock.toWallMs(5_000), 1_700_000_000_000);
    assert.equal(clock.toWallMs(5_250.5), 1_700_000_000_250.5);
    realtimeNs += 3_600_000_000_000n;
    clock.resample();
    assert.equal(clock.toWallMs(5_000), 1_700_003_600_000);
  });
});

describe('completeProcess', () => {
  const status = 'Name:\tenvoy\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4000\nNgid:\t0\nPid:\t4012\n';
  it('names a `<...>` task and finds its process from /proc/<tid>/status', () => {
    assert.deepEqual(completeProcess({ pid: 4012, tid: 4012, comm: null }, () => status), { pid: 4000, tid: 4012, comm: 'envoy' });
  });
  it('keeps what the line said when the task is gone', () => {
    assert.deepEqual(completeProcess({ pid: 4012, tid: 4012, comm: null }, () => undefined), { pid: 4012, tid: 4012, comm: null });
  });
  it('keeps the trace comm when it had one', () => {
    assert.deepEqual(completeProcess({ pid: 4012, tid: 4012, comm: 'wrk:worker_0' }, () => status), {
      pid: 4000,
      tid: 4012,
      comm: 'wrk:worker_0',
    });
  });
});

describe('startWithKernelEventsMode', () => {
  const bogus = (): KernelResetEvents =>
    new KernelResetEvents({ logger: silentLogger(), tracefsDir: '/nonexistent/rstprobe-tracefs', binding: pollingFileBinding(), exitCleanup: false });

  it("'on' with a bogus tracefsDir throws a one-line KernelEventsError", async () => {
    await assert.rejects(startWithKernelEventsMode('on', bogus, new AbortController().signal, silentLogger()), (err: unknown) => {
      assert.ok(err instanceof KernelEventsError);
      assert.equal(err.code, 'RSTPROBE_ERR_KERNEL_EVENTS');
      assert.ok(!err.message.includes('\n'));
      assert.match(err.message, /\/nonexistent\/rstprobe-tracefs is not a tracefs mount/);
      return true;
    });
  });

  it("'auto' logs once and continues without", async () => {
    const warnings: string[] = [];
    const logger = silentLogger();
    logger.warn = ((_obj: unknown, message: string) => {
      warnings.push(message);
    }) as typeof logger.warn;
    const started = await startWithKernelEventsMode('auto', bogus, new AbortController().signal, logger);
    assert.equal(started, null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^kernel reset events unavailable: .*; continuing from packets alone$/);
  });

  it("'off' does not even create the component", async () => {
    let created = false;
    const result = await startWithKernelEventsMode(
      'off',
      () => {
        created = true;
        return bogus();
      },
      new AbortController().signal,
      silentLogger(),
    );
    assert.equal(result, null);
    assert.equal(created, false);
  });
});

describe('installExitCleanup', () => {
  const child = (script: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000, cwd: path.join(__dirname, '..', '..') });
  const load = `const { installExitCleanup } = require('./src/kernel/exit-cleanup');`;

  it('cleans up on SIGTERM and still dies of SIGTERM', () => {
    const result = child(`${load} installExitCleanup(() => process.stdout.write('cleaned')); setTimeout(() => {}, 5000); process.kill(process.pid, 'SIGTERM');`);
    assert.equal(result.signal, 'SIGTERM');
    assert.equal(result.stdout, 'cleaned');
  });

  it('leaves the signal to another listener when there is one', () => {
    const result = child(
      `${load} installExitCleanup(() => process.stdout.write('cleaned;')); process.on('SIGTERM', () => { process.stdout.write('app;'); process.exit(3); }); process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 5000);`,
    );
    assert.equal(result.status, 3);
    assert.equal(result.stdout, 'cleaned;app;');
  });

  it('cleans up once on normal exit, keeping the exit code; uninstall disarms it', () => {
    const result = child(`${load} installExitCleanup(() => process.stdout.write('cleaned')); process.exitCode = 5;`);
    assert.equal(result.status, 5);
    assert.equal(result.stdout, 'cleaned');
    const uninstalled = child(`${load} const off = installExitCleanup(() => process.stdout.write('cleaned')); off();`);
    assert.equal(uninstalled.stdout, '');
  });
});
