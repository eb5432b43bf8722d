/**
 * tracefs plumbing for the tcp reset events: find (or mount) tracefs, check the
 * events exist, and own a private trace instance (Documentation/trace/ftrace.rst,
 * "Instances"). The global buffer and the global event enables are never touched.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { errnoCode, KernelEventsError } from '../common/errors';
import type { Logger } from '../common/log';
import { parseEventFormat, type TraceEventFormat } from './format';

const execFileAsync = promisify(execFile);

/** Where tracefs lives: its own mount point since 4.1, under debugfs before. */
export const DEFAULT_TRACEFS_DIRS: readonly string[] = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
/** The events this package reads, as `system/event` paths under `events/`. */
export const TCP_RESET_EVENTS: readonly string[] = ['tcp/tcp_send_reset', 'tcp/tcp_receive_reset'];
export const INSTANCE_PREFIX = 'rstprobe-';
/** Per-CPU ring size of our instance: ~1 MiB holds thousands of ~250-byte reset events per CPU. */
export const DEFAULT_BUFFER_KB_PER_CPU = 1024;

const INSTANCE_NAME = /^rstprobe-(\d+)-[0-9a-f]+$/;
const RMDIR_RETRY_DELAY_MS = 50;
const RMDIR_ATTEMPTS = 10;

export interface TraceInstance {
  name: string;
  /** Absolute path of `instances/<name>`. */
  dir: string;
  tracePipePath: string;
}

export interface TcpResetEventFormats {
  send: TraceEventFormat;
  receive: TraceEventFormat;
}

/**
 * Returns a tracefs directory that has the tcp events. With `dir` given, only
 * that directory is checked (never mounted over). Without, the default places are
 * tried, mounting tracefs on `/sys/kernel/tracing` when it is empty — as in a fresh
 * `/sys` of `ip netns exec`.
 */
export async function locateTracefs(options: { dir?: string; logger?: Logger } = {}): Promise<string> {
  if (options.dir !== undefined) {
    await checkTcpEvents(options.dir);
    return options.dir;
  }
  const problems: string[] = [];
  for (const dir of DEFAULT_TRACEFS_DIRS) {
    if (await isTracefs(dir)) {
      await checkTcpEvents(dir);
      return dir;
    }
  }
  const mountPoint = DEFAULT_TRACEFS_DIRS[0];
  try {
    // tracefs(5): "mount -t tracefs nodev /sys/kernel/tracing".
    await execFileAsync('mount', ['-t', 'tracefs', 'nodev', mountPoint], { timeout: 10_000 });
    options.logger?.info({ dir: mountPoint }, 'mounted tracefs');
  } catch (err) {
    problems.push(`mount -t tracefs nodev ${mountPoint} failed: ${oneLine(err)}`);
  }
  if (await isTracefs(mountPoint)) {
    await checkTcpEvents(mountPoint);
    return mountPoint;
  }
  throw new KernelEventsError(
    `tracefs not found at ${DEFAULT_TRACEFS_DIRS.join(' or ')} (${problems.join('; ') || 'not mounted'}); ` +
      `run as root with CAP_SYS_ADMIN or mount it: mount -t tracefs nodev ${mountPoint}`,
  );
}

async function isTracefs(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, 'instances'));
    return true;
  } catch {
    return false;
  }
}

/** Throws a KernelEventsError naming what is missing and the fix. */
export async function checkTcpEvents(tracefsDir: string): Promise<void> {
  try {
    await fs.access(path.join(tracefsDir, 'instances'));
  } catch (err) {
    throw new KernelEventsError(
      `${tracefsDir} is not a tracefs mount (no instances/: ${errnoCode(err) ?? 'unreadable'}); ` +
        `mount it (mount -t tracefs nodev /sys/kernel/tracing) and run as root`,
      { cause: err },
    );
  }
  const missing: string[] = [];
  for (const event of TCP_RESET_EVENTS) {
    try {
      await fs.access(path.join(tracefsDir, 'events', event, 'format'));
    } catch {
      missing.push(event);
    }
  }
  if (missing.length > 0) {
    throw new KernelEventsError(
      `tracefs at ${tracefsDir} lacks event ${missing.join(' and ')}; ` +
        `tcp_send_reset with a reason needs Linux ≥ 6.10 built with CONFIG_TRACEPOINTS (use --kernel-events off to run from packets alone)`,
    );
  }
}

/** Reads and parses the two tcp event formats (for the enum names of this kernel). */
export async function readTcpResetFormats(tracefsDir: string): Promise<TcpResetEventFormats> {
  const [send, receive] = await Promise.all(
    TCP_RESET_EVENTS.map(async (event) => {
      const file = path.join(tracefsDir, 'events', event, 'format');
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (err) {
        throw new KernelEventsError(`cannot read ${file}: ${oneLine(err)}; run as root`, { cause: err });
      }
      const parsed = parseEventFormat(text);
      if (!parsed.ok) throw new KernelEventsError(`cannot parse ${file}: ${parsed.error.message}`);
      return parsed.format;
    }),
  );
  return { send, receive };
}

/**
 * Creates `instances/rstprobe-<pid>-<random>` with trace_clock `mono` (timestamps
 * are CLOCK_MONOTONIC, convertible with sampleClocks), a larger per-CPU buffer,
 * irq-info on (the context flags) and only the two tcp events enabled.
 * On failure the half-made instance is removed.
 */
export async function createInstance(
  tracefsDir: string,
  options: { bufferKbPerCpu?: number; logger?: Logger } = {},
): Promise<TraceInstance> {
  const name = `${INSTANCE_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = path.join(tracefsDir, 'instances', name);
  const instance: TraceInstance = { name, dir, tracePipePath: path.join(dir, 'trace_pipe') };
  try {
    await fs.mkdir(dir);
  } catch (err) {
    throw new KernelEventsError(`cannot create trace instance ${dir}: ${oneLine(err)}; run as root`, { cause: err });
  }
  try {
    await writeControl(dir, 'trace_clock', 'mono');
    await writeControl(dir, 'buffer_size_kb', String(options.bufferKbPerCpu ?? DEFAULT_BUFFER_KB_PER_CPU));
    // Defaults, but set explicitly: the parser needs the flags column and no tgid surprises.
    await writeOptional(dir, 'options/irq-info', '1', options.logger);
    await writeOptional(dir, 'options/record-tgid', '1', options.logger);
    // set_event of an instance only affects that instance; an O_TRUNC write clears it first.
    await writeControl(dir, 'set_event', TCP_RESET_EVENTS.map((event) => event.replace('/', ':')).join('\n') + '\n');
  } catch (err) {
    await removeInstance(instance).catch(() => undefined);
    throw new KernelEventsError(`cannot configure trace instance ${dir}: ${oneLine(err)}`, { cause: err });
  }
  return instance;
}

async function writeControl(dir: string, file: string, value: string): Promise<void> {
  await fs.writeFile(path.join(dir, file), value);
}

async function writeOptional(dir: string, file: string, value: string, logger: Logger | undefined): Promise<void> {
  try {
    await writeControl(dir, file, value);
  } catch (err) {
    logger?.debug({ err, file }, 'optional trace option not set');
  }
}

/**
 * Disables the events and removes the instance. Idempotent (a gone instance is
 * fine). rmdir fails with EBUSY while a trace_pipe of the instance is open: close
 * the reader first; a few short retries cover a close still in flight.
 */
export async function removeInstance(instance: TraceInstance): Promise<void> {
  await fs.writeFile(path.join(instance.dir, 'set_event'), '').catch(() => undefined);
  for (let attempt = 1; ; attempt += 1) {
    try {
      await fs.rmdir(instance.dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= RMDIR_ATTEMPTS) {
        throw new KernelEventsError(`cannot remove trace instance ${instance.dir}: ${oneLine(err)}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, RMDIR_RETRY_DELAY_MS));
    }
  }
}

/**
 * Synchronous removeInstance for the 'exit' path; never throws, returns whether the
 * instance is gone. rmdir answers EBUSY while its trace_pipe is open, so close the
 * reader first (the addon's PollReader.close() closes the descriptor at once).
 */
export function removeInstanceSync(instance: TraceInstance): boolean {
  try {
    writeFileSync(path.join(instance.dir, 'set_event'), '');
  } catch {
    // Already gone or not ours to write: rmdir below tells.
  }
  for (let attempt = 1; attempt <= RMDIR_ATTEMPTS; attempt += 1) {
    try {
      rmdirSync(instance.dir);
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY') return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RMDIR_RETRY_DELAY_MS);
    }
  }
  return false;
}

/**
 * Removes `instances/rstprobe-<pid>-*` left by processes that died without cleanup
 * (SIGKILL). Only rmdir: an instance still read by a live process (e.g. one in
 * another pid namespace that looks dead from here) answers EBUSY and is kept.
 * Returns the names removed.
 */
export async function sweepStaleInstances(tracefsDir: string, logger?: Logger): Promise<string[]> {
  const instancesDir = path.join(tracefsDir, 'instances');
  let names: string[];
  try {
    names = await fs.readdir(instancesDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = INSTANCE_NAME.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      await fs.rmdir(path.join(instancesDir, name));
      removed.push(name);
      logger?.info({ instance: name }, 'removed stale trace instance');
    } catch (err) {
      logger?.debug({ err, instance: name }, 'stale trace instance not removed');
    }
  }
  return removed;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].trim();
}
