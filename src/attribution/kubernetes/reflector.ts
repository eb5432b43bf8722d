import type { KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from '../../common/log';
import { GONE, KubeApiError, listAll } from './kube-list';
import type { ClusterChangeType } from './types';

/**
 * List, then watch from the list's resourceVersion, for one collection — the
 * reflector loop of client-go (tools/cache/reflector.go), keeping only compact
 * records:
 * - watch events advance the resourceVersion, so do BOOKMARK events
 *   (allowWatchBookmarks, API concepts "Watch bookmarks");
 * - a watch that ends normally (server timeout) resumes from the last version;
 * - 410 Gone, as the watch response's status or as an ERROR event carrying a
 *   Status with code 410, means the version left the server's window: re-list;
 * - any other failure (connection refused, API server restarting) re-lists after
 *   an exponential backoff with jitter, keeping what we had until the list lands.
 */
export interface ReflectorOptions<R> {
  /** For logs: `pods`, `nodes`, … */
  resource: string;
  path: string;
  query: Record<string, string>;
  config: KubeConfig;
  watch: Watch;
  convert: (item: unknown) => R | null;
  /** A complete list arrived (initial sync or re-list). */
  replace: (records: R[], atMs: number) => void;
  apply: (type: ClusterChangeType, record: R, atMs: number) => void;
  /** The API server is reachable (a list succeeded) or not (a request failed). */
  onHealth: (healthy: boolean, err?: unknown) => void;
  log: Logger;
  retryInitialMs: number;
  retryMaxMs: number;
  pageSize?: number;
}

type WatchOutcome = 'ended' | 'gone';

/** A watch shorter than this that ends without error counts as a failure for backoff, so a server closing at once is not hammered. */
const SHORTEST_HEALTHY_WATCH_MS = 1_000;
/** Watches ask the server to end them after 5–10 min, like client-go, so a silently dead connection is noticed. */
const WATCH_TIMEOUT_MIN_S = 300;
/**
 * A watch still open this long after the server should have ended it is on a
 * dead connection (peer gone without a FIN or RST): give it up and re-list.
 */
const WATCH_GRACE_MS = 30_000;

export class Reflector<R> {
  synced = false;
  private resourceVersion: string | null = null;
  private badObjects = 0;

  constructor(private readonly options: ReflectorOptions<R>) {}

  /** Runs until `signal` aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { log, retryInitialMs, retryMaxMs } = this.options;
    let delayMs = retryInitialMs;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === null) {
          await this.list(signal);
          this.options.onHealth(true);
        }
        const startedMs = Date.now();
        const outcome = await this.watchOnce(signal);
        if (signal.aborted) break;
        if (outcome === 'gone') {
          log.info({ resource: this.options.resource }, 'watch expired (410 Gone): re-listing');
          this.resourceVersion = null;
          continue;
        }
        if (Date.now() - startedMs >= SHORTEST_HEALTHY_WATCH_MS) {
          delayMs = retryInitialMs;
          continue;
        }
        await sleep(jittered(delayMs), signal);
        delayMs = Math.min(delayMs * 2, retryMaxMs);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof KubeApiError && err.statusCode === GONE) {
          log.info({ resource: this.options.resource }, 'list continuation expired (410 Gone): re-listing');
          this.resourceVersion = null;
          continue;
        }
        log.debug({ resource: this.options.resource, err }, 'list/watch failed');
        this.options.onHealth(false, err);
        // After an outage the watch window may have moved on and objects may have
        // gone meanwhile: start over with a list (what we have stays until it lands).
        this.resourceVersion = null;
        await sleep(jittered(delayMs), signal);
        delayMs = Math.min(delayMs * 2, retryMaxMs);
      }
    }
  }

  private async list(signal: AbortSignal): Promise<void> {
    const records: R[] = [];
    const resourceVersion = await listAll({
      config: this.options.config,
      path: this.options.path,
      query: this.options.query,
      signal,
      pageSize: this.options.pageSize,
      onItems: (items) => {
        for (let index = 0; index < items.length; index++) {
          const item = items[index];
          // Each converted object is let go at once: what a scavenge finds still
          // referenced survives it, and parsed pods promoted to the old space leave
          // it fragmented around the records after the list (issue 3).
          items[index] = null;
          const record = this.options.convert(item);
          if (record !== null) records.push(record);
          else this.reportBadObject(item);
        }
      },
    });
    this.options.replace(records, Date.now());
    this.resourceVersion = resourceVersion;
    this.synced = true;
  }

  private watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    const { path, query, watch } = this.options;
    return new Promise<WatchOutcome>((resolve, reject) => {
      let settled = false;
      let controller: AbortController | null = null;
      const timeoutSeconds = WATCH_TIMEOUT_MIN_S + Math.floor(Math.random() * WATCH_TIMEOUT_MIN_S);
      const deadline = setTimeout(
        () => finish(() => reject(new KubeApiError(`watch ${path}: still open ${WATCH_GRACE_MS} ms after its ${timeoutSeconds} s timeout; the connection is dead`, null))),
        timeoutSeconds * 1000 + WATCH_GRACE_MS,
      );
      deadline.unref();
      const finish = (settle: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        controller?.abort();
        settle();
      };
      const onAbort = (): void => finish(() => resolve('ended'));
      signal.addEventListener('abort', onAbort, { once: true });

      const watchQuery = {
        ...query,
        resourceVersion: this.resourceVersion ?? undefined,
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      watch
        .watch(
          path,
          watchQuery,
          (type: string, object: unknown) => {
            if (settled) return;
            if (type === 'ERROR') {
              const status = object as { code?: unknown; message?: unknown } | null;
              const code = typeof status?.code === 'number' ? status.code : null;
              if (code === GONE) finish(() => resolve('gone'));
              else finish(() => reject(new KubeApiError(`watch ${path}: ERROR event ${code ?? ''} ${String(status?.message ?? '')}`.trim(), code)));
              return;
            }
            const version = resourceVersionOf(object);
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              const record = this.options.convert(object);
              if (record !== null) this.options.apply(type, record, Date.now());
              else this.reportBadObject(object);
            } else if (type !== 'BOOKMARK') {
              return; // an event type this API version does not define
            }
            if (version !== null) this.resourceVersion = version;
          },
          (err: unknown) => {
            if (err === null || err === undefined) finish(() => resolve('ended'));
            else if ((err as { statusCode?: unknown }).statusCode === GONE) finish(() => resolve('gone'));
            else finish(() => reject(err));
          },
        )
        .then(
          (started) => {
            controller = started;
            if (settled) started.abort();
          },
          (err: unknown) => finish(() => reject(err)),
        );
    });
  }

  /** One warning per bad object kind would flood on a broken list: the first, then every 1000th. */
  private reportBadObject(item: unknown): void {
    if (this.badObjects++ % 1000 === 0) {
      this.options.log.warn({ resource: this.options.resource, skipped: this.badObjects, sample: JSON.stringify(item)?.slice(0, 200) }, 'skipped an object without name or uid');
    }
  }
}

function resourceVersionOf(object: unknown): string | null {
  const version = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof version === 'string' && version !== '' ? version : null;
}

/** ±20 % so agents on every node do not retry in lockstep after an API server restart. */
function jittered(delayMs: number): number {
  return delayMs * (0.8 + Math.random() * 0.4);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
