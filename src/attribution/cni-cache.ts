import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../common/log';
import { parseCniResultFile, parseIpamReservation, isReservationFileName, type CniPodNetwork, type IpamReservation } from './cni-cache-file';
import type { IpOwner, IpOwnershipMap } from './ip-map';

/**
 * Watches a node's CNI state directories (cni-cache-file.ts has the formats) and
 * keeps the pods they describe claimed in the IpOwnershipMap with source `cni`, so
 * a node agent can name its own pods with no API server at all.
 *
 * Changes arrive through fs.watch (inotify(7)) on the directory itself, `results/`,
 * `networks/` and every `networks/<net>/` (created later ones included); a full
 * resync every 30 s is the safety net for lost events (inotify queue overflow) and
 * for a state directory that did not exist at start. A file that does not parse —
 * libcni and host-local write in place, so a reader can see half of it — gets one
 * warning and is read again on its next change.
 *
 * An address is held from when its files were written (their mtime), so packets
 * sent before the agent read them are still attributed; it is released when its
 * files are gone. When two sandboxes' files name one address (a pod whose CNI DEL
 * never ran), the newer files win. `change` is emitted when the claims change.
 */
export interface CniCacheWatcherOptions {
  /** CNI state directories, each like /var/lib/cni. */
  dirs: readonly string[];
  /** This node: the pods in its CNI cache run here. */
  nodeName: string;
  /** Directories holding another node's CNI state (a copy, or a lab's node), by directory: their pods run there. */
  nodeOfDir?: ReadonlyMap<string, string>;
  ipMap: IpOwnershipMap;
  log: Logger;
  resyncMs?: number;
  /** Events within this long are handled together (a file is usually written in several steps). */
  debounceMs?: number;
  now?: () => number;
}

/** A pod's network as this node's CNI knows it, for diagnosis. */
export interface CniPodFacts extends CniPodNetwork {
  /** The cache file it came from. */
  file: string;
  /** When the CNI wrote it (its mtime), epoch ms. */
  writtenAtMs: number;
}

interface FileRecord<T> {
  value: T;
  mtimeMs: number;
  size: number;
  /** The node whose CNI wrote it. */
  nodeName: string;
}

interface Claim {
  owner: IpOwner;
  fromMs: number;
}

const DEFAULT_RESYNC_MS = 30_000;
const DEFAULT_DEBOUNCE_MS = 20;
const RESULTS_DIR = 'results';
const NETWORKS_DIR = 'networks';
/** The pod's first interface, as the kubelet asks the runtime to name it. */
const PRIMARY_IFNAME = 'eth0';

export class CniCacheWatcher extends EventEmitter {
  readonly name = 'cni-cache';
  private readonly log: Logger;
  private readonly now: () => number;
  /** The directories, absolute and normalized, and the node of each (this one unless told otherwise). */
  private readonly stateDirs: readonly string[];
  private readonly nodeOfDir: ReadonlyMap<string, string>;
  private readonly results = new Map<string, FileRecord<CniPodNetwork>>();
  private readonly reservations = new Map<string, FileRecord<IpamReservation>>();
  /** Files we warned about, until they parse or disappear: one warning each, not one per resync. */
  private readonly warned = new Set<string>();
  /** Watches by directory, with the inode watched: a directory removed and made again needs a new watch. */
  private readonly watchers = new Map<string, { watcher: fs.FSWatcher; ino: number }>();
  private claims = new Map<string, Claim>();
  private byUid = new Map<string, CniPodFacts>();
  private byContainerId = new Map<string, CniPodFacts>();
  private pendingFiles = new Set<string>();
  private pendingResync = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly options: CniCacheWatcherOptions) {
    super();
    this.log = options.log.child({ component: 'cni-cache' });
    this.now = options.now ?? Date.now;
    this.stateDirs = options.dirs.map((dir) => path.resolve(dir));
    this.nodeOfDir = new Map([...(options.nodeOfDir ?? new Map<string, string>())].map(([dir, node]) => [path.resolve(dir), node]));
  }

  /** Reads every directory once (so attribution is ready when start resolves), then follows changes. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.resync();
    this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs ?? DEFAULT_RESYNC_MS);
    this.resyncTimer.unref();
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.log.info({ dirs: this.stateDirs, pods: this.byUid.size, addresses: this.claims.size }, 'CNI cache read');
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.resyncTimer !== null) clearInterval(this.resyncTimer);
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.resyncTimer = this.flushTimer = null;
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  /** The network of the pod with this UID: its eth0 result, else the newest cache file naming it. */
  podNetwork(podUid: string): CniPodFacts | null {
    return this.byUid.get(podUid) ?? null;
  }

  /** The network of a pod sandbox (its infra container ID, as in the cache file's name). */
  podNetworkByContainerId(containerId: string): CniPodFacts | null {
    return this.byContainerId.get(containerId) ?? null;
  }

  pods(): CniPodFacts[] {
    return [...this.byUid.values()];
  }

  get dirs(): readonly string[] {
    return this.stateDirs;
  }

  /** Addresses this watcher claims right now. */
  get addresses(): number {
    return this.claims.size;
  }

  /** Files that are present but did not parse. */
  get malformedFiles(): number {
    return this.warned.size;
  }

  /** Re-reads every directory: picks up what events missed, drops records of files that are gone. */
  resync(): void {
    const seen = new Set<string>();
    for (const dir of this.stateDirs) {
      // results/ and networks/ appear with the first pod of a fresh node: notice them at once.
      this.watch(dir, (name) => {
        if (name !== RESULTS_DIR && name !== NETWORKS_DIR) return;
        // Made, removed or replaced: a watch on the old directory would see nothing more.
        this.unwatch(path.join(dir, name));
        this.queueResync();
      });
      const resultsDir = path.join(dir, RESULTS_DIR);
      this.watch(resultsDir, (name) => this.queueFile(path.join(resultsDir, name)));
      for (const name of listDir(resultsDir)) {
        const file = path.join(resultsDir, name);
        seen.add(file);
        this.refreshFile(file);
      }
      const networksDir = path.join(dir, NETWORKS_DIR);
      this.watch(networksDir, (name) => this.onNetworkDirEvent(networksDir, name));
      for (const network of listDir(networksDir)) {
        const networkDir = path.join(networksDir, network);
        if (!isDirectory(networkDir)) continue;
        this.watchNetwork(networkDir);
        for (const name of listDir(networkDir)) {
          if (!isReservationFileName(name)) continue;
          const file = path.join(networkDir, name);
          seen.add(file);
          this.refreshFile(file);
        }
      }
    }
    for (const records of [this.results, this.reservations] as Map<string, unknown>[]) {
      for (const file of records.keys()) if (!seen.has(file)) records.delete(file);
    }
    for (const file of this.warned) if (!seen.has(file)) this.warned.delete(file);
    this.applyClaims();
  }

  private onNetworkDirEvent(networksDir: string, name: string): void {
    const networkDir = path.join(networksDir, name);
    this.unwatch(networkDir);
    if (isDirectory(networkDir)) {
      this.watchNetwork(networkDir);
      for (const file of listDir(networkDir)) if (isReservationFileName(file)) this.queueFile(path.join(networkDir, file));
    } else {
      // A network directory removed: its reservations go with it.
      for (const file of this.reservations.keys()) if (path.dirname(file) === networkDir) this.queueFile(file);
    }
  }

  private watchNetwork(networkDir: string): void {
    this.watch(networkDir, (name) => {
      if (isReservationFileName(name)) this.queueFile(path.join(networkDir, name));
    });
  }

  /** Starts an inotify watch on `dir` unless one runs on that very directory, or it does not exist (the resync retries). */
  private watch(dir: string, onName: (name: string) => void): void {
    if (!this.running) return;
    let ino: number;
    try {
      const stat = fs.statSync(dir);
      if (!stat.isDirectory()) return;
      ino = stat.ino;
    } catch {
      return;
    }
    const known = this.watchers.get(dir);
    if (known !== undefined) {
      if (known.ino === ino) return;
      known.watcher.close(); // the directory was replaced: inotify follows the old inode
      this.watchers.delete(dir);
    }
    try {
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) this.queueResync();
        else onName(name.toString());
      });
      watcher.on('error', (err) => {
        // The watch broke: forget it, the next resync re-reads what is there and watches again.
        this.log.debug({ err, dir }, 'CNI directory watch ended');
        watcher.close();
        if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
        this.queueResync();
      });
      this.watchers.set(dir, { watcher, ino });
    } catch (err) {
      this.log.warn({ err, dir }, 'cannot watch CNI directory; relying on the periodic resync');
    }
  }

  private unwatch(dir: string): void {
    this.watchers.get(dir)?.watcher.close();
    this.watchers.delete(dir);
  }

  private queueFile(file: string): void {
    this.pendingFiles.add(file);
    this.scheduleFlush();
  }

  private queueResync(): void {
    this.pendingResync = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null || !this.running) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      const files = this.pendingFiles;
      this.pendingFiles = new Set();
      if (this.pendingResync) {
        this.pendingResync = false;
        this.resync();
        return;
      }
      for (const file of files) this.refreshFile(file);
      this.applyClaims();
    }, this.options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  /** Reads one file into its record; a missing file drops the record, a malformed one keeps the last good one. */
  private refreshFile(file: string): void {
    const isResult = this.stateDirs.some((dir) => path.dirname(file) === path.join(dir, RESULTS_DIR));
    const records: Map<string, FileRecord<unknown>> = isResult ? this.results : this.reservations;
    let stat: fs.Stats;
    let text: string;
    try {
      stat = fs.statSync(file);
      if (!stat.isFile()) return;
      const known = records.get(file);
      if (known !== undefined && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return;
      text = fs.readFileSync(file, 'utf8');
    } catch {
      records.delete(file);
      this.warned.delete(file);
      return;
    }
    const parsed = isResult ? parseCniResultFile(text) : parseIpamReservation(path.basename(path.dirname(file)), path.basename(file), text);
    if (!parsed.ok) {
      if (!this.warned.has(file)) {
        this.warned.add(file);
        this.log.warn({ file, reason: parsed.reason }, 'skipping CNI file that does not parse; will read it again when it changes');
      }
      return;
    }
    if (this.warned.delete(file)) this.log.info({ file }, 'CNI file parses now');
    records.set(file, { value: parsed.value, mtimeMs: stat.mtimeMs, size: stat.size, nodeName: this.nodeOfFile(file, isResult) });
  }

  /** Turns the records into claims and brings the map in line with them. */
  private applyClaims(): void {
    const desired = this.desiredClaims();
    const nowMs = this.now();
    for (const [ip, claim] of this.claims) {
      // Only addresses nobody holds any more are released; a new holder's claim ends the old tenure at its own start.
      if (!desired.has(ip)) this.options.ipMap.release(ip, claim.owner.key, nowMs, 'cni');
    }
    for (const [ip, claim] of desired) {
      const previous = this.claims.get(ip);
      if (previous === undefined || previous.owner.key !== claim.owner.key || !sameOwner(previous.owner, claim.owner)) {
        this.options.ipMap.claim(ip, claim.owner, claim.fromMs, 'cni');
      }
    }
    const changed = desired.size !== this.claims.size || [...desired].some(([ip, claim]) => this.claims.get(ip)?.owner.key !== claim.owner.key);
    this.claims = desired;
    if (changed) this.emit('change');
  }

  private desiredClaims(): Map<string, Claim> {
    // Per sandbox: its pod (from the result file) and when its files were written.
    const sandboxes = new Map<string, { facts: CniPodFacts | null; firstMs: number; lastMs: number; ips: Set<string>; nodeName: string }>();
    const sandbox = (containerId: string, mtimeMs: number, nodeName: string) => {
      let entry = sandboxes.get(containerId);
      if (entry === undefined) {
        entry = { facts: null, firstMs: mtimeMs, lastMs: mtimeMs, ips: new Set(), nodeName };
        sandboxes.set(containerId, entry);
      }
      entry.firstMs = Math.min(entry.firstMs, mtimeMs);
      entry.lastMs = Math.max(entry.lastMs, mtimeMs);
      return entry;
    };
    const byUid = new Map<string, CniPodFacts>();
    const byContainerId = new Map<string, CniPodFacts>();
    for (const [file, record] of this.results) {
      const entry = sandbox(record.value.containerId, record.mtimeMs, record.nodeName);
      const facts: CniPodFacts = { ...record.value, file, writtenAtMs: record.mtimeMs };
      if (entry.facts === null || facts.writtenAtMs >= entry.facts.writtenAtMs) entry.facts = facts;
      for (const ip of record.value.ips) entry.ips.add(ip);
      byContainerId.set(facts.containerId, entry.facts);
      const uid = facts.podUid;
      if (uid !== null && prefer(facts, byUid.get(uid))) byUid.set(uid, facts);
    }
    for (const record of this.reservations.values()) sandbox(record.value.containerId, record.mtimeMs, record.nodeName).ips.add(record.value.ip);
    this.byUid = byUid;
    this.byContainerId = byContainerId;

    // An address in two sandboxes' files: one is left over from a pod whose CNI DEL never ran; the newer wins.
    const winners = new Map<string, { containerId: string; lastMs: number }>();
    for (const [containerId, entry] of sandboxes) {
      for (const ip of entry.ips) {
        const known = winners.get(ip);
        if (known === undefined || entry.lastMs > known.lastMs) winners.set(ip, { containerId, lastMs: entry.lastMs });
      }
    }
    const claims = new Map<string, Claim>();
    for (const [ip, { containerId }] of winners) {
      const entry = sandboxes.get(containerId)!;
      // From the whole ms of the mtime (which has ns digits): a lookup at Date.now(), an integer,
      // within the ms the files were written would otherwise find the address not yet held.
      claims.set(ip, { owner: ownerOf(containerId, entry.facts, entry.nodeName), fromMs: Math.floor(entry.firstMs) });
    }
    return claims;
  }

  /** The node of the configured directory a file lies in (results/<file>, networks/<net>/<file>). */
  private nodeOfFile(file: string, isResult: boolean): string {
    const dir = isResult ? path.dirname(path.dirname(file)) : path.dirname(path.dirname(path.dirname(file)));
    return this.nodeOfDir.get(dir) ?? this.options.nodeName;
  }
}

function ownerOf(containerId: string, facts: CniPodFacts | null, nodeName: string): IpOwner {
  const pod =
    facts !== null && facts.namespace !== null && facts.name !== null && facts.podUid !== null
      ? { namespace: facts.namespace, name: facts.name, uid: facts.podUid }
      : null;
  // Without the pod's UID (an IPAM reservation alone), the sandbox is the identity.
  return { kind: 'pod', key: facts?.podUid ?? `sandbox/${containerId}`, pod, node: nodeName, service: null };
}

/**
 * A `--cni-cache-dir` value: `DIR`, this node's CNI state, or `NODE=DIR`, another
 * node's (a copy taken there, or a lab node), whose pods are then named with that
 * node and not counted as on this kernel. Node names are DNS-1123 subdomains
 * (kubernetes.io/docs/concepts/overview/working-with-objects/names/), so a name
 * before `=` followed by an absolute path is never mistaken for a plain path.
 */
export function parseCniCacheDirArgument(argument: string): { dir: string; nodeName: string | null } {
  const match = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)=(\/.*)$/.exec(argument);
  return match === null ? { dir: argument, nodeName: null } : { dir: match[3], nodeName: match[1] };
}

/**
 * Which result describes a pod: its primary interface (eth0; Multus adds net1, …
 * as more results of the same sandbox), then the newest file (a sandbox re-created).
 */
function prefer(candidate: CniPodFacts, known: CniPodFacts | undefined): boolean {
  if (known === undefined) return true;
  const primary = (facts: CniPodFacts) => (facts.ifName === PRIMARY_IFNAME ? 1 : 0);
  if (primary(candidate) !== primary(known)) return primary(candidate) > primary(known);
  return candidate.writtenAtMs >= known.writtenAtMs;
}

function sameOwner(a: IpOwner, b: IpOwner): boolean {
  return a.pod?.namespace === b.pod?.namespace && a.pod?.name === b.pod?.name && a.node === b.node;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
