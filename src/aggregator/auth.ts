import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { loadClientLibrary } from '../attribution/kubernetes/kube-config';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';

/**
 * Who may stream findings (and, when asked, read the API): a bearer token checked
 * before the WebSocket upgrade (DESIGN.md: anything else gets 401 before the upgrade).
 * Two sources: a token file (one token per line), or in a cluster projected
 * ServiceAccount tokens with audience `rstprobe`, validated by the TokenReview API
 * (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#webhook-token-authentication).
 */

export type AuthResult = { ok: true; identity: string } | { ok: false; reason: string };

export interface Authenticator {
  authenticate(token: string): Promise<AuthResult>;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: IncomingMessage): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match === null ? null : match[1];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** How often at most the token file's mtime is checked (the file is re-read when it changed). */
const TOKEN_FILE_CHECK_MS = 1_000;

/**
 * Tokens from a file: one per line, blank lines and `#` comments ignored. The file is
 * re-read when its mtime or size changes, so a rotated Secret takes effect without a restart.
 */
export class TokenFileAuthenticator implements Authenticator {
  private digests: Buffer[] = [];
  private stamp = '';
  private checkedAtMs = 0;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {
    this.reload(true);
  }

  async authenticate(token: string): Promise<AuthResult> {
    const nowMs = Date.now();
    if (nowMs - this.checkedAtMs >= TOKEN_FILE_CHECK_MS) {
      this.checkedAtMs = nowMs;
      this.reload(false);
    }
    const offered = digest(token);
    // Compare digests in constant time so the check leaks nothing about the tokens.
    const ok = this.digests.some((known) => timingSafeEqual(known, offered));
    return ok ? { ok: true, identity: 'token-file' } : { ok: false, reason: 'token not in the token file' };
  }

  private reload(first: boolean): void {
    try {
      const stat = statSync(this.path);
      const stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
      if (stamp === this.stamp) return;
      const tokens = readFileSync(this.path, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
      if (tokens.length === 0 && first) throw new Error('it holds no token');
      this.digests = tokens.map(digest);
      this.stamp = stamp;
      if (!first) this.log.info({ path: this.path, tokens: tokens.length }, 'token file re-read');
    } catch (err) {
      if (first) {
        throw new UsageError(`cannot read the token file ${this.path}: ${(err as Error).message}; give a readable file with one token per line`, { cause: err });
      }
      // Keep the last good tokens: a half-written file must not lock every agent out.
      this.log.warn({ err, path: this.path }, 'cannot re-read the token file; keeping the previous tokens');
    }
  }
}

export interface TokenReviewOptions {
  kubeConfig: KubeConfig;
  audience: string;
  log: Logger;
  positiveTtlMs?: number;
  negativeTtlMs?: number;
}

/** Bound on cached review results; the oldest are forgotten first. */
const REVIEW_CACHE_ENTRIES = 10_000;

/** Projected ServiceAccount tokens checked with TokenReview; results cached briefly (60 s yes, 10 s no). */
export class TokenReviewAuthenticator implements Authenticator {
  private readonly api: AuthenticationV1Api;
  private readonly cache = new Map<string, { result: AuthResult; expiresMs: number }>();
  private readonly positiveTtlMs: number;
  private readonly negativeTtlMs: number;
  /** TokenReview calls made (not answered from the cache); tests read it. */
  reviews = 0;

  constructor(private readonly options: TokenReviewOptions) {
    // Loaded on first use: the client library is large and only a cluster setup needs it.
    this.api = options.kubeConfig.makeApiClient(loadClientLibrary().AuthenticationV1Api);
    this.positiveTtlMs = options.positiveTtlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000;
  }

  async authenticate(token: string): Promise<AuthResult> {
    const key = digest(token).toString('base64');
    const nowMs = Date.now();
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expiresMs > nowMs) return cached.result;
    this.reviews += 1;
    let result: AuthResult;
    try {
      const review = await this.api.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.options.audience] } },
      });
      const status = review.status;
      const audiences = status?.audiences;
      if (status?.authenticated !== true) result = { ok: false, reason: status?.error ?? 'TokenReview did not authenticate the token' };
      else if (audiences !== undefined && !audiences.includes(this.options.audience)) result = { ok: false, reason: `token audience is not ${this.options.audience}` };
      else result = { ok: true, identity: status.user?.username ?? 'serviceaccount' };
    } catch (err) {
      // An unreachable API server is not cached: the next attempt asks again.
      this.options.log.warn({ err }, 'TokenReview failed');
      return { ok: false, reason: 'TokenReview failed' };
    }
    if (this.cache.size >= REVIEW_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { result, expiresMs: nowMs + (result.ok ? this.positiveTtlMs : this.negativeTtlMs) });
    return result;
  }
}

/** Accepts a token any of the given authenticators accepts. */
export class AnyAuthenticator implements Authenticator {
  constructor(private readonly sources: readonly Authenticator[]) {}

  async authenticate(token: string): Promise<AuthResult> {
    const reasons: string[] = [];
    for (const source of this.sources) {
      const result = await source.authenticate(token);
      if (result.ok) return result;
      reasons.push(result.reason);
    }
    return { ok: false, reason: reasons.join('; ') || 'no authenticator configured' };
  }
}

/** Checks a request's bearer token; null authenticator means the endpoint is open. */
export async function authorizeRequest(request: IncomingMessage, authenticator: Authenticator | null): Promise<AuthResult> {
  if (authenticator === null) return { ok: true, identity: 'anonymous' };
  const token = bearerToken(request);
  if (token === null) return { ok: false, reason: 'missing Authorization: Bearer token' };
  return authenticator.authenticate(token);
}
