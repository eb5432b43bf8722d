import { hostname } from 'node:os';
import type { Agent } from '../agent/agent';
import { AggregatorClient } from '../agent/aggregator-client';
import { FanoutSink, StdoutSink, type FindingSink } from '../agent/finding-sink';
import { defaultSpoolDir } from '../agent/spool';
import { TokenFileAuthenticator } from '../aggregator/auth';
import { EmbeddedAggregatorSink } from '../aggregator/embedded';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';
import type { Finding } from '../protocol/finding';

export interface SinkFlags {
  json: boolean;
  nodeName?: string;
  capture: string;
  aggregator?: string;
  tokenFile?: string;
  spoolDir?: string;
  spoolMaxMb: string;
  agentId?: string;
  db?: string;
  apiTokenFile?: string;
}

/**
 * Where `rstprobe agent` sends its findings: always stdout (`--json` NDJSON, else
 * text lines — tests and pipelines rely on it), plus the aggregator stream with
 * `--aggregator`, or the embedded aggregator (store, API, stream, UI on --listen)
 * without it. Registers the embedded aggregator's routes on the agent's HTTP server,
 * so call it before agent.start().
 */
export function startFindingSink(flags: SinkFlags, agent: Agent, log: Logger, signal: AbortSignal, format: (finding: Finding) => string): FindingSink {
  const stdout = new StdoutSink(format);
  const onError = (err: unknown): void => log.error({ err }, 'a finding sink failed');
  if (flags.aggregator === undefined) {
    const apiAuth = flags.apiTokenFile === undefined ? null : new TokenFileAuthenticator(flags.apiTokenFile, log.child({ component: 'api-auth' }));
    const embedded = new EmbeddedAggregatorSink({ http: agent.http, registry: agent.metrics.registry, log, dbPath: flags.db ?? null, apiAuth });
    return new FanoutSink([stdout, embedded], onError);
  }
  const spoolMaxMb = Number(flags.spoolMaxMb);
  if (!Number.isFinite(spoolMaxMb) || spoolMaxMb <= 0) throw new UsageError(`--spool-max-mb ${JSON.stringify(flags.spoolMaxMb)} is not a positive number`);
  const node = flags.nodeName ?? process.env.NODE_NAME ?? hostname();
  const client = new AggregatorClient({
    url: flags.aggregator,
    tokenFile: flags.tokenFile ?? null,
    agentId: flags.agentId ?? node,
    node,
    version: require('../../../package.json').version as string,
    captureMode: flags.capture,
    kernelEvents: () => agent.kernelEventsActive,
    spoolDir: flags.spoolDir ?? defaultSpoolDir(node),
    spoolMaxBytes: spoolMaxMb * 1024 * 1024,
    metrics: agent.metrics,
    log,
  });
  client.start(signal);
  return new FanoutSink([stdout, client], onError);
}
