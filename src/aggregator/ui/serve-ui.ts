import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { sendText, type HttpServer } from '../../agent/http-server';
import type { Logger } from '../../common/log';
import type { Authenticator } from '../auth';
import { UI_TOKEN_QUERY, presentedToken, tokenCookie } from './access-token';
import { loadUiAssets, UiAssetsError, type UiAsset } from './assets';
import { contentSecurityPolicy } from './content-security-policy';

export interface ServeUiOptions {
  log: Logger;
  /**
   * When set, the page needs a token this authenticator accepts (the one that guards
   * the read API): `?token=` once (then a cookie) or `Authorization: Bearer`.
   */
  authenticator?: Authenticator | null;
  /** Directory holding index.html and the front-end modules (default: the package's own). */
  staticDir?: string;
}

/** Headers every UI response carries: no MIME sniffing, no referrer leaks. */
const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const;

/**
 * Registers the web UI on an HttpServer: `GET /` (the page, with a strict CSP) and its
 * modules under /ui/ (the project's files) and /ui/vendor/ (Preact, hooks, htm). The
 * page talks only to the API of the same server (DESIGN.md, "HTTP and WebSocket"),
 * so the aggregator and the standalone agent serve it alike. Returns the URL paths
 * it registered.
 */
export function serveUi(http: HttpServer, options: ServeUiOptions): string[] {
  const log = options.log.child({ component: 'ui' });
  const assets = loadUiAssets(options.staticDir);
  const page = assets.get('/');
  if (page === undefined) throw new UiAssetsError('the web UI has no index page; reinstall rstprobe');
  const pageHeaders = {
    ...COMMON_HEADERS,
    'content-security-policy': contentSecurityPolicy(page.body.toString('utf8')),
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  };
  const authenticator = options.authenticator ?? null;
  for (const asset of assets.values()) {
    const isPage = asset === page;
    http.route(asset.urlPath, async (request, response, url) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD');
        sendText(response, 405, 'method not allowed\n');
        return;
      }
      if (isPage && authenticator !== null && !(await admitToPage(request, response, url, authenticator))) return;
      sendAsset(request, response, asset, isPage ? pageHeaders : { ...COMMON_HEADERS, 'cache-control': 'no-cache' });
    });
  }
  log.debug({ paths: assets.size, token: authenticator !== null }, 'web UI registered');
  return [...assets.keys()];
}

/**
 * Lets the page through when the request carries the token; a correct `?token=`
 * becomes a cookie and a redirect to the same URL without it, so the token does not
 * stay in the address bar, the history or a shared link.
 */
async function admitToPage(request: IncomingMessage, response: ServerResponse, url: URL, authenticator: Authenticator): Promise<boolean> {
  const fromQuery = url.searchParams.get(UI_TOKEN_QUERY);
  if (fromQuery !== null && (await authenticator.authenticate(fromQuery)).ok) {
    url.searchParams.delete(UI_TOKEN_QUERY);
    const secure = (request.socket as Partial<TLSSocket>).encrypted === true;
    // A relative Location (RFC 9110 §10.2.2) keeps any path prefix a reverse proxy added.
    const location = url.search === '' ? './' : url.search;
    response.writeHead(303, { ...COMMON_HEADERS, 'set-cookie': tokenCookie(fromQuery, secure), location, 'content-length': 0 });
    response.end();
    return false;
  }
  const token = presentedToken(request);
  if (token !== null && (await authenticator.authenticate(token)).ok) return true;
  const body = 'rstprobe: this UI needs a token. Open it once as /?token=YOUR_TOKEN (a token from the file given with --api-token-file), or send Authorization: Bearer YOUR_TOKEN.\n';
  response.setHeader('www-authenticate', 'Bearer realm="rstprobe"');
  sendText(response, 401, body);
  return false;
}

function sendAsset(request: IncomingMessage, response: ServerResponse, asset: UiAsset, headers: Record<string, string>): void {
  const common = { ...headers, etag: asset.etag };
  if (request.headers['if-none-match'] === asset.etag) {
    response.writeHead(304, common);
    response.end();
    return;
  }
  response.writeHead(200, { ...common, 'content-type': asset.contentType, 'content-length': asset.body.length });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
}
