import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import WebSocket from 'ws';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';
import type { AgentMetrics } from '../common/metrics';
import type { Finding } from '../protocol/finding';
import {
  MAX_BATCH_ITEMS,
  MAX_EVIDENCE_BYTES,
  PROTOCOL_VERSION,
  parseAggregatorMessage,
  validateFinding,
  type AgentMessage,
  type FindingItem,
} from '../protocol/messages';
import type { FindingSink } from './finding-sink';
import { Spool, type QueuedItem } from './spool';

export interface AggregatorClientOptions {
  /** ws:// or wss:// URL of the aggregator's /api/v1/agents. */
  url: string;
  /** File holding the bearer token; re-read at every connection attempt (rotation). */
  tokenFile: string | null;
  agentId: string;
  node: string;
  version: string;
  captureMode: string;
  /** Whether kernel reset events are being read now (sent in hello and heartbeats). */
  kernelEvents: () => boolean;
  spoolDir: string;
  spoolMaxBytes: number;
  /** Items kept in memory before overflowing to the spool. */
  memoryMaxItems?: number;
  metrics: Pick<AgentMetrics, 'findingsDropped' | 'aggregatorConnected' | 'aggregatorQueued'>;
  log: Logger;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Items sent but not yet acked, at most. */
  maxInFlightItems?: number;
}

/** Bytes of findings per `findings` message, well under the aggregator's MAX_MESSAGE_BYTES. */
const BATCH_MAX_BYTES = 256 * 1024;
/** Memory the queue may hold before items go to the spool (evidence captures can be 256 KiB each). */
const MEMORY_MAX_BYTES = 32 * 1024 * 1024;
/** How often the heartbeat checks whether there is something to say. */
const HEARTBEAT_CHECK_MS = 1_000;
/** How long to gather findings before sending a batch (so a burst goes as one message). */
const BATCH_DELAY_MS = 20;

/**
 * The agent's streaming side: every finding, rollup update and evidence capture
 * becomes an item with a seq that only grows (time-based start, so a restarted agent
 * keeps growing it), kept until the aggregator acks it. Items wait in memory, then in
 * the on-disk spool; past the spool's bound they are dropped and counted
 * (rstprobe_findings_dropped_total{reason}), never silently. The connection is
 * re-made with exponential backoff and jitter; after the welcome, everything above
 * its lastSeq is sent again, and the aggregator ignores what it already has.
 */
export class AggregatorClient implements FindingSink {
  readonly name = 'aggregator-client';
  private readonly log: Logger;
  private readonly spool: Spool;
  private readonly memoryMaxItems: number;
  private readonly maxInFlightItems: number;
  /** Oldest first; items from `sentIndex` on are not yet sent on the current connection. */
  private memory: QueuedItem[] = [];
  private sentIndex = 0;
  /** Rough bytes held by `memory` (evidence captures are large; findings about a kilobyte). */
  private memoryBytes = 0;
  private nextSeq: number;
  private socket: WebSocket | null = null;
  private welcomed = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastSentMs = 0;
  private idleTimeoutMs = 60_000;
  private stopping = false;
  private lastRefusal = '';
  private reportedKernelEvents = false;
  private reportedDropped = 0;
  /** Findings dropped by this process, by reason; also reported to the aggregator in heartbeats. */
  dropped = 0;
  /** Highest seq the aggregator acked. */
  ackedSeq = 0;

  constructor(private readonly options: AggregatorClientOptions) {
    if (!/^wss?:\/\//.test(options.url)) {
      throw new UsageError(`--aggregator ${JSON.stringify(options.url)} is not a ws:// or wss:// URL; use e.g. ws://aggregator:7070/api/v1/agents`);
    }
    if (options.tokenFile !== null) readToken(options.tokenFile);
    this.log = options.log.child({ component: 'aggregator-client' });
    this.memoryMaxItems = options.memoryMaxItems ?? 10_000;
    this.maxInFlightItems = options.maxInFlightItems ?? 2_000;
    this.spool = new Spool(options.spoolDir, options.spoolMaxBytes, this.log);
    // Start above anything issued before: a time-based start (µs) and the spool's last seq.
    this.nextSeq = Math.max(Date.now() * 1000, this.spool.lastSeq() + 1);
    this.refill();
    this.updateGauges();
  }

  start(signal: AbortSignal): void {
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.connect();
  }

  /** Items waiting for an ack: in memory and on disk. */
  get queued(): { memory: number; spool: number } {
    return { memory: this.memory.length, spool: this.spool.items };
  }

  get connected(): boolean {
    return this.welcomed;
  }

  publish(finding: Finding, update: boolean): void {
    const invalid = validateFinding(finding);
    if (invalid !== null) {
      // The aggregator would refuse the whole batch (and close); keep the rest flowing.
      this.drop('invalid', `finding ${finding.id} does not match the finding schema: ${invalid}`);
      return;
    }
    this.enqueue({ seq: this.nextSeq++, type: 'finding', update, finding });
  }

  attachEvidence(findingId: string, pcapng: Buffer): void {
    if (pcapng.length > MAX_EVIDENCE_BYTES) {
      this.log.warn({ findingId, bytes: pcapng.length }, `evidence capture over ${MAX_EVIDENCE_BYTES} bytes not sent`);
      this.options.metrics.findingsDropped.inc({ reason: 'evidence-too-large' });
      return;
    }
    this.enqueue({ seq: this.nextSeq++, type: 'evidence', findingId, pcapng: pcapng.toString('base64'), bytes: pcapng.length });
  }

  private enqueue(item: QueuedItem): void {
    if (this.spool.empty && this.memory.length < this.memoryMaxItems && this.memoryBytes < MEMORY_MAX_BYTES) this.remember([item]);
    else if (this.spool.append([item]) > 0) this.drop('spool-full', `spool ${this.spool.dir} is at its bound of ${this.spool.maxBytes} bytes`);
    this.updateGauges();
    this.scheduleFlush();
  }

  private drop(reason: string, detail: string): void {
    this.dropped += 1;
    this.options.metrics.findingsDropped.inc({ reason });
    // One log line per burst of drops, not one per finding.
    if (this.dropped === 1 || this.dropped % 1000 === 0) this.log.warn({ reason, dropped: this.dropped }, `finding dropped: ${detail}`);
  }

  private remember(items: readonly QueuedItem[]): void {
    for (const item of items) {
      this.memory.push(item);
      this.memoryBytes += itemBytes(item);
    }
  }

  /** Moves spooled items back into memory while there is room, oldest first. */
  private refill(): void {
    while (!this.spool.empty && this.memory.length < this.memoryMaxItems / 2 && this.memoryBytes < MEMORY_MAX_BYTES / 2) {
      this.remember(this.spool.takeOldest().filter((item) => item.seq > this.ackedSeq));
    }
  }

  private connect(): void {
    if (this.stopping) return;
    let token: string | null = null;
    try {
      token = this.options.tokenFile === null ? null : readToken(this.options.tokenFile);
    } catch (err) {
      this.log.error({ err }, 'cannot read the aggregator token file; retrying');
      this.scheduleReconnect();
      return;
    }
    const socket = new WebSocket(this.options.url, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.socket = socket;
    this.welcomed = false;
    socket.on('open', () => {
      this.send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        agentId: this.options.agentId,
        node: this.options.node,
        version: this.options.version,
        capabilities: { kernelEvents: this.options.kernelEvents(), captureMode: this.options.captureMode, evidence: true },
        addresses: nodeAddresses(),
      });
    });
    socket.on('unexpected-response', (_request, response) => {
      this.noteRefusal(`aggregator answered the upgrade with HTTP ${response.statusCode}${response.statusCode === 401 ? ': check --token-file' : ''}`);
      socket.terminate();
    });
    socket.on('message', (data: WebSocket.RawData) => this.onMessage(data.toString()));
    socket.on('error', (err) => this.noteRefusal(`aggregator connection failed: ${err.message}`));
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.welcomed = false;
      this.options.metrics.aggregatorConnected.set(0);
      if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
      if (code >= 4000) this.noteRefusal(`aggregator closed the connection: ${code} ${reason.toString()}`);
      this.scheduleReconnect();
    });
  }

  /** Logs a failure once until it changes or a connection succeeds. */
  private noteRefusal(text: string): void {
    if (text === this.lastRefusal) return;
    this.lastRefusal = text;
    this.log.warn(text);
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer !== null) return;
    const initialMs = this.options.backoffInitialMs ?? 500;
    const maxMs = this.options.backoffMaxMs ?? 30_000;
    const ceilingMs = Math.min(maxMs, initialMs * 2 ** Math.min(this.attempt, 20));
    this.attempt += 1;
    // "Equal jitter": half fixed, half random, so a restarted aggregator is not hit by every agent at once.
    const delayMs = ceilingMs / 2 + Math.random() * (ceilingMs / 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private onMessage(text: string): void {
    const parsed = parseAggregatorMessage(text);
    if (!parsed.ok) {
      this.log.warn({ reason: parsed.reason }, 'aggregator sent a message outside the protocol; reconnecting');
      this.socket?.terminate();
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'welcome':
        this.onWelcome(message.lastSeq, message.idleTimeoutMs);
        return;
      case 'ack':
        this.onAck(message.seq);
        return;
      case 'error':
        this.log.warn({ code: message.code }, `aggregator: ${message.message}`);
        return;
    }
  }

  private onWelcome(lastSeq: number, idleTimeoutMs: number): void {
    this.welcomed = true;
    this.attempt = 0;
    this.lastRefusal = '';
    this.idleTimeoutMs = idleTimeoutMs;
    this.options.metrics.aggregatorConnected.set(1);
    if (lastSeq >= this.nextSeq) {
      // The aggregator has seqs this agent id never issued from here (the clock went
      // back, or another process used the id): renumber what waits, above them.
      this.log.warn({ lastSeq, nextSeq: this.nextSeq }, 'aggregator knows higher seqs for this agent id; renumbering queued items');
      this.nextSeq = lastSeq + 1;
      for (const item of this.memory) item.seq = this.nextSeq++;
    }
    // Everything unacked is sent again, in seq order, on this connection: rewind before the ack flushes.
    this.sentIndex = 0;
    this.onAck(lastSeq);
    this.log.info({ url: this.options.url, lastSeq, queued: this.queued }, 'connected to the aggregator');
    this.reportedKernelEvents = this.options.kernelEvents();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), Math.max(100, Math.min(HEARTBEAT_CHECK_MS, Math.floor(idleTimeoutMs / 3))));
    this.flush();
  }

  private onAck(seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = seq;
    let acked = 0;
    while (acked < this.memory.length && this.memory[acked].seq <= seq) acked += 1;
    if (acked > 0) {
      for (const item of this.memory.splice(0, acked)) this.memoryBytes -= itemBytes(item);
      this.sentIndex = Math.max(0, this.sentIndex - acked);
    }
    this.refill();
    this.updateGauges();
    this.flush();
  }

  /** Heartbeats keep an idle connection open, and tell within a second when kernel events start or stop or findings were dropped. */
  private heartbeat(): void {
    if (!this.welcomed) return;
    const kernelEvents = this.options.kernelEvents();
    const changed = kernelEvents !== this.reportedKernelEvents || this.dropped !== this.reportedDropped;
    if (!changed && Date.now() - this.lastSentMs < this.idleTimeoutMs / 3) return;
    this.reportedKernelEvents = kernelEvents;
    this.reportedDropped = this.dropped;
    this.send({ type: 'heartbeat', kernelEvents, droppedFindings: this.dropped });
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null || !this.welcomed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, BATCH_DELAY_MS);
  }

  /** Sends what is unsent, in seq order, within the in-flight window. */
  private flush(): void {
    if (!this.welcomed || this.socket === null) return;
    while (this.sentIndex < this.memory.length && this.sentIndex < this.maxInFlightItems) {
      const first = this.memory[this.sentIndex];
      if (first.type === 'evidence') {
        this.send({ type: 'evidence', seq: first.seq, findingId: first.findingId, pcapng: first.pcapng, bytes: first.bytes });
        this.sentIndex += 1;
        continue;
      }
      const items: FindingItem[] = [];
      let bytes = 0;
      while (this.sentIndex < this.memory.length && this.sentIndex < this.maxInFlightItems && items.length < MAX_BATCH_ITEMS && bytes < BATCH_MAX_BYTES) {
        const item = this.memory[this.sentIndex];
        if (item.type !== 'finding') break;
        items.push({ seq: item.seq, update: item.update, finding: item.finding });
        bytes += 600; // a typical finding's JSON; exact size is checked by the aggregator
        this.sentIndex += 1;
      }
      this.send({ type: 'findings', items });
    }
  }

  private send(message: AgentMessage): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify(message));
    this.lastSentMs = Date.now();
  }

  private updateGauges(): void {
    this.options.metrics.aggregatorQueued.set({ where: 'memory' }, this.memory.length);
    this.options.metrics.aggregatorQueued.set({ where: 'spool' }, this.spool.items);
  }

  /** Stops streaming; what is not acked goes to the spool, so the next run resends it. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of [this.reconnectTimer, this.flushTimer]) if (timer !== null) clearTimeout(timer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      // Give in-flight acks a moment, then close.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        const check = setInterval(() => {
          if (this.memory.length === 0 || socket.readyState !== WebSocket.OPEN) {
            clearTimeout(timer);
            clearInterval(check);
            resolve();
          }
        }, 20);
        timer.unref();
        setTimeout(() => clearInterval(check), 600).unref();
      });
      socket.close(1001, 'agent stopping');
      socket.terminate();
    }
    const unacked = this.memory.filter((item) => item.seq > this.ackedSeq);
    // Spooled items are newer than memory's: rewrite them after memory's so order holds.
    const spooled: QueuedItem[] = [];
    while (!this.spool.empty) spooled.push(...this.spool.takeOldest());
    const refused = this.spool.append([...unacked, ...spooled]);
    for (let index = 0; index < refused; index += 1) this.drop('spool-full', 'spool full at shutdown');
    this.memory = [];
    this.memoryBytes = 0;
    if (unacked.length + spooled.length > 0) this.log.info({ items: unacked.length + spooled.length - refused, dir: this.spool.dir }, 'unacked items kept in the spool for the next run');
  }
}

function itemBytes(item: QueuedItem): number {
  return item.type === 'evidence' ? item.pcapng.length + 200 : 1_000;
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --token-file ${file}: ${(err as Error).message}; give a readable file holding the aggregator's token`, { cause: err });
  }
  const token = text.split('\n').map((line) => line.trim()).find((line) => line !== '' && !line.startsWith('#'));
  if (token === undefined) throw new UsageError(`--token-file ${file} holds no token; write the aggregator's token on its first line`);
  return token;
}

/** This node's non-loopback addresses, sent in hello so the aggregator knows which node hosts them. */
function nodeAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && !entry.address.startsWith('fe80:'))
    .map((entry) => entry.address)
    .slice(0, 256);
}
