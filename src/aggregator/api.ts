import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sendText, type HttpServer } from '../agent/http-server';
import type { FindingQuery, FindingStore } from './store';

/**
 * The read API (DESIGN.md "HTTP and WebSocket", README "API"):
 *   GET /api/v1/findings?kind=&since=&limit=&namespace=&node=&cause=&sentBy=  → { items }, newest first
 *   GET /api/v1/findings/:id                                                  → the finding
 *   GET /api/v1/findings/:id/pcap                                             → its evidence (pcapng)
 *   GET /api/v1/top-senders?since=&limit=                                     → { items: [{ ip, pod, node, count, findings, causes }] }
 *   GET /api/v1/pmtu                                                          → { items }: latest pmtu finding per node pair
 * Bad parameters get 400 and one line naming the parameter and what it takes.
 */

const KINDS = new Set(['reset', 'syn-timeout', 'pmtu']);
const SENT_BY = new Set(['endpoint', 'middlebox', 'unknown']);
const MAX_LIMIT = 1_000;
const DEFAULT_LIMIT = 100;
/** Top senders default to the last hour. */
const DEFAULT_SENDERS_WINDOW_MS = 3_600_000;

class BadParameter extends Error {}

export function registerApi(http: HttpServer, store: FindingStore, admit: (request: IncomingMessage) => Promise<boolean>): void {
  const guarded =
    (handler: (url: URL, response: ServerResponse) => void) =>
    async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD');
        sendText(response, 405, 'method not allowed\n');
        return;
      }
      if (!(await admit(request))) {
        sendText(response, 401, 'unauthorized: this API needs its token (Authorization: Bearer, or open the UI with ?token=)\n');
        return;
      }
      try {
        handler(url, response);
      } catch (err) {
        if (!(err instanceof BadParameter)) throw err;
        sendText(response, 400, `${err.message}\n`);
      }
    };

  http.route(
    '/api/v1/findings',
    guarded((url, response) => sendJson(response, 200, { items: store.query(findingQuery(url.searchParams)) })),
  );
  http.routePrefix(
    '/api/v1/findings/',
    guarded((url, response) => {
      const rest = url.pathname.slice('/api/v1/findings/'.length);
      const [encodedId, suffix, ...extra] = rest.split('/');
      const id = decodeURIComponent(encodedId ?? '');
      if (id === '' || extra.length > 0 || (suffix !== undefined && suffix !== 'pcap')) {
        sendText(response, 404, 'not found\n');
        return;
      }
      if (suffix === 'pcap') {
        const pcapng = store.evidence(id);
        if (pcapng === null) {
          sendText(response, 404, `no evidence capture for finding ${id}\n`);
          return;
        }
        response.writeHead(200, {
          'content-type': 'application/x-pcapng',
          'content-length': pcapng.length,
          'content-disposition': `attachment; filename="rstprobe-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.pcapng"`,
        });
        response.end(pcapng);
        return;
      }
      const finding = store.get(id);
      if (finding === null) sendText(response, 404, `no finding ${id}\n`);
      else sendJson(response, 200, finding);
    }),
  );
  http.route(
    '/api/v1/top-senders',
    guarded((url, response) => {
      const params = url.searchParams;
      const sinceMs = parseSince(params.get('since')) ?? Date.now() - DEFAULT_SENDERS_WINDOW_MS;
      sendJson(response, 200, { items: store.topSenders(sinceMs, parseLimit(params.get('limit'), 20)) });
    }),
  );
  http.route(
    '/api/v1/pmtu',
    guarded((_url, response) => sendJson(response, 200, { items: store.latestPmtu() })),
  );
}

function findingQuery(params: URLSearchParams): FindingQuery {
  const kind = params.get('kind') ?? undefined;
  if (kind !== undefined && !KINDS.has(kind)) throw new BadParameter(`kind=${kind} is not one of ${[...KINDS].join(', ')}`);
  const sentBy = params.get('sentBy') ?? params.get('sent_by') ?? undefined;
  if (sentBy !== undefined && !SENT_BY.has(sentBy)) throw new BadParameter(`sentBy=${sentBy} is not one of ${[...SENT_BY].join(', ')}`);
  return {
    kind,
    sinceMs: parseSince(params.get('since')) ?? undefined,
    limit: parseLimit(params.get('limit'), DEFAULT_LIMIT),
    namespace: nonEmpty(params.get('namespace')),
    node: nonEmpty(params.get('node')),
    cause: nonEmpty(params.get('cause')),
    sentBy,
  };
}

const nonEmpty = (value: string | null): string | undefined => (value === null || value === '' ? undefined : value);

/** `since` is an ISO 8601 time or epoch milliseconds. */
function parseSince(text: string | null): number | null {
  if (text === null || text === '') return null;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new BadParameter(`since=${text} is neither an ISO 8601 time nor epoch milliseconds`);
  return ms;
}

function parseLimit(text: string | null, fallback: number): number {
  if (text === null || text === '') return fallback;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new BadParameter(`limit=${text} is not a whole number from 1 to ${MAX_LIMIT}`);
  return Math.min(limit, MAX_LIMIT);
}
