import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { rejectUpgrade } from '../agent/http-server';
import { StoreError } from '../common/errors';
import type { Logger } from '../common/log';
import type { AggregatorMetrics } from '../common/metrics';
import {
  CloseCode,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  parseAgentMessage,
  type AggregatorMessage,
  type EvidenceMessage,
  type FindingsMessage,
  type HelloMessage,
} from '../protocol/messages';
import { authorizeRequest, type Authenticator } from './auth';
import type { AgentDirectory } from './agent-directory';
import type { FindingStore, StoredChange } from './store';

/** A findings or evidence message waiting for the next group commit. */
interface PendingWrite {
  socket: WebSocket;
  session: AgentSession;
  message: FindingsMessage | EvidenceMessage;
  receivedMs: number;
}

/** An agent that said hello. */
export interface AgentSession {
  agentId: string;
  node: string;
  version: string;
  kernelEvents: boolean;
  captureMode: string;
  connectedAtMs: number;
  /** The agent's cumulative count of findings it dropped, from its heartbeats. */
  droppedFindings: number;
}

export interface AgentIngestOptions {
  store: FindingStore;
  authenticator: Authenticator | null;
  agents: AgentDirectory;
  metrics: AggregatorMetrics;
  log: Logger;
  /** Called once per commit with what it stored (new findings and rollup updates, as stored, in order). */
  onStored: (changed: StoredChange[]) => void;
  onEvidence?: (findingId: string) => void;
  idleTimeoutMs?: number;
  helloTimeoutMs?: number;
}

/**
 * Group commit: writes arriving within this window share one transaction. A commit
 * costs far more than a row (every page it dirties is written to the WAL, and each
 * agent's rows sit on pages of their own), so at thousands of items per second a few
 * milliseconds of waiting cut the cost per item; a lone message is acked this late.
 */
const COMMIT_WINDOW_MS = 10;
/** Commit at once (next turn) when this many items wait, whatever the window says. */
const COMMIT_MAX_ITEMS = 2_000;

/** What a committed write does: ack its socket up to `seq` (one ack per socket per commit), then report what it stored. */
interface Committed {
  socket: WebSocket;
  seq: number;
  /** For findings messages: what was stored, and how many items were duplicates. */
  changed?: StoredChange[];
  duplicates?: number;
  /** For evidence messages and refusals. */
  after?: () => void;
}

/** ws closes anything above this on its own (1009); up to it we answer with an error and 4413. */
const HARD_MAX_PAYLOAD_BYTES = 4 * MAX_MESSAGE_BYTES;
/** WebSocket ping period (RFC 6455 §5.5.2); a peer that missed the previous pong is dropped. */
const PING_MS = 15_000;

/**
 * `/api/v1/agents`: authenticates before the upgrade, then runs the protocol of
 * src/protocol/messages.ts per connection. One bad peer is closed with a 4xxx code
 * and a protocol error; every other connection keeps streaming.
 */
export class AgentIngest {
  readonly name = 'agent-ingest';
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_PAYLOAD_BYTES, perMessageDeflate: false });
  private readonly sessions = new Map<string, { session: AgentSession; socket: WebSocket }>();
  private readonly idleTimeoutMs: number;
  private readonly helloTimeoutMs: number;
  private timer: NodeJS.Timeout | null = null;
  private pendingWrites: PendingWrite[] = [];
  private pendingItems = 0;
  private commitTimer: NodeJS.Timeout | null = null;
  private commitSoon = false;
  /** Whether each socket answered the last ping. */
  private readonly answeredPing = new WeakMap<WebSocket, boolean>();

  constructor(private readonly options: AgentIngestOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  }

  start(): void {
    this.timer = setInterval(() => this.ping(), PING_MS);
    this.timer.unref();
  }

  get connections(): number {
    return this.wss.clients.size;
  }

  connectedSessions(): AgentSession[] {
    return [...this.sessions.values()].map((entry) => entry.session);
  }

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const auth = await authorizeRequest(request, this.options.authenticator);
    if (!auth.ok) {
      this.options.metrics.rejectedMessages.inc({ reason: 'unauthorized' });
      this.options.log.warn({ remote: request.socket.remoteAddress, reason: auth.reason }, 'agent refused before upgrade');
      rejectUpgrade(socket, 401, `unauthorized: ${auth.reason}; give the agent a valid --token-file`);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (client) => this.serve(client, request.socket.remoteAddress ?? 'unknown'));
  }

  private serve(socket: WebSocket, remote: string): void {
    const log = this.options.log.child({ remote });
    let session: AgentSession | null = null;
    let lastMessageMs = Date.now();
    this.options.metrics.agentConnections.set(this.wss.clients.size);
    const helloTimer = setTimeout(() => this.refuse(socket, CloseCode.helloFirst, 'hello-timeout', `no hello within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
    const idleTimer = setInterval(() => {
      if (Date.now() - lastMessageMs > this.idleTimeoutMs) this.refuse(socket, CloseCode.idleTimeout, 'idle', `nothing received for ${this.idleTimeoutMs} ms`);
    }, Math.max(250, Math.floor(this.idleTimeoutMs / 4)));
    this.answeredPing.set(socket, true);
    socket.on('pong', () => this.answeredPing.set(socket, true));
    socket.on('error', (err) => log.debug({ err }, 'agent socket error'));
    socket.on('close', () => {
      clearTimeout(helloTimer);
      clearInterval(idleTimer);
      if (session !== null) {
        const entry = this.sessions.get(session.agentId);
        if (entry?.socket === socket) {
          this.sessions.delete(session.agentId);
          this.options.agents.disconnected(session.node);
        }
        log.info({ agentId: session.agentId, node: session.node }, 'agent disconnected');
      }
      this.options.metrics.agentConnections.set(this.wss.clients.size);
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      lastMessageMs = Date.now();
      const bytes = rawLength(data);
      if (bytes > MAX_MESSAGE_BYTES) {
        this.refuse(socket, CloseCode.tooLarge, 'too-large', `message of ${bytes} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit`);
        return;
      }
      if (isBinary) {
        this.refuse(socket, CloseCode.badMessage, 'binary', 'binary frames are not part of the protocol; send JSON text');
        return;
      }
      const parsed = parseAgentMessage(rawText(data));
      if (!parsed.ok) {
        this.refuse(socket, CloseCode.badMessage, 'invalid', parsed.reason);
        return;
      }
      const message = parsed.message;
      if (session === null) {
        if (message.type !== 'hello') {
          this.refuse(socket, CloseCode.helloFirst, 'hello-first', `the first message must be hello, not ${message.type}`);
          return;
        }
        clearTimeout(helloTimer);
        session = this.welcome(socket, message, log);
        return;
      }
      switch (message.type) {
        case 'hello':
          this.refuse(socket, CloseCode.badMessage, 'hello-again', 'hello was already received on this connection');
          return;
        case 'findings':
        case 'evidence':
          this.queueWrite({ socket, session, message, receivedMs: lastMessageMs });
          return;
        case 'heartbeat':
            this.options.agents.setKernelEvents(session.node, message.kernelEvents);
            session.kernelEvents = message.kernelEvents;
            if (message.droppedFindings > session.droppedFindings) {
              this.options.metrics.findingsDropped.inc({ reason: 'agent' }, message.droppedFindings - session.droppedFindings);
            }
          session.droppedFindings = message.droppedFindings;
          return;
      }
    });
  }

  /** Queues a write; the writes of one commit window are committed together, then acked. */
  private queueWrite(write: PendingWrite): void {
    this.pendingWrites.push(write);
    this.pendingItems += write.message.type === 'findings' ? write.message.items.length : 1;
    if (this.commitTimer === null) this.commitTimer = setTimeout(() => this.commitWrites(), COMMIT_WINDOW_MS);
    if (this.pendingItems >= COMMIT_MAX_ITEMS && !this.commitSoon) {
      this.commitSoon = true;
      setImmediate(() => this.commitWrites());
    }
  }

  private commitWrites(): void {
    if (this.commitTimer !== null) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    this.commitSoon = false;
    const writes = this.pendingWrites;
    this.pendingWrites = [];
    this.pendingItems = 0;
    if (writes.length === 0) return;
    let committed: Committed[];
    try {
      committed = this.options.store.batch(() =>
        writes.map((write) => (write.message.type === 'findings' ? this.ingestFindings(write, write.message) : this.ingestEvidence(write, write.message))),
      );
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      // Not acked: the agents keep the items and resend them after reconnecting.
      this.options.log.error({ err }, 'cannot store what the agents sent');
      for (const { socket } of writes) {
        if (socket.readyState !== socket.OPEN) continue;
        this.options.metrics.rejectedMessages.inc({ reason: 'store-error' });
        send(socket, { type: 'error', code: 'store', message: 'the aggregator cannot write its database; items stay unacked' });
        socket.close(1011, 'store error');
      }
      return;
    }
    // Ack only once the transaction is committed: the items are then in the WAL. Acks are
    // cumulative, so a socket with several messages in this commit gets one, for the highest seq.
    const acks = new Map<WebSocket, number>();
    for (const { socket, seq } of committed) if (seq > (acks.get(socket) ?? -1)) acks.set(socket, seq);
    for (const [socket, seq] of acks) sendAck(socket, seq);
    this.report(committed);
  }

  /**
   * Metrics and onStored once per commit, not per message: a labelled prom-client
   * increment hashes its labels on every call, and at thousands of messages a second
   * one call per label per commit is what that costs.
   */
  private report(committed: readonly Committed[]): void {
    const { metrics } = this.options;
    const changed: StoredChange[] = [];
    let duplicates = 0;
    let updates = 0;
    const nowMs = Date.now();
    for (const write of committed) {
      write.after?.();
      duplicates += write.duplicates ?? 0;
      for (const change of write.changed ?? []) {
        changed.push(change);
        if (change.update) updates += 1;
        const lagMs = nowMs - Date.parse(change.finding.lastSeen);
        if (Number.isFinite(lagMs)) metrics.ingestLag.observe(Math.max(0, lagMs) / 1000);
      }
    }
    if (duplicates > 0) metrics.ingestedItems.inc({ kind: 'duplicate' }, duplicates);
    if (updates > 0) metrics.ingestedItems.inc({ kind: 'update' }, updates);
    if (changed.length > updates) metrics.ingestedItems.inc({ kind: 'finding' }, changed.length - updates);
    if (changed.length > 0) this.options.onStored(changed);
  }

  private welcome(socket: WebSocket, hello: HelloMessage, log: Logger): AgentSession | null {
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.refuse(socket, CloseCode.unsupportedVersion, 'version', `protocol ${hello.protocol} is not supported; this aggregator speaks ${PROTOCOL_VERSION}`);
      return null;
    }
    const previous = this.sessions.get(hello.agentId);
    if (previous !== undefined) {
      // The same agent reconnected before its old connection timed out: the new one wins.
      this.sessions.delete(hello.agentId);
      this.options.agents.disconnected(previous.session.node);
      previous.socket.close(CloseCode.replaced, 'replaced by a newer connection of this agent');
    }
    const session: AgentSession = {
      agentId: hello.agentId,
      node: hello.node,
      version: hello.version,
      kernelEvents: hello.capabilities.kernelEvents,
      captureMode: hello.capabilities.captureMode,
      connectedAtMs: Date.now(),
      droppedFindings: 0,
    };
    this.sessions.set(hello.agentId, { session, socket });
    this.options.agents.connected(hello.node, hello.capabilities.kernelEvents, hello.addresses);
    this.options.store.recordAgent(hello.agentId, hello.node, hello);
    const lastSeq = this.options.store.lastSeq(hello.agentId);
    send(socket, { type: 'welcome', protocol: PROTOCOL_VERSION, lastSeq, idleTimeoutMs: this.idleTimeoutMs });
    log.info({ agentId: hello.agentId, node: hello.node, version: hello.version, lastSeq, kernelEvents: hello.capabilities.kernelEvents }, 'agent connected');
    return session;
  }

  /** Stores a batch inside the open transaction; returns what to ack and report once it is committed. */
  private ingestFindings({ socket, session, receivedMs }: PendingWrite, message: FindingsMessage): Committed {
    const result = this.options.store.ingest(session.agentId, message.items, receivedMs);
    return { socket, seq: result.lastSeq, changed: result.changed, duplicates: result.duplicates };
  }

  private ingestEvidence({ socket, session, receivedMs }: PendingWrite, message: EvidenceMessage): Committed {
    const pcapng = Buffer.from(message.pcapng, 'base64');
    if (pcapng.length !== message.bytes) {
      // No ack for this socket (-1 is below every seq): it is refused once the commit is done.
      return { socket, seq: -1, after: () => this.refuse(socket, CloseCode.badMessage, 'invalid', `evidence says ${message.bytes} bytes but carries ${pcapng.length}`) };
    }
    const stored = this.options.store.ingestEvidence(session.agentId, message.seq, message.findingId, pcapng, receivedMs);
    const lastSeq = this.options.store.lastSeq(session.agentId);
    const after = () => {
      this.options.metrics.ingestedItems.inc({ kind: stored ? 'evidence' : 'duplicate' });
      if (stored) this.options.onEvidence?.(message.findingId);
    };
    return { socket, seq: lastSeq, after };
  }

  /** Sends a protocol error, then closes with a 4xxx code; the peer's other messages are ignored. */
  private refuse(socket: WebSocket, code: number, reason: string, text: string): void {
    if (socket.readyState !== socket.OPEN) return;
    this.options.metrics.rejectedMessages.inc({ reason });
    this.options.log.warn({ code, reason, detail: text }, 'agent message refused; closing its connection');
    send(socket, { type: 'error', code: reason, message: text.slice(0, 2000) });
    socket.close(code, reason);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => socket.terminate(), 5_000).unref();
  }

  private ping(): void {
    for (const client of this.wss.clients) {
      if (this.answeredPing.get(client) === false) {
        client.terminate();
        continue;
      }
      this.answeredPing.set(client, false);
      client.ping();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // What is pending is committed and acked before the connections close.
    this.commitWrites();
    for (const client of this.wss.clients) client.close(CloseCode.shuttingDown, 'aggregator stopping');
    for (const client of this.wss.clients) setTimeout(() => client.terminate(), 1_000).unref();
    this.wss.close();
  }
}

function send(socket: WebSocket, message: AggregatorMessage): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

/** An ack, written without JSON.stringify (one per socket per commit). */
function sendAck(socket: WebSocket, seq: number): void {
  if (socket.readyState === socket.OPEN) socket.send(`{"type":"ack","seq":${seq}}`);
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (data instanceof ArrayBuffer ? Buffer.from(data) : data).toString('utf8');
}
