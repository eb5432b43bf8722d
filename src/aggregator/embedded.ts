import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { FindingSink } from '../agent/finding-sink';
import type { HttpServer } from '../agent/http-server';
import type { Logger } from '../common/log';
import { createAggregatorMetrics } from '../common/metrics';
import type { Finding } from '../protocol/finding';
import { Aggregator } from './aggregator';
import type { Authenticator } from './auth';
import { FindingStore } from './store';

export interface EmbeddedAggregatorOptions {
  http: HttpServer;
  /** The agent's registry: one /metrics for both. */
  registry: Registry;
  log: Logger;
  /** The store file; null: a temporary file removed on stop. */
  dbPath: string | null;
  apiAuth: Authenticator | null;
}

/**
 * The standalone agent's aggregator (DESIGN.md: "without --aggregator it runs
 * standalone with an embedded aggregator, store and UI on --listen"): findings go
 * straight into the store, the API, the stream and the UI, in-process.
 */
export class EmbeddedAggregatorSink implements FindingSink {
  readonly name = 'embedded-aggregator';
  readonly store: FindingStore;
  readonly aggregator: Aggregator;
  private readonly temporaryDb: string | null;
  private readonly controller = new AbortController();

  constructor(options: EmbeddedAggregatorOptions) {
    this.temporaryDb = options.dbPath === null ? path.join(tmpdir(), `rstprobe-standalone-${process.pid}-${Date.now()}.db`) : null;
    this.store = FindingStore.open(options.dbPath ?? (this.temporaryDb as string));
    this.aggregator = new Aggregator({
      http: options.http,
      store: this.store,
      metrics: createAggregatorMetrics(options.registry),
      log: options.log,
      ingest: false,
      agentAuth: null,
      apiAuth: options.apiAuth,
    });
    this.aggregator.start(this.controller.signal);
  }

  publish(finding: Finding, update: boolean): void {
    this.aggregator.publishLocal(finding, update);
  }

  attachEvidence(findingId: string, pcapng: Buffer): void {
    this.aggregator.attachLocalEvidence(findingId, pcapng);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.aggregator.stop();
    this.store.close();
    if (this.temporaryDb !== null) {
      // Ours alone: a temporary store goes with the process (WAL and shared-memory files too).
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${this.temporaryDb}${suffix}`, { force: true });
    }
  }
}
