import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { AggregatorClient, type AggregatorClientOptions } from '../../src/agent/aggregator-client';
import { HttpServer } from '../../src/agent/http-server';
import { Aggregator, type AggregatorOptions } from '../../src/aggregator/aggregator';
import type { Authenticator } from '../../src/aggregator/auth';
import { FindingStore, type StoreOptions } from '../../src/aggregator/store';
import { silentLogger } from '../../src/common/log';
import { createAgentMetrics, createAggregatorMetrics, type AggregatorMetrics } from '../../src/common/metrics';
import type { Endpoint, Finding, PmtuFinding, ResetFinding } from '../../src/protocol/finding';
import { CLI_PATH } from '../support/agent-process';

/** Helpers for the aggregator's tests: findings, an in-process aggregator, the CLI as a child process. */

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `rstprobe-${prefix}-`));
}

export function removeDir(dir: string): void {
  // A client stopping in the background may still write a spool file: retry ENOTEMPTY.
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
}

export function endpoint(ip: string, port: number, pod: { namespace: string; name: string } | null = null, node: string | null = null): Endpoint {
  return {
    ip,
    port,
    kind: pod === null ? 'external' : 'pod',
    pod: pod === null ? null : { namespace: pod.namespace, name: pod.name, uid: `uid-${pod.name}`, container: 'app' },
    node,
    process: null,
  };
}

let counter = 0;

export function resetFinding(overrides: Partial<ResetFinding> = {}): ResetFinding {
  counter += 1;
  const now = new Date().toISOString();
  return {
    kind: 'reset',
    id: `test-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    node: 'node-a',
    time: now,
    lastSeen: now,
    count: 1,
    src: endpoint('10.244.2.20', 8080, { namespace: 'shop', name: 'reviews-0' }),
    dst: endpoint('10.244.1.10', 40000 + (counter % 20000)),
    sentBy: 'unknown',
    cause: 'unknown',
    kernelReason: null,
    state: null,
    ttl: 63,
    expectedTtl: null,
    idleMs: null,
    evidence: ['RST seen on the wire'],
    advice: 'look at the sender',
    ...overrides,
  };
}

export function pmtuFinding(overrides: Partial<PmtuFinding> = {}): PmtuFinding {
  counter += 1;
  const now = new Date().toISOString();
  return {
    kind: 'pmtu',
    id: `pmtu-${process.pid}-${counter}`,
    node: 'node-a',
    time: now,
    lastSeen: now,
    count: 1,
    from: { node: 'node-a', ip: '10.0.0.1' },
    to: { ip: '10.0.0.2', node: 'node-b', pod: null },
    pmtu: 1400,
    localMtu: 1500,
    mismatch: true,
    blackHole: false,
    icmpSeen: true,
    probes: 11,
    durationMs: 180,
    advice: 'lower the MTU',
    ...overrides,
  };
}

export interface RunningAggregator {
  aggregator: Aggregator;
  store: FindingStore;
  metrics: AggregatorMetrics;
  http: HttpServer;
  port: number;
  agentsUrl: string;
  baseUrl: string;
  stop(): Promise<void>;
}

/** A real Aggregator on a real HTTP server on loopback, with a real SQLite file. */
export async function startAggregator(
  dbPath: string,
  options: { agentAuth?: Authenticator | null; apiAuth?: Authenticator | null; store?: Partial<StoreOptions>; port?: number } & Partial<Pick<AggregatorOptions, 'crossNodeGraceMs' | 'idleTimeoutMs' | 'pods'>> = {},
): Promise<RunningAggregator> {
  const store = FindingStore.open(dbPath, options.store);
  const metrics = createAggregatorMetrics();
  const http = new HttpServer({ host: '127.0.0.1', port: options.port ?? 0 }, silentLogger());
  const controller = new AbortController();
  const aggregator = new Aggregator({
    http,
    store,
    metrics,
    log: silentLogger(),
    ingest: true,
    agentAuth: options.agentAuth ?? null,
    apiAuth: options.apiAuth ?? null,
    pods: options.pods ?? null,
    crossNodeGraceMs: options.crossNodeGraceMs,
    idleTimeoutMs: options.idleTimeoutMs,
    ui: false,
  });
  const address = await http.start();
  aggregator.start(controller.signal);
  return {
    aggregator,
    store,
    metrics,
    http,
    port: address.port,
    agentsUrl: `ws://127.0.0.1:${address.port}/api/v1/agents`,
    baseUrl: `http://127.0.0.1:${address.port}`,
    async stop() {
      controller.abort();
      await aggregator.stop();
      await http.stop();
      store.close();
    },
  };
}

/** An AggregatorClient with its own metrics and a spool in `spoolDir`. */
export function startClient(url: string, spoolDir: string, overrides: Partial<AggregatorClientOptions> = {}): { client: AggregatorClient; metrics: ReturnType<typeof createAgentMetrics>; controller: AbortController } {
  const metrics = createAgentMetrics();
  const controller = new AbortController();
  const client = new AggregatorClient({
    url,
    tokenFile: null,
    agentId: 'agent-test',
    node: 'node-a',
    version: 'test',
    captureMode: 'control',
    kernelEvents: () => true,
    spoolDir,
    spoolMaxBytes: 16 * 1024 * 1024,
    metrics,
    log: silentLogger(),
    backoffInitialMs: 50,
    backoffMaxMs: 500,
    ...overrides,
  });
  client.start(controller.signal);
  return { client, metrics, controller };
}

/** A port free right now on loopback (for a server that must come back on the same port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain-text answers (errors) stay text
  }
  return { status: response.status, body: body as T };
}

/** A raw WebSocket to the agents endpoint, and the close code and messages it got. */
export function rawAgentSocket(url: string, headers: Record<string, string> = {}): Promise<{ socket: WebSocket; closed: Promise<{ code: number; messages: unknown[] }>; status: Promise<number | null> }> {
  const socket = new WebSocket(url, { headers });
  const messages: unknown[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
  let statusResolve: (status: number | null) => void = () => {};
  const status = new Promise<number | null>((resolve) => (statusResolve = resolve));
  socket.on('unexpected-response', (_request, response) => {
    statusResolve(response.statusCode ?? null);
    socket.terminate();
  });
  socket.on('error', () => {});
  const closed = new Promise<{ code: number; messages: unknown[] }>((resolve) => socket.on('close', (code) => resolve({ code, messages })));
  return new Promise((resolve) => {
    socket.on('open', () => {
      statusResolve(101);
      resolve({ socket, closed, status });
    });
    socket.on('close', () => resolve({ socket, closed, status }));
  });
}

export function hello(agentId: string, node: string): string {
  return JSON.stringify({ type: 'hello', protocol: 1, agentId, node, version: 'test', capabilities: { kernelEvents: true, captureMode: 'control', evidence: true }, addresses: [] });
}

/** `rstprobe aggregator` as a child process; resolves once it listens. */
export async function spawnAggregator(args: readonly string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI_PATH, 'aggregator', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout?.resume();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aggregator did not start: ${stderr}`)), 15_000);
    const check = (): void => {
      const match = /"port":(\d+)[^\n]*"msg":"aggregator running"/.exec(stderr) ?? /rstprobe aggregator on https?:\/\/\S+:(\d+) /.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stderr?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`aggregator exited with ${code}: ${stderr}`));
    });
  });
  return { child, port, stderr: () => stderr };
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export type { Finding };
