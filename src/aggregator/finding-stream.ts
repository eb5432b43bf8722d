import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { rejectUpgrade } from '../agent/http-server';
import type { Logger } from '../common/log';
import type { Finding } from '../protocol/finding';

/** A client that has this much unsent is skipped (and counted) rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Ping period; a client that missed the previous pong is dropped (RFC 6455 §5.5.2). */
const PING_MS = 30_000;

/** One message of `GET /api/v1/stream`: a new finding, or a stored one that changed. */
export interface StreamMessage {
  type: 'finding';
  update: boolean;
  finding: Finding;
}

/**
 * `GET /api/v1/stream`: pushes every new or changed finding, as stored, to the UI's
 * WebSockets. Read-only: whatever a client sends is ignored.
 */
export class FindingStream {
  readonly name = 'finding-stream';
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly alive = new WeakSet<WebSocket>();
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<(finding: Finding, update: boolean) => void> = [];
  /** Messages not sent to a client that had fallen too far behind. */
  skipped = 0;

  constructor(
    private readonly log: Logger,
    private readonly admit: (request: IncomingMessage) => Promise<boolean>,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.ping(), PING_MS);
    this.timer.unref();
  }

  get clients(): number {
    return this.wss.clients.size;
  }

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (!(await this.admit(request))) {
      rejectUpgrade(socket, 401, 'unauthorized: this API needs its token (Authorization: Bearer, or open the UI with ?token=)');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (client) => {
      this.alive.add(client);
      client.on('pong', () => this.alive.add(client));
      client.on('error', (err) => this.log.debug({ err }, 'stream client error'));
    });
  }

  /** In-process subscribers (the aggregator's `--json` output). */
  onPublish(listener: (finding: Finding, update: boolean) => void): void {
    this.listeners.push(listener);
  }

  publish(finding: Finding, update: boolean): void {
    for (const listener of this.listeners) listener(finding, update);
    if (this.wss.clients.size === 0) return;
    const text = JSON.stringify({ type: 'finding', update, finding } satisfies StreamMessage);
    for (const client of this.wss.clients) {
      if (client.readyState !== client.OPEN) continue;
      if (client.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.skipped += 1;
        continue;
      }
      client.send(text);
    }
  }

  private ping(): void {
    for (const client of this.wss.clients) {
      if (!this.alive.has(client)) {
        client.terminate();
        continue;
      }
      this.alive.delete(client);
      client.ping();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const client of this.wss.clients) client.close(1001, 'server stopping');
    this.wss.close();
  }
}
