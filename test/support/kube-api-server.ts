import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';

/**
 * A Kubernetes API server for tests: a real node:http server that speaks the
 * list/watch protocol of the API concepts document (kubernetes.io/docs/reference/
 * using-api/api-concepts/) closely enough for @kubernetes/client-node to run
 * unmodified against it:
 * - GET a collection → `{kind: XList, metadata: {resourceVersion, continue}, items}`,
 *   with `limit`/`continue` pagination over a consistent snapshot;
 * - GET `?watch=true` → chunked, one JSON event per line (ADDED, MODIFIED,
 *   DELETED, BOOKMARK with allowWatchBookmarks, ERROR), replaying every retained
 *   event after `resourceVersion`; a version older than the retained window gets
 *   410 Gone — as an ERROR event carrying a Status (what kube-apiserver sends) or,
 *   with `expiredWatch: 'http'`, as the HTTP status;
 * - `fieldSelector` (spec.nodeName, metadata.name, metadata.namespace) and
 *   equality `labelSelector`; `timeoutSeconds` ends a watch normally;
 * - POST tokenreviews (authentication.k8s.io/v1) answered from a table;
 * - optional bearer-token check.
 * Resource versions are one monotonic counter shared by all kinds, like etcd's revision.
 *
 * Test controls: upsert/remove objects, expireHistory() (forces 410), stop()/start()
 * on the same port (an API-server restart), closeWatches(), writeKubeconfig(dir).
 * kube-api-server-main.ts runs it as a child process controlled over stdin, so it
 * can live inside a lab namespace or outside the measured process.
 */

export type ResourceKind = 'pods' | 'nodes' | 'services' | 'networkpolicies';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['pods', 'nodes', 'services', 'networkpolicies'];

const LIST_KINDS: Record<ResourceKind, { apiVersion: string; kind: string; namespaced: boolean }> = {
  pods: { apiVersion: 'v1', kind: 'Pod', namespaced: true },
  nodes: { apiVersion: 'v1', kind: 'Node', namespaced: false },
  services: { apiVersion: 'v1', kind: 'Service', namespaced: true },
  networkpolicies: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true },
};

/** A Kubernetes object as JSON. */
export type KubeObject = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface StoredObject {
  namespace: string | null;
  name: string;
  nodeName: string | null;
  labels: Record<string, string>;
  /** The object as served, resourceVersion included: lists are built by joining these. */
  json: string;
}

interface HistoryEvent {
  resourceVersion: number;
  kind: ResourceKind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: StoredObject;
  previous: StoredObject | null;
}

interface Filter {
  namespace: string | null;
  fields: Array<{ key: string; value: string; equal: boolean }>;
  labels: Array<{ key: string; value: string; equal: boolean }>;
}

interface WatchConnection {
  kind: ResourceKind;
  filter: Filter;
  response: http.ServerResponse;
  bookmarks: boolean;
  timer: NodeJS.Timeout | null;
}

export interface TokenReviewAnswer {
  authenticated: boolean;
  user?: { username: string; uid?: string; groups?: string[] };
  audiences?: string[];
}

export interface KubeApiServerOptions {
  host?: string;
  /** 0 (default): any free port, kept across stop()/start(). */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string | null;
  /** How many events stay replayable (default 100,000). */
  historyLimit?: number;
  /** How a watch from an expired version is refused (default 'event'). */
  expiredWatch?: 'event' | 'http';
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

export class KubeApiServer {
  readonly requests: RequestRecord[] = [];
  readonly tokenReviews = new Map<string, TokenReviewAnswer>();
  expiredWatch: 'event' | 'http';

  private readonly host: string;
  private port: number;
  private readonly token: string | null;
  private readonly historyLimit: number;
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly stores = new Map<ResourceKind, Map<string, StoredObject>>(RESOURCE_KINDS.map((kind) => [kind, new Map()]));
  private history: HistoryEvent[] = [];
  /** Watches may resume from any version ≥ this one. */
  private windowStart = 1;
  private revision = 1;
  private readonly watches = new Set<WatchConnection>();
  private readonly snapshots = new Map<string, { resourceVersion: number; items: StoredObject[] }>();

  constructor(options: KubeApiServerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.token = options.token ?? null;
    this.historyLimit = options.historyLimit ?? 100_000;
    this.expiredWatch = options.expiredWatch ?? 'event';
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get resourceVersion(): number {
    return this.revision;
  }

  get running(): boolean {
    return this.server !== null;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  async start(): Promise<void> {
    if (this.server !== null) return;
    const server = http.createServer((request, response) => this.handle(request, response));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the listener and every connection: to a client, the API server went away. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.closeWatches();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Ends every open watch normally (the client should re-watch from its last version). */
  closeWatches(): void {
    for (const watch of [...this.watches]) this.endWatch(watch);
  }

  /** Adds or replaces an object; returns it as stored (resourceVersion, uid, creationTimestamp set). */
  upsert(kind: ResourceKind, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    stored.metadata ??= {};
    const metadata = stored.metadata;
    if (typeof metadata.name !== 'string') throw new Error(`upsert ${kind}: metadata.name missing`);
    if (LIST_KINDS[kind].namespaced) metadata.namespace ??= 'default';
    const key = objectKey(metadata.namespace ?? null, metadata.name);
    const store = this.stores.get(kind)!;
    const previous = store.get(key) ?? null;
    if (previous !== null) {
      const old = JSON.parse(previous.json) as KubeObject;
      metadata.uid ??= old.metadata.uid;
      metadata.creationTimestamp ??= old.metadata.creationTimestamp;
    }
    metadata.uid ??= randomUUID();
    metadata.creationTimestamp ??= new Date().toISOString();
    stored.apiVersion ??= LIST_KINDS[kind].apiVersion;
    stored.kind ??= LIST_KINDS[kind].kind;
    metadata.resourceVersion = String(++this.revision);
    const entry = storedObject(stored);
    store.set(key, entry);
    this.record({ resourceVersion: this.revision, kind, type: previous === null ? 'ADDED' : 'MODIFIED', object: entry, previous });
    return stored;
  }

  /** Deletes an object; false when there was none. */
  remove(kind: ResourceKind, namespace: string | null, name: string): boolean {
    const store = this.stores.get(kind)!;
    const key = objectKey(LIST_KINDS[kind].namespaced ? (namespace ?? 'default') : null, name);
    const previous = store.get(key);
    if (previous === undefined) return false;
    store.delete(key);
    const object = JSON.parse(previous.json) as KubeObject;
    object.metadata.resourceVersion = String(++this.revision);
    this.record({ resourceVersion: this.revision, kind, type: 'DELETED', object: storedObject(object), previous });
    return true;
  }

  /** Same as remove(). */
  delete(kind: ResourceKind, namespace: string | null, name: string): boolean {
    return this.remove(kind, namespace, name);
  }

  get(kind: ResourceKind, namespace: string | null, name: string): KubeObject | null {
    const entry = this.stores.get(kind)!.get(objectKey(LIST_KINDS[kind].namespaced ? (namespace ?? 'default') : null, name));
    return entry === undefined ? null : (JSON.parse(entry.json) as KubeObject);
  }

  count(kind: ResourceKind): number {
    return this.stores.get(kind)!.size;
  }

  /**
   * Forgets every retained event and list snapshot: a watch or a list continuation
   * from an earlier version now gets 410 Gone. With `notify`, open watches get the
   * ERROR event (or are closed) the way kube-apiserver tells a lagging watcher.
   */
  expireHistory(notify: 'error' | 'close' | 'none' = 'none'): void {
    this.history = [];
    this.windowStart = this.revision;
    this.snapshots.clear();
    for (const watch of [...this.watches]) {
      if (notify === 'error') {
        watch.response.write(`${JSON.stringify({ type: 'ERROR', object: goneStatus() })}\n`);
        this.endWatch(watch);
      } else if (notify === 'close') {
        this.endWatch(watch);
      }
    }
  }

  /** Sends a BOOKMARK at the current version to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      const object = { kind: LIST_KINDS[watch.kind].kind, apiVersion: LIST_KINDS[watch.kind].apiVersion, metadata: { resourceVersion: String(this.revision) } };
      watch.response.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** A kubeconfig for this server (plain http, so TLS verification is off) in `dir`. */
  writeKubeconfig(dir: string, options: { token?: string | null; fileName?: string } = {}): string {
    const token = options.token === undefined ? this.token : options.token;
    const file = path.join(dir, options.fileName ?? 'kubeconfig.yaml');
    const user = token === null ? '{}' : `{ token: ${JSON.stringify(token)} }`;
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{ name: test, cluster: { server: ${JSON.stringify(this.url)}, insecure-skip-tls-verify: true } }]`,
        `users: [{ name: test, user: ${user} }]`,
        'contexts: [{ name: test, context: { cluster: test, user: test } }]',
        'current-context: test',
        '',
      ].join('\n'),
    );
    return file;
  }

  // ── HTTP ───────────────────────────────────────────────────────────────────

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://api');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: request.method ?? 'GET', path: url.pathname, query });
    if (this.token !== null && request.headers.authorization !== `Bearer ${this.token}`) {
      return sendStatus(response, 401, 'Unauthorized', 'Unauthorized');
    }
    if (request.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/tokenreviews') {
      return this.tokenReview(request, response);
    }
    if (request.method !== 'GET') return sendStatus(response, 405, 'MethodNotAllowed', `${request.method} is not supported here`);
    const route = parsePath(url.pathname);
    if (route === null) return sendStatus(response, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    let filter: Filter;
    try {
      filter = { namespace: route.namespace, fields: parseSelector(query.fieldSelector), labels: parseSelector(query.labelSelector) };
      for (const field of filter.fields) {
        if (!['spec.nodeName', 'metadata.name', 'metadata.namespace'].includes(field.key)) throw new Error(`field label not supported: ${field.key}`);
      }
    } catch (err) {
      return sendStatus(response, 400, 'BadRequest', (err as Error).message);
    }
    if (query.watch === 'true' || query.watch === '1') this.watch(route.kind, filter, query, response);
    else this.list(route.kind, filter, query, response);
  }

  private list(kind: ResourceKind, filter: Filter, query: Record<string, string>, response: http.ServerResponse): void {
    let snapshot: { resourceVersion: number; items: StoredObject[] };
    let offset = 0;
    if (query.continue) {
      const [id, at] = query.continue.split(':');
      const found = this.snapshots.get(id);
      if (found === undefined) {
        return sendStatus(response, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      snapshot = found;
      offset = Number(at);
    } else {
      snapshot = { resourceVersion: this.revision, items: [...this.stores.get(kind)!.values()].filter((entry) => matches(entry, filter)) };
    }
    const limit = query.limit ? Number(query.limit) : 0;
    const end = limit > 0 ? Math.min(snapshot.items.length, offset + limit) : snapshot.items.length;
    let continueToken = '';
    if (end < snapshot.items.length) {
      let id = query.continue?.split(':')[0];
      if (id === undefined) {
        id = randomUUID();
        this.snapshots.set(id, snapshot);
        // Keep a bounded number of open continuations, like the API server's compaction window.
        if (this.snapshots.size > 32) this.snapshots.delete(this.snapshots.keys().next().value!);
      }
      continueToken = `${id}:${end}`;
    } else if (query.continue) {
      this.snapshots.delete(query.continue.split(':')[0]);
    }
    const { apiVersion, kind: objectKind } = LIST_KINDS[kind];
    const metadata = JSON.stringify({ resourceVersion: String(snapshot.resourceVersion), ...(continueToken === '' ? {} : { continue: continueToken }) });
    const items: string[] = [];
    for (let index = offset; index < end; index++) items.push(snapshot.items[index].json);
    // One write per page: hundreds of small chunked writes cost more than the JSON itself.
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(`{"kind":"${objectKind}List","apiVersion":"${apiVersion}","metadata":${metadata},"items":[${items.join(',')}]}`);
  }

  private watch(kind: ResourceKind, filter: Filter, query: Record<string, string>, response: http.ServerResponse): void {
    const from = query.resourceVersion === undefined || query.resourceVersion === '' || query.resourceVersion === '0' ? null : Number(query.resourceVersion);
    if (from !== null && (!Number.isFinite(from) || from < this.windowStart)) {
      if (this.expiredWatch === 'http') return sendStatus(response, 410, 'Expired', `too old resource version: ${query.resourceVersion} (${this.windowStart})`);
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(`${JSON.stringify({ type: 'ERROR', object: goneStatus(query.resourceVersion, this.windowStart) })}\n`);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    const connection: WatchConnection = { kind, filter, response, bookmarks: query.allowWatchBookmarks === 'true', timer: null };
    if (from === null) {
      // No version: "start at most recent" — synthetic ADDED for what exists now.
      for (const entry of this.stores.get(kind)!.values()) if (matches(entry, filter)) response.write(`{"type":"ADDED","object":${entry.json}}\n`);
    } else {
      for (const event of this.history) if (event.resourceVersion > from && event.kind === kind) this.deliver(connection, event);
    }
    const timeoutS = Number(query.timeoutSeconds);
    if (Number.isFinite(timeoutS) && timeoutS > 0) connection.timer = setTimeout(() => this.endWatch(connection), timeoutS * 1000);
    this.watches.add(connection);
    response.on('close', () => {
      if (connection.timer !== null) clearTimeout(connection.timer);
      this.watches.delete(connection);
    });
  }

  private endWatch(connection: WatchConnection): void {
    if (connection.timer !== null) clearTimeout(connection.timer);
    this.watches.delete(connection);
    connection.response.end();
  }

  private record(event: HistoryEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.windowStart = dropped[dropped.length - 1].resourceVersion;
    }
    for (const watch of this.watches) if (watch.kind === event.kind) this.deliver(watch, event);
  }

  /** An object that leaves a watch's selector is DELETED for that watch, one that enters is ADDED (API concepts, "Watch"). */
  private deliver(watch: WatchConnection, event: HistoryEvent): void {
    const now = matches(event.object, watch.filter);
    const before = event.previous !== null && matches(event.previous, watch.filter);
    let type: HistoryEvent['type'] | null = null;
    if (event.type === 'DELETED') type = before ? 'DELETED' : null;
    else if (now) type = before ? 'MODIFIED' : 'ADDED';
    else if (before) type = 'DELETED';
    if (type !== null) watch.response.write(`{"type":"${type}","object":${event.object.json}}\n`);
  }

  private tokenReview(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let review: KubeObject;
      try {
        review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
      } catch {
        return sendStatus(response, 400, 'BadRequest', 'body is not JSON');
      }
      const token = review?.spec?.token;
      const answer = typeof token === 'string' ? this.tokenReviews.get(token) : undefined;
      const audiences: string[] = Array.isArray(review?.spec?.audiences) ? review.spec.audiences : [];
      const status =
        answer === undefined || !answer.authenticated
          ? { authenticated: false, error: 'invalid bearer token' }
          : { authenticated: true, user: answer.user ?? { username: 'system:anonymous' }, audiences: answer.audiences ?? audiences };
      response.writeHead(201, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: review.spec ?? {}, status }));
    });
  }
}

function objectKey(namespace: string | null, name: string): string {
  return namespace === null ? name : `${namespace}/${name}`;
}

function storedObject(object: KubeObject): StoredObject {
  return {
    namespace: object.metadata?.namespace ?? null,
    name: object.metadata.name,
    nodeName: object.spec?.nodeName ?? null,
    labels: object.metadata?.labels ?? {},
    json: JSON.stringify(object),
  };
}

function parsePath(pathname: string): { kind: ResourceKind; namespace: string | null } | null {
  const match = /^\/(?:api\/v1|apis\/networking\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/(pods|nodes|services|networkpolicies)$/.exec(pathname);
  if (match === null) return null;
  const kind = match[2] as ResourceKind;
  const isNetworking = pathname.startsWith('/apis/');
  if (isNetworking !== (kind === 'networkpolicies')) return null;
  if (match[1] !== undefined && !LIST_KINDS[kind].namespaced) return null;
  return { kind, namespace: match[1] === undefined ? null : decodeURIComponent(match[1]) };
}

/** `a=b,c==d,e!=f` (equality-based selectors; set-based ones are not served here). */
function parseSelector(value: string | undefined): Filter['fields'] {
  if (value === undefined || value === '') return [];
  return value.split(',').map((term) => {
    const match = /^\s*([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)\s*$/.exec(term);
    if (match === null) throw new Error(`unable to parse requirement: ${term}`);
    return { key: match[1], value: match[3], equal: match[2] !== '!=' };
  });
}

function matches(entry: StoredObject, filter: Filter): boolean {
  if (filter.namespace !== null && entry.namespace !== filter.namespace) return false;
  for (const field of filter.fields) {
    const actual = field.key === 'spec.nodeName' ? (entry.nodeName ?? '') : field.key === 'metadata.name' ? entry.name : (entry.namespace ?? '');
    if ((actual === field.value) !== field.equal) return false;
  }
  for (const label of filter.labels) {
    const actual = entry.labels[label.key];
    if ((actual === label.value) !== label.equal) return false;
  }
  return true;
}

function goneStatus(requested?: string, windowStart?: number): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: requested === undefined ? 'too old resource version' : `too old resource version: ${requested} (${windowStart})`,
    reason: 'Expired',
    code: 410,
  };
}

function sendStatus(response: http.ServerResponse, code: number, reason: string, message: string): void {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

// ── realistic objects for tests ──────────────────────────────────────────────

export interface ContainerSpec {
  name: string;
  image?: string;
  ports?: Array<{ containerPort: number; name?: string; protocol?: 'TCP' | 'UDP' }>;
  /** e.g. '256Mi'; absent: no limit. */
  memoryLimit?: string;
  restartCount?: number;
  /** lastState.terminated.reason of the previous run, e.g. 'OOMKilled' (exit 137). */
  lastTerminationReason?: string;
  /** Full runtime ID; default `containerd://<64 hex>`. */
  containerId?: string;
  ready?: boolean;
}

export interface PodSpec {
  namespace?: string;
  name: string;
  uid?: string;
  nodeName?: string | null;
  /** Pod IP(s); none: the pod has no network yet (Pending). */
  ips?: string[];
  labels?: Record<string, string>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  containers?: ContainerSpec[];
  /** Native sidecars: init containers with restartPolicy Always. */
  sidecars?: ContainerSpec[];
  hostNetwork?: boolean;
  createdAt?: Date;
  startedAt?: Date;
  ownerName?: string;
}

export function containerIdFor(seed: string): string {
  let hex = '';
  for (let round = 0; hex.length < 64; round++) {
    let hash = 2166136261 ^ round;
    for (const char of `${seed}/${round}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
    hex += hash.toString(16).padStart(8, '0');
  }
  return `containerd://${hex.slice(0, 64)}`;
}

function containerJson(spec: ContainerSpec, podName: string, startedAt: Date, extra: KubeObject = {}): { spec: KubeObject; status: KubeObject } {
  const restartCount = spec.restartCount ?? 0;
  const started = new Date(startedAt.getTime() + 2_000).toISOString();
  return {
    spec: {
      name: spec.name,
      image: spec.image ?? `registry.example/${spec.name}:1.4.2`,
      ports: (spec.ports ?? []).map((port) => ({ containerPort: port.containerPort, protocol: port.protocol ?? 'TCP', ...(port.name ? { name: port.name } : {}) })),
      resources: spec.memoryLimit ? { limits: { cpu: '500m', memory: spec.memoryLimit }, requests: { cpu: '100m', memory: spec.memoryLimit } } : { requests: { cpu: '100m' } },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
      ...extra,
    },
    status: {
      name: spec.name,
      image: spec.image ?? `registry.example/${spec.name}:1.4.2`,
      imageID: `registry.example/${spec.name}@sha256:${containerIdFor(`${podName}/${spec.name}/image`).slice(13)}`,
      containerID: spec.containerId ?? containerIdFor(`${podName}/${spec.name}/${restartCount}`),
      ready: spec.ready ?? true,
      started: true,
      restartCount,
      state: { running: { startedAt: started } },
      lastState:
        spec.lastTerminationReason === undefined
          ? {}
          : {
              terminated: {
                exitCode: spec.lastTerminationReason === 'OOMKilled' ? 137 : 1,
                reason: spec.lastTerminationReason,
                startedAt: startedAt.toISOString(),
                finishedAt: new Date(startedAt.getTime() + 1_000).toISOString(),
                containerID: containerIdFor(`${podName}/${spec.name}/${restartCount - 1}`),
              },
            },
    },
  };
}

/** A core/v1 Pod as kube-apiserver returns it (trimmed of managedFields). */
export function podJson(spec: PodSpec): KubeObject {
  const namespace = spec.namespace ?? 'default';
  const createdAt = spec.createdAt ?? new Date(Date.now() - 60_000);
  const startedAt = spec.startedAt ?? new Date(createdAt.getTime() + 1_000);
  const containers = (spec.containers ?? [{ name: 'app', ports: [{ containerPort: 8080, name: 'http' }], memoryLimit: '256Mi' }]).map((c) => containerJson(c, spec.name, startedAt));
  const sidecars = (spec.sidecars ?? []).map((c) => containerJson(c, spec.name, startedAt, { restartPolicy: 'Always' }));
  const ips = spec.ips ?? [];
  const phase = spec.phase ?? (ips.length > 0 ? 'Running' : 'Pending');
  const owner = spec.ownerName ?? spec.name.replace(/-[^-]+$/, '');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: spec.name,
      namespace,
      uid: spec.uid ?? randomUUID(),
      creationTimestamp: createdAt.toISOString(),
      labels: spec.labels ?? { app: owner },
      annotations: { 'kubectl.kubernetes.io/default-container': containers[0]?.spec.name ?? 'app' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: randomUUID(), controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...(sidecars.length > 0 ? { initContainers: sidecars.map((c) => c.spec) } : {}),
      containers: containers.map((c) => c.spec),
      ...(spec.nodeName === null ? {} : { nodeName: spec.nodeName ?? 'node-a' }),
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: phase === 'Running' ? 'True' : 'False', lastTransitionTime: startedAt.toISOString() }],
      ...(ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })), hostIP: '10.210.0.11', hostIPs: [{ ip: '10.210.0.11' }] } : {}),
      startTime: startedAt.toISOString(),
      qosClass: 'Burstable',
      ...(phase === 'Pending' ? {} : { containerStatuses: containers.map((c) => c.status) }),
      ...(sidecars.length > 0 && phase !== 'Pending' ? { initContainerStatuses: sidecars.map((c) => c.status) } : {}),
    },
  };
}

export function nodeJson(spec: { name: string; internalIp: string; externalIp?: string; podCidr?: string; podCidrs?: string[]; labels?: Record<string, string> }): KubeObject {
  const podCidrs = spec.podCidrs ?? (spec.podCidr === undefined ? [] : [spec.podCidr]);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      uid: randomUUID(),
      creationTimestamp: new Date(Date.now() - 86_400_000).toISOString(),
      labels: spec.labels ?? { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': 'zone-a' },
    },
    spec: { ...(podCidrs.length > 0 ? { podCIDR: podCidrs[0], podCIDRs: podCidrs } : {}) },
    status: {
      addresses: [
        { type: 'InternalIP', address: spec.internalIp },
        ...(spec.externalIp ? [{ type: 'ExternalIP', address: spec.externalIp }] : []),
        { type: 'Hostname', address: spec.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      nodeInfo: { kubeletVersion: 'v1.31.2', containerRuntimeVersion: 'containerd://1.7.22', kernelVersion: '6.18.0', osImage: 'Debian GNU/Linux 13' },
    },
  };
}

export function serviceJson(spec: {
  namespace?: string;
  name: string;
  clusterIp: string | 'None';
  ports: Array<{ port: number; targetPort?: number | string; name?: string; protocol?: 'TCP' | 'UDP' }>;
  selector?: Record<string, string> | null;
}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: spec.namespace ?? 'default', uid: randomUUID(), creationTimestamp: new Date(Date.now() - 3_600_000).toISOString() },
    spec: {
      type: 'ClusterIP',
      clusterIP: spec.clusterIp,
      clusterIPs: [spec.clusterIp],
      ipFamilies: ['IPv4'],
      ports: spec.ports.map((port) => ({ protocol: port.protocol ?? 'TCP', port: port.port, targetPort: port.targetPort ?? port.port, ...(port.name ? { name: port.name } : {}) })),
      ...(spec.selector === null ? {} : { selector: spec.selector ?? { app: spec.name } }),
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  };
}

export interface LabelSelectorJson {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

export function networkPolicyJson(spec: {
  namespace?: string;
  name: string;
  podSelector: LabelSelectorJson;
  policyTypes?: Array<'Ingress' | 'Egress'>;
  ingress?: Array<{ from?: Array<{ podSelector?: LabelSelectorJson; namespaceSelector?: LabelSelectorJson; ipBlock?: { cidr: string; except?: string[] } }>; ports?: Array<{ protocol?: 'TCP' | 'UDP'; port?: number | string; endPort?: number }> }>;
  egress?: Array<{ to?: Array<{ podSelector?: LabelSelectorJson; namespaceSelector?: LabelSelectorJson; ipBlock?: { cidr: string; except?: string[] } }>; ports?: Array<{ protocol?: 'TCP' | 'UDP'; port?: number | string; endPort?: number }> }>;
}): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: spec.name, namespace: spec.namespace ?? 'default', uid: randomUUID(), creationTimestamp: new Date(Date.now() - 3_600_000).toISOString() },
    spec: {
      podSelector: spec.podSelector,
      ...(spec.policyTypes ? { policyTypes: spec.policyTypes } : {}),
      ...(spec.ingress ? { ingress: spec.ingress } : {}),
      ...(spec.egress ? { egress: spec.egress } : {}),
    },
  };
}

/**
 * Fills the server with a cluster of `nodes` nodes (10.x node addresses, one /24
 * pod CIDR each) and `pods` running pods spread over them, two containers each
 * (app + istio-proxy), for the cluster-map benchmark.
 */
export function populateCluster(server: KubeApiServer, size: { nodes: number; pods: number; services?: number }): void {
  const createdAt = new Date(Date.now() - 3_600_000);
  for (let node = 0; node < size.nodes; node++) {
    server.upsert('nodes', nodeJson({ name: `node-${node}`, internalIp: `10.${200 + (node >> 16)}.${(node >> 8) & 255}.${node & 255}`, podCidr: `10.${node >> 8}.${node & 255}.0/24` }));
  }
  const perNode = Math.ceil(size.pods / size.nodes);
  for (let pod = 0; pod < size.pods; pod++) {
    const node = Math.floor(pod / perNode);
    const slot = (pod % perNode) + 2;
    const app = `app-${pod % 500}`;
    server.upsert(
      'pods',
      podJson({
        namespace: `team-${pod % 50}`,
        name: `${app}-${pod.toString(36)}`,
        nodeName: `node-${node}`,
        ips: [`10.${node >> 8}.${node & 255}.${slot}`],
        labels: { app, 'pod-template-hash': '7d9f8c6b5', version: 'v1' },
        createdAt,
        containers: [
          { name: 'app', ports: [{ containerPort: 8080, name: 'http' }], memoryLimit: '512Mi', restartCount: pod % 7 === 0 ? 2 : 0, lastTerminationReason: pod % 7 === 0 ? 'OOMKilled' : undefined },
          { name: 'istio-proxy', ports: [{ containerPort: 15090, name: 'http-envoy-prom' }], memoryLimit: '1Gi' },
        ],
      }),
    );
  }
  for (let service = 0; service < (size.services ?? 0); service++) {
    server.upsert('services', serviceJson({ namespace: `team-${service % 50}`, name: `app-${service}`, clusterIp: `10.96.${service >> 8}.${service & 255}`, ports: [{ port: 80, targetPort: 'http', name: 'http' }], selector: { app: `app-${service}` } }));
  }
}
