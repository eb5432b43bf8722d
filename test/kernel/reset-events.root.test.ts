/**
 * Root-only: the component on the real tracefs and the real native addon, with
 * loopback traffic only. Skips with a reason without root or without the addon.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { loadNativeBinding } from '../../src/capture/native';
import { silentLogger } from '../../src/common/log';
import { KernelResetEvents, type TimedKernelResetEvent } from '../../src/kernel/reset-events';

const DIST = path.join(__dirname, '..', '..');

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (tracefs)';
  try {
    loadNativeBinding();
  } catch {
    return 'native addon not built';
  }
  return false;
}
const skip = skipReason();

async function waitFor<T>(items: T[], predicate: (item: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = items.find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function spawnNode(script: string): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['-e', script], { cwd: DIST, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code, signal) => reject(new Error(`child exited early: ${code ?? signal}`)));
  });
  return { child, firstLine };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

const CHILD_COMPONENT = `
const { KernelResetEvents } = require('./src/kernel/reset-events');
const { silentLogger } = require('./src/common/log');
const kernel = new KernelResetEvents({ logger: silentLogger() });
kernel.start(new AbortController().signal).then(() => process.stdout.write(kernel.instance.dir + '\\n'), (err) => { console.error(err); process.exit(9); });
setInterval(() => {}, 1000);
`;

describe('KernelResetEvents on the real kernel', { skip }, () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('sees NO_SOCKET with the right ports within 1 s of a connect to a closed 127.0.0.1 port', async () => {
    const kernel = new KernelResetEvents({ logger: silentLogger(), exitCleanup: false });
    const events: TimedKernelResetEvent[] = [];
    kernel.on('event', (event) => events.push(event));
    await kernel.start(new AbortController().signal);
    try {
      const port = await closedPort();
      const localPort = await closedPort();
      const startedMs = Date.now();
      const client = net.connect({ host: '127.0.0.1', port, localPort });
      await new Promise((resolve) => client.once('error', resolve));
      const sent = await waitFor(events, (e) => e.direction === 'send' && e.src.port === port, 1000);
      assert.equal(sent.reason, 'NO_SOCKET');
      assert.equal(sent.state, null);
      assert.deepEqual(sent.src, { ip: '127.0.0.1', port });
      assert.deepEqual(sent.dst, { ip: '127.0.0.1', port: localPort });
      assert.ok(Math.abs(sent.timeMs - startedMs) < 2000, `timeMs ${sent.timeMs} vs now ${startedMs}`);
      const received = await waitFor(events, (e) => e.direction === 'receive' && e.dst.port === localPort, 1000);
      assert.deepEqual(received.src, sent.src, 'receive events are oriented like the RST');
      assert.deepEqual(kernel.counters.parseErrors, 0);
    } finally {
      await kernel.stop();
    }
  });

  it('names the pid of the process whose close aborted a connection with unread data', async () => {
    const kernel = new KernelResetEvents({ logger: silentLogger(), exitCleanup: false });
    const events: TimedKernelResetEvent[] = [];
    kernel.on('event', (event) => events.push(event));
    await kernel.start(new AbortController().signal);
    const { child, firstLine } = spawnNode(`
      const net = require('net');
      const server = net.createServer({ pauseOnConnect: true }, (socket) => setTimeout(() => socket.destroy(), 200));
      server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
      setTimeout(() => process.exit(0), 10000);
    `);
    children.push(child);
    try {
      const serverPort = Number(await firstLine);
      let clientPort = 0;
      const client = net.connect({ host: '127.0.0.1', port: serverPort }, () => {
        clientPort = client.localPort ?? 0;
        client.write('data the server never reads');
      });
      client.on('error', () => undefined);
      const abort = await waitFor(events, (e) => e.direction === 'send' && e.src.port === serverPort, 3000);
      assert.equal(abort.reason, 'TCP_ABORT_ON_CLOSE');
      assert.equal(abort.state, 'TCP_CLOSE');
      assert.equal(abort.context, 'process');
      assert.equal(abort.process?.pid, child.pid);
      assert.equal(abort.process?.comm, 'node');
      assert.deepEqual(abort.dst, { ip: '127.0.0.1', port: clientPort });
      client.destroy();
    } finally {
      child.kill('SIGKILL');
      await kernel.stop();
    }
  });

  it('removes its instance directory on stop()', async () => {
    const kernel = new KernelResetEvents({ logger: silentLogger() });
    await kernel.start(new AbortController().signal);
    const dir = kernel.instance?.dir;
    assert.ok(dir !== undefined && existsSync(dir));
    await kernel.stop();
    assert.equal(existsSync(dir), false);
    assert.equal(process.listenerCount('SIGTERM'), 0, 'exit handlers uninstalled');
  });

  it('a process running the component killed with SIGTERM leaves no instance behind', async () => {
    const { child, firstLine } = spawnNode(CHILD_COMPONENT);
    children.push(child);
    const dir = await firstLine;
    assert.ok(existsSync(dir));
    child.kill('SIGTERM');
    const { signal } = await exited(child);
    assert.equal(signal, 'SIGTERM', 'the process still dies of the signal');
    assert.equal(existsSync(dir), false);
  });

  it('a process that exits without stop() leaves no instance behind', async () => {
    const { child, firstLine } = spawnNode(CHILD_COMPONENT.replace("kernel.instance.dir + '\\n')", "kernel.instance.dir + '\\n') && setTimeout(() => process.exit(4), 100)"));
    children.push(child);
    const dir = await firstLine;
    const { code } = await exited(child);
    assert.equal(code, 4);
    assert.equal(existsSync(dir), false);
  });

  it('sweeps the instance of a SIGKILLed process on the next start', async () => {
    const { child, firstLine } = spawnNode(CHILD_COMPONENT);
    children.push(child);
    const dir = await firstLine;
    child.kill('SIGKILL');
    await exited(child);
    assert.ok(existsSync(dir), 'SIGKILL leaves the instance');
    const kernel = new KernelResetEvents({ logger: silentLogger(), exitCleanup: false });
    await kernel.start(new AbortController().signal);
    await kernel.stop();
    assert.equal(existsSync(dir), false);
  });
});
