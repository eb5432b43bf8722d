import { createHash } from 'node:crypto';

/**
 * The page's Content-Security-Policy (CSP Level 3, https://www.w3.org/TR/CSP3/).
 * Scripts, styles, fetches and the WebSocket may only come from this server. The one
 * inline script is the import map (browsers load import maps only inline), allowed by
 * its SHA-256 hash rather than 'unsafe-inline'. 'self' in connect-src also covers
 * ws:/wss: to the same host (CSP3 §6.7.2.9, "matches-source-expression").
 */
export function contentSecurityPolicy(indexHtml: string): string {
  const scriptHashes = inlineScripts(indexHtml).map((script) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`);
  return [
    "default-src 'none'",
    `script-src 'self' ${scriptHashes.join(' ')}`.trim(),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The text of every inline <script> (those without src), exactly as the browser hashes it. */
export function inlineScripts(html: string): string[] {
  const scripts: string[] = [];
  const pattern = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi;
  for (let match = pattern.exec(html); match !== null; match = pattern.exec(html)) {
    if (!/\bsrc\s*=/i.test(match[1])) scripts.push(match[2]);
  }
  return scripts;
}
