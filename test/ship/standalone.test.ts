import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/main';

/**
 * `npm start` — the README's first command — runs the agent standalone: capture,
 * diagnosis, the embedded aggregator, its store and the UI, on one port. Run here
 * through npm itself, capturing on loopback only, with a RST made on purpose.
 */
const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const isRoot = process.getuid?.() === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function getText(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

test('npm start is the standalone agent, with the CLI\'s node flags', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, ['node', ...NODE_FLAGS, 'dist/src/cli/main.js', 'agent'].join(' '));
});

test('the CLI\'s shebang carries its node flags (npx rstprobe, a global install)', () => {
  const firstLine = fs.readFileSync(CLI, 'utf8').split('\n')[0];
  assert.equal(firstLine, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
});

describe('npm start as root', { skip: isRoot ? undefined : 'packet capture needs root (CAP_NET_RAW); CI runs this as root', timeout: 60_000 }, () => {
  let child: ChildProcess;
  let stderr = '';
  let base: string;

  before(async () => {
    const port = await freePort();
    // npm's own lines go to stdout; the agent's announcement and logs to stderr.
    child = spawn('npm', ['start', '--silent', '--', '--listen', `127.0.0.1:${port}`, '--interfaces', 'lo', '--log-level', 'warn'], {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.resume();
    base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no UI line within 30 s: ${stderr}`)), 30_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const match = /UI on (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited (${code}): ${stderr}`)));
    });
  });

  after(async () => {
    if (child?.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  });

  test('prints where the UI is, on the --listen address', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('serves /healthz, the UI page and the findings API', async () => {
    assert.equal((await getText(`${base}/healthz`)).status, 200);
    const page = await getText(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    const api = await getText(`${base}/api/v1/findings`);
    assert.equal(api.status, 200);
    assert.ok(Array.isArray((JSON.parse(api.body) as { items: unknown }).items));
  });

  test('a RST on loopback becomes a finding in the embedded store', async () => {
    const closedPort = await freePort();
    await new Promise<void>((resolve) => {
      const socket = net.connect(closedPort, '127.0.0.1');
      socket.on('error', () => resolve());
      socket.on('connect', () => {
        socket.destroy();
        resolve();
      });
    });
    const deadline = Date.now() + 15_000;
    let items: { kind: string; src?: { port: number }; cause?: string }[] = [];
    while (Date.now() < deadline) {
      items = (JSON.parse((await getText(`${base}/api/v1/findings?kind=reset`)).body) as { items: typeof items }).items;
      if (items.some((item) => item.src?.port === closedPort)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const finding = items.find((item) => item.src?.port === closedPort);
    assert.ok(finding, `no finding for 127.0.0.1:${closedPort}; stderr: ${stderr.slice(-1500)}`);
    assert.equal(finding.cause, 'not-listening');
  });
});

describe('the standalone agent without root', () => {
  test('prints one line naming what is missing and exits 2', { skip: isRoot ? undefined : 'runs as root to drop to an unprivileged uid' }, () => {
    // `npm start` runs exactly this command (checked above); npm itself needs a writable home, so node is run directly.
    const result = spawnSync(process.execPath, [...NODE_FLAGS, CLI, 'agent', '--listen', '127.0.0.1:0'], { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 30_000 });
    assert.equal(result.status, 2, result.stderr);
    // Structured logs (JSON, one object a line) may precede it; the person reads one plain line.
    const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('{'));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^rstprobe: .*CAP_NET_RAW.*(sudo|setcap)/);
  });
});
