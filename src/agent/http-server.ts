import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;
/** Takes over the socket of an `Upgrade` request (WebSocket endpoints). */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void | Promise<void>;

/** PEM certificate chain and key: the server then speaks https (and wss). */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Parses `host:port` (`[::1]:7070` for IPv6); port 0 picks a free port. */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new UsageError(`--listen ${JSON.stringify(text)} is not HOST:PORT; use e.g. 127.0.0.1:7070 or [::1]:7070`);
  }
  return { host: match[1] ?? match[2], port };
}

/**
 * The small HTTP server every rstprobe process runs: /healthz and /metrics for the
 * agent, and the aggregator's API, UI and WebSocket endpoints on top. Routes are exact
 * paths (`route`), or prefixes ending in `/` (`routePrefix`, longest wins); WebSocket
 * endpoints take the upgrade (`upgrade`). With TLS files it serves https/wss.
 */
export class HttpServer {
  readonly name = 'http';
  private readonly routes = new Map<string, RouteHandler>();
  private readonly prefixes: Array<{ prefix: string; handler: RouteHandler }> = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private server: Server | null = null;
  /** Sockets handed to WebSocket endpoints: the HTTP server no longer closes them itself. */
  private readonly upgraded = new Set<Duplex>();

  constructor(
    private readonly listen: { host: string; port: number },
    private readonly log: Logger,
    private readonly tls: TlsFiles | null = null,
  ) {}

  /** True when serving https/wss. */
  get secure(): boolean {
    return this.tls !== null;
  }

  route(path: string, handler: RouteHandler): void {
    this.routes.set(path, handler);
  }

  /** Serves every path under `prefix` (which ends in `/`) not claimed by an exact route. */
  routePrefix(prefix: string, handler: RouteHandler): void {
    this.prefixes.push({ prefix, handler });
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  async start(): Promise<AddressInfo> {
    const onRequest = (request: IncomingMessage, response: ServerResponse): void => void this.dispatch(request, response);
    const server: Server = this.tls === null ? createServer(onRequest) : (createTlsServer({ cert: this.tls.cert, key: this.tls.key }, onRequest) as unknown as Server);
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.dispatchUpgrade(request, socket, head));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'EADDRINUSE' ? 'another process uses it; pick another with --listen' : err.message;
        reject(new UsageError(`cannot listen on ${this.listen.host}:${this.listen.port}: ${hint}`, { cause: err }));
      });
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
    this.upgraded.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const handler = this.routes.get(url.pathname) ?? this.prefixes.find((entry) => url.pathname.startsWith(entry.prefix))?.handler;
    try {
      if (handler === undefined) {
        sendText(response, 404, 'not found\n');
        return;
      }
      await handler(request, response, url);
    } catch (err) {
      this.log.error({ err, path: url.pathname }, 'request failed');
      if (!response.headersSent) sendText(response, 500, 'internal error\n');
      else response.destroy();
    }
  }

  private async dispatchUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const handler = this.upgrades.get(url.pathname);
    socket.on('error', (err) => this.log.debug({ err, path: url.pathname }, 'upgrade socket error'));
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    try {
      if (handler === undefined) {
        rejectUpgrade(socket, 404, 'not found');
        return;
      }
      await handler(request, socket, head, url);
    } catch (err) {
      this.log.error({ err, path: url.pathname }, 'upgrade failed');
      rejectUpgrade(socket, 500, 'internal error');
    }
  }
}

/** Answers an upgrade request with a plain HTTP status and a one-line body, then closes. */
export function rejectUpgrade(socket: Duplex, status: number, line: string): void {
  if (socket.destroyed) return;
  const body = `${line}\n`;
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
      `${status === 401 ? 'WWW-Authenticate: Bearer realm="rstprobe"\r\n' : ''}\r\n${body}`,
  );
}

export function sendText(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendText(response, status, `${JSON.stringify(body)}\n`, 'application/json');
}
