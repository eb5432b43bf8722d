import type { Finding } from '../protocol/finding';

/**
 * Where the agent's findings go. The agent calls `publish` for every new finding and
 * every rollup update (`update`: its count/lastSeen grew), and `attachEvidence` with a
 * finding's evidence capture. Implementations: AggregatorClient (streams to the
 * aggregator), the embedded aggregator (standalone), StdoutSink (`--json` NDJSON and
 * the text lines); FanoutSink sends to several.
 */
export interface FindingSink {
  publish(finding: Finding, update: boolean): void;
  attachEvidence(findingId: string, pcapng: Buffer): void;
  stop(): Promise<void>;
}

/** Prints each finding on stdout: NDJSON with `--json` (tests and pipelines rely on it), else one text line. */
export class StdoutSink implements FindingSink {
  constructor(private readonly format: (finding: Finding) => string) {}

  publish(finding: Finding): void {
    process.stdout.write(`${this.format(finding)}\n`);
  }

  attachEvidence(): void {}

  async stop(): Promise<void> {}
}

/** Sends every call to each sink, in order; one sink throwing does not starve the others. */
export class FanoutSink implements FindingSink {
  constructor(
    private readonly sinks: readonly FindingSink[],
    private readonly onError: (err: unknown) => void,
  ) {}

  publish(finding: Finding, update: boolean): void {
    for (const sink of this.sinks) {
      try {
        sink.publish(finding, update);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  attachEvidence(findingId: string, pcapng: Buffer): void {
    for (const sink of this.sinks) {
      try {
        sink.attachEvidence(findingId, pcapng);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  async stop(): Promise<void> {
    for (const sink of this.sinks) await sink.stop();
  }
}
