import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { HttpServer, parseListenAddress, sendText, type TlsFiles } from '../agent/http-server';
import { Aggregator } from '../aggregator/aggregator';
import { AnyAuthenticator, TokenFileAuthenticator, TokenReviewAuthenticator, type Authenticator } from '../aggregator/auth';
import type { PodDirectory } from '../aggregator/cross-node';
import { FindingStore } from '../aggregator/store';
import { IpOwnershipMap } from '../attribution/ip-map';
import { inClusterConfigAvailable, loadKubeConfig } from '../attribution/kubernetes/kube-config';
import { KubeWatcher } from '../attribution/kubernetes/kube-watcher';
import { UsageError } from '../common/errors';
import { createRootLogger, type Logger, type LogLevel } from '../common/log';
import { createAggregatorMetrics } from '../common/metrics';
import { abortOnSignals, addSharedOptions, reportFailure } from './shared';

interface AggregatorFlags {
  json: boolean;
  logLevel: LogLevel;
  listen: string;
  db?: string;
  tokenFile?: string;
  apiTokenFile?: string;
  tokenReview: 'auto' | 'on' | 'off';
  audience: string;
  kubeconfig?: string;
  tlsCert?: string;
  tlsKey?: string;
  retentionHours: string;
  maxDbMb: string;
  crossNodeGraceMs: string;
  idleTimeoutMs: string;
  insecureNoAuth: boolean;
}

export function registerAggregatorCommand(program: Command): void {
  const command = program
    .command('aggregator')
    .description('receive findings from agents over WebSocket, store them, and serve the API, UI, stream and metrics');
  addSharedOptions(command)
    .option('--listen <host:port>', 'address for /api/v1/agents, the API, the UI, /healthz and /metrics', '0.0.0.0:7070')
    .option('--db <file>', 'SQLite database file (default: /var/lib/rstprobe/aggregator.db, else the OS temp dir)')
    .option('--token-file <path>', 'tokens agents may present (one per line; re-read when it changes)')
    .option('--api-token-file <path>', 'token(s) the UI and read API require (default: open; may be the same file as --token-file)')
    .addOption(
      new Option('--token-review <mode>', 'validate projected ServiceAccount tokens with the TokenReview API (auto: when in a cluster or with --kubeconfig)')
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .option('--audience <name>', 'audience the agents\' projected tokens must carry', 'rstprobe')
    .option('--kubeconfig <path>', 'kubeconfig file (in-cluster config is detected): TokenReview and the cluster-wide pod map')
    .option('--tls-cert <file>', 'PEM certificate chain: serve https and wss')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--retention-hours <hours>', 'delete findings last seen longer ago', '168')
    .option('--max-db-mb <mb>', 'delete the oldest findings when the database grows past this', '512')
    .addOption(new Option('--cross-node-grace-ms <ms>', 'wait this long for the sender\'s node before calling a reset forged').default('10000').hideHelp())
    .addOption(new Option('--idle-timeout-ms <ms>', 'close agent connections silent this long').default('60000').hideHelp())
    .option('--insecure-no-auth', 'accept agents without a token (loopback tests only)', false)
    .action(async (flags: AggregatorFlags) => {
      await runAggregator(flags).catch(reportFailure);
    });
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a positive number`);
  return value;
}

/** `/var/lib/rstprobe/aggregator.db` when that directory is writable, else the OS temp dir. */
export function defaultDbPath(fileName: string): string {
  const preferred = '/var/lib/rstprobe';
  try {
    mkdirSync(preferred, { recursive: true });
    accessSync(preferred, constants.W_OK);
    return path.join(preferred, fileName);
  } catch {
    return path.join(tmpdir(), `rstprobe-${fileName}`);
  }
}

function readTls(flags: AggregatorFlags): TlsFiles | null {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return null;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plain http/ws');
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`cannot read ${flag} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: read('--tls-cert', flags.tlsCert), key: read('--tls-key', flags.tlsKey) };
}

function agentAuthenticator(flags: AggregatorFlags, log: Logger): Authenticator | null {
  const sources: Authenticator[] = [];
  if (flags.tokenFile !== undefined) sources.push(new TokenFileAuthenticator(flags.tokenFile, log.child({ component: 'auth' })));
  const cluster = flags.kubeconfig !== undefined || inClusterConfigAvailable();
  if (flags.tokenReview === 'on' || (flags.tokenReview === 'auto' && cluster)) {
    sources.push(
      new TokenReviewAuthenticator({ kubeConfig: loadKubeConfig(flags.kubeconfig ?? null), audience: flags.audience, log: log.child({ component: 'token-review' }) }),
    );
  }
  if (sources.length === 0) {
    if (flags.insecureNoAuth) return null;
    throw new UsageError('agents need a way to authenticate: give --token-file FILE, or run in a cluster (TokenReview), or --insecure-no-auth for a loopback test');
  }
  return sources.length === 1 ? sources[0] : new AnyAuthenticator(sources);
}

async function runAggregator(flags: AggregatorFlags): Promise<void> {
  const log = createRootLogger(flags.logLevel);
  const listen = parseListenAddress(flags.listen);
  const retentionMs = positiveNumber('--retention-hours', flags.retentionHours) * 3_600_000;
  const maxBytes = positiveNumber('--max-db-mb', flags.maxDbMb) * 1024 * 1024;
  const tls = readTls(flags);
  const agentAuth = agentAuthenticator(flags, log);
  const apiAuth = flags.apiTokenFile === undefined ? null : new TokenFileAuthenticator(flags.apiTokenFile, log.child({ component: 'api-auth' }));
  const dbPath = flags.db ?? defaultDbPath('aggregator.db');
  const store = FindingStore.open(dbPath, { retentionMs, maxBytes });
  const controller = new AbortController();
  let watcher: KubeWatcher | null = null;
  let pods: PodDirectory | null = null;
  if (flags.kubeconfig !== undefined || inClusterConfigAvailable()) {
    watcher = new KubeWatcher({ kubeconfigPath: flags.kubeconfig ?? null, scope: 'cluster', nodeName: '', ipMap: new IpOwnershipMap(), log });
    pods = watcher.state;
  }
  const metrics = createAggregatorMetrics();
  const http = new HttpServer(listen, log.child({ component: 'http' }), tls);
  http.route('/healthz', (_request, response) => sendText(response, 200, 'ok\n'));
  http.route('/metrics', async (_request, response) => sendText(response, 200, await metrics.registry.metrics(), metrics.registry.contentType));
  const aggregator = new Aggregator({
    http,
    store,
    metrics,
    log,
    ingest: true,
    agentAuth,
    apiAuth,
    pods,
    crossNodeGraceMs: positiveNumber('--cross-node-grace-ms', flags.crossNodeGraceMs),
    idleTimeoutMs: positiveNumber('--idle-timeout-ms', flags.idleTimeoutMs),
  });
  if (flags.json) aggregator.stream.onPublish((finding) => process.stdout.write(`${JSON.stringify(finding)}\n`));
  abortOnSignals(controller);
  try {
    const address = await http.start();
    aggregator.start(controller.signal);
    if (watcher !== null) void watcher.start(controller.signal).catch((err: unknown) => log.error({ err }, 'Kubernetes watch failed; cross-node attribution runs without the pod map'));
    const scheme = tls === null ? 'http' : 'https';
    log.info({ listen: { host: address.address, port: address.port }, db: dbPath, tls: tls !== null }, 'aggregator running');
    if (!flags.json) process.stderr.write(`rstprobe aggregator on ${scheme}://${address.address}:${address.port} (agents: /api/v1/agents, UI: /); Ctrl-C stops\n`);
    await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await aggregator.stop();
    await watcher?.stop();
    await http.stop();
    store.close();
  }
}
