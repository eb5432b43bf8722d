import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The optional token that guards the UI and the API for people (agents use
 * `Authorization: Bearer` on /api/v1/agents). A browser cannot add a header to a
 * navigation or a WebSocket, so the token is given once as `?token=` and kept in an
 * HttpOnly, SameSite=Strict cookie that the page's fetches and its WebSocket send
 * back by themselves; scripts and tools may send `Authorization: Bearer` instead.
 */
export const UI_TOKEN_COOKIE = 'rstprobe_token';
export const UI_TOKEN_QUERY = 'token';

/** True when the request carries `token` in its Authorization header or its cookie. */
export function requestHasToken(request: IncomingMessage, token: string): boolean {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match !== null && sameToken(match[1], token)) return true;
  }
  const fromCookie = cookieValue(request.headers.cookie, UI_TOKEN_COOKIE);
  return fromCookie !== null && sameToken(fromCookie, token);
}

/** Set-Cookie value that stores the token for this site's paths (RFC 6265 §4.1). */
export function tokenCookie(token: string, secure: boolean): string {
  return `${UI_TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Constant-time comparison of hashes, so neither length nor content leaks through timing. */
export function sameToken(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    try {
      return decodeURIComponent(pair.slice(separator + 1).trim());
    } catch {
      return null; // a malformed escape is no token
    }
  }
  return null;
}
