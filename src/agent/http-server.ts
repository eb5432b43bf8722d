import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;

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
 * agent, and the aggregator's API and UI on top. Routes are exact paths; the
 * aggregator adds its own with `route`.
 */
export class HttpServer {
  readonly name = 'http';
  private readonly routes = new Map<string, RouteHandler>();
  private server: Server | null = null;

  constructor(
    private readonly listen: { host: string; port: number },
    private readonly log: Logger,
  ) {}

  route(path: string, handler: RouteHandler): void {
    this.routes.set(path, handler);
  }

  async start(): Promise<AddressInfo> {
    const server = createServer((request, response) => void this.dispatch(request, response));
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
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const handler = this.routes.get(url.pathname);
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
}

export function sendText(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendText(response, status, `${JSON.stringify(body)}\n`, 'application/json');
}
