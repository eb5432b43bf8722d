import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseProcCgroup, type ContainerRuntime } from './cgroup';

/**
 * pid → comm and container, from /proc (proc(5)): `comm` is the task's name as the
 * kernel keeps it (16 bytes at most), `cgroup` the cgroup path(s) that name the
 * container and pod (cgroup.ts). Processes exit and pids are reused, so answers are
 * cached only briefly, and a pid that is gone is reported as far as we got — the comm
 * the kernel event carried, no container — never filled in from a guess.
 */
export interface ProcessIdentity {
  pid: number;
  /** From /proc, else the caller's hint (the kernel event's), else null. */
  comm: string | null;
  containerId: string | null;
  runtime: ContainerRuntime | null;
  podUid: string | null;
  /** False when /proc/<pid> could not be read (the process had exited). */
  alive: boolean;
}

export interface ProcessResolverOptions {
  /** Where proc is mounted; tests point this at a temporary directory. */
  procRoot?: string;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

const DEFAULT_TTL_MS = 2_000;
const DEFAULT_MAX_ENTRIES = 4_096;

export class ProcessResolver {
  private readonly procRoot: string;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<number, { identity: ProcessIdentity; readAtMs: number }>();

  constructor(options: ProcessResolverOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /** What /proc says about `pid` now; `commHint` is what the kernel event named it. */
  resolve(pid: number, commHint: string | null = null): ProcessIdentity {
    const nowMs = this.now();
    const cached = this.cache.get(pid);
    if (cached !== undefined && nowMs - cached.readAtMs < this.ttlMs) {
      return cached.identity.comm === null && commHint !== null ? { ...cached.identity, comm: commHint } : cached.identity;
    }
    const identity = this.read(pid, commHint);
    if (this.cache.size >= this.maxEntries) this.cache.clear(); // bounded; a refill costs two small reads per pid
    // A gone pid is not cached: nothing more is to be learned, and the number may be reused at once.
    if (identity.alive) this.cache.set(pid, { identity, readAtMs: nowMs });
    return identity;
  }

  private read(pid: number, commHint: string | null): ProcessIdentity {
    const dir = path.join(this.procRoot, String(pid));
    const comm = readSmallFile(path.join(dir, 'comm'))?.replace(/\n$/, '') ?? null;
    const cgroup = readSmallFile(path.join(dir, 'cgroup'));
    if (cgroup === null) {
      return { pid, comm: comm ?? commHint, containerId: null, runtime: null, podUid: null, alive: comm !== null };
    }
    const identity = parseProcCgroup(cgroup);
    return { pid, comm: comm ?? commHint, ...identity, alive: true };
  }
}

function readSmallFile(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
