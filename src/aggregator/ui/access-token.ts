import type { IncomingMessage } from 'node:http';
import { bearerToken } from '../auth';

/**
 * How a person's browser carries the token that guards the UI and the API (agents use
 * `Authorization: Bearer` on /api/v1/agents). A browser cannot add a header to a
 * navigation or a WebSocket, so the token is given once as `?token=` and kept in an
 * HttpOnly, SameSite=Strict cookie that the page's fetches and its WebSocket send
 * back by themselves; scripts and tools may send `Authorization: Bearer` instead.
 * The token is checked by the aggregator's Authenticator (../auth.ts) either way:
 * for the page here, for the read API and /api/v1/stream in the aggregator.
 */
export const UI_TOKEN_COOKIE = 'rstprobe_token';
export const UI_TOKEN_QUERY = 'token';

/** The token a request presents: its Authorization header first, else the UI's cookie. */
export function presentedToken(request: IncomingMessage): string | null {
  return bearerToken(request) ?? cookieValue(request.headers.cookie, UI_TOKEN_COOKIE);
}

/** Set-Cookie value that stores the token for this site's paths (RFC 6265 §4.1.2). */
export function tokenCookie(token: string, secure: boolean): string {
  return `${UI_TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    try {
      const value = decodeURIComponent(pair.slice(separator + 1).trim());
      return value === '' ? null : value;
    } catch {
      return null; // a malformed escape is no token
    }
  }
  return null;
}
