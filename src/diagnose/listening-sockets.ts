import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/**
 * The TCP ports a network namespace listens on, from /proc/<pid>/net/tcp{,6}
 * (proc(5)): the `net` directory of a process shows its own namespace's sockets.
 * A pod's netns path (CNI cache) is matched to a process by the inode of
 * /proc/<pid>/ns/net (namespaces(7)): the process need not be the listener, any
 * process of the pod's namespace will do.
 */
export interface ListeningPorts {
  /** Sorted, unique TCP ports in state LISTEN, both families. */
  ports: number[];
  /** How they were read, for the evidence. */
  source: string;
}

/** TCP_LISTEN in the `st` column (include/net/tcp_states.h). */
const TCP_LISTEN_STATE = '0A';

/** Ports in state LISTEN from the text of /proc/net/tcp or tcp6. Pure. */
export function parseListeningPorts(text: string): number[] {
  const ports: number[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== TCP_LISTEN_STATE) continue;
    const colon = fields[1].lastIndexOf(':');
    const port = Number.parseInt(fields[1].slice(colon + 1), 16);
    if (colon > 0 && Number.isInteger(port)) ports.push(port);
  }
  return ports;
}

export interface ListeningSocketReaderOptions {
  procRoot?: string;
  /** Answers are reused this long (a storm of refused SYNs reads /proc once). */
  cacheMs?: number;
  /** Fall back to entering the namespace (`nsenter --net=PATH cat /proc/net/tcp…`) when no process lives in it. */
  enterNamespace?: boolean;
  /**
   * At most this many uncached reads per second. Each is a synchronous walk of
   * /proc (a few ms on a busy node); a storm of refused SYNs to many pods must not
   * stall the agent, so past the budget the answer is "not read".
   */
  maxReadsPerSecond?: number;
}

export class ListeningSocketReader {
  private readonly procRoot: string;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { readAtMs: number; result: ListeningPorts | null }>();
  private budgetSecond = 0;
  private readsThisSecond = 0;
  /** Reads refused by the per-second budget. */
  skipped = 0;

  constructor(private readonly options: ListeningSocketReaderOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.cacheMs = options.cacheMs ?? 2_000;
  }

  /** The listening ports of the namespace at `netnsPath`, or null when it cannot be read. */
  read(netnsPath: string): ListeningPorts | null {
    const nowMs = Date.now();
    const cached = this.cache.get(netnsPath);
    if (cached !== undefined && nowMs - cached.readAtMs < this.cacheMs) return cached.result;
    const second = Math.floor(nowMs / 1000);
    if (second !== this.budgetSecond) {
      this.budgetSecond = second;
      this.readsThisSecond = 0;
    }
    if (++this.readsThisSecond > (this.options.maxReadsPerSecond ?? 20)) {
      this.skipped++;
      return null;
    }
    const result = this.readUncached(netnsPath);
    if (this.cache.size >= 1_024) this.cache.clear();
    this.cache.set(netnsPath, { readAtMs: nowMs, result });
    return result;
  }

  private readUncached(netnsPath: string): ListeningPorts | null {
    let inode: number;
    try {
      inode = statSync(netnsPath).ino;
    } catch {
      return null;
    }
    const pid = this.processInNamespace(inode);
    if (pid !== null) {
      const text = ['tcp', 'tcp6'].map((name) => readOrEmpty(`${this.procRoot}/${pid}/net/${name}`)).join('\n');
      return { ports: unique(parseListeningPorts(text)), source: `/proc/${pid}/net/tcp of a process in the pod's network namespace` };
    }
    if (this.options.enterNamespace === false) return null;
    try {
      // /proc/net is /proc/self/net: inside the namespace it lists that namespace's sockets.
      const text = execFileSync('nsenter', [`--net=${netnsPath}`, 'cat', '/proc/net/tcp', '/proc/net/tcp6'], { encoding: 'utf8', timeout: 2_000 });
      return { ports: unique(parseListeningPorts(text)), source: "/proc/net/tcp read inside the pod's network namespace" };
    } catch {
      return null;
    }
  }

  private processInNamespace(inode: number): number | null {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return null;
    }
    const wanted = `net:[${inode}]`;
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readlinkSync(`${this.procRoot}/${entry}/ns/net`) === wanted) return Number(entry);
      } catch {
        // gone, or a kernel thread: next
      }
    }
    return null;
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function unique(ports: number[]): number[] {
  return [...new Set(ports)].sort((a, b) => a - b);
}
