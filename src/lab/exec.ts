/**
 * Small process helpers for tests: run a command from an argument array (never a
 * shell string), with a timeout that kills the command's whole process group, and
 * errors that name the command that failed.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { RstprobeError } from '../../src/common/errors';

export const DEFAULT_EXEC_TIMEOUT_MS = 15_000;

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; null when the command died of a signal (timeouts included). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
}

export interface ExecOptions {
  /** Kill the process group after this long (default 15 s). */
  readonly timeoutMs?: number;
  /** Throw ExecError on a non-zero exit, a signal or a timeout (default true). */
  readonly check?: boolean;
  /** Written to the command's stdin, which is then closed. */
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A command failed, timed out or could not start; `message` names the command. */
export class ExecError extends RstprobeError {
  readonly argv: readonly string[];
  readonly result: ExecResult | null;
  constructor(argv: readonly string[], why: string, result: ExecResult | null, options?: { cause?: unknown }) {
    const stderr = result?.stderr.trim() ?? '';
    super('RSTPROBE_ERR_TEST_EXEC', `\`${formatArgv(argv)}\` ${why}${stderr ? `: ${stderr}` : ''}`, options);
    this.argv = argv;
    this.result = result;
  }
}

export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

/**
 * Runs `file args…` in its own process group; on timeout the whole group gets
 * SIGKILL, so grandchildren (e.g. under `ip netns exec`) cannot outlive it.
 */
export function execCommand(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const argv = [file, ...args];
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: options.env });
    } catch (err) {
      reject(new ExecError(argv, 'could not start', null, { cause: err }));
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin?.on('error', () => undefined); // the command may exit before reading stdin
    child.stdin?.end(options.input ?? '');
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new ExecError(argv, 'could not start', null, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code,
        signal,
        timedOut,
      };
      if (options.check === false) resolve(result);
      else if (timedOut) reject(new ExecError(argv, `timed out after ${timeoutMs} ms`, result));
      else if (code !== 0) reject(new ExecError(argv, code === null ? `died of ${signal}` : `exited with ${code}`, result));
      else resolve(result);
    });
  });
}

/** Synchronous twin of execCommand for process-exit handlers, where nothing async runs. */
export function execCommandSync(file: string, args: readonly string[], options: ExecOptions = {}): ExecResult {
  const argv = [file, ...args];
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const out = spawnSync(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', input: options.input ?? '', env: options.env, encoding: 'utf8' });
  if (out.error && (out.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') {
    throw new ExecError(argv, 'could not start', null, { cause: out.error });
  }
  const timedOut = (out.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const result: ExecResult = { stdout: out.stdout ?? '', stderr: out.stderr ?? '', code: out.status, signal: out.signal, timedOut };
  if (options.check !== false && (timedOut || out.status !== 0)) {
    throw new ExecError(argv, timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${String(out.status ?? out.signal)}`, result);
  }
  return result;
}

/** Spawns a long-running command as the leader of its own process group. */
export function spawnGroup(file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options, detached: true });
}

/** Signals a child's whole process group; false when it is already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  return killPidGroup(child.pid, signal);
}

export function killPidGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** True while the child has neither exited nor been reaped. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * SIGTERM to the group, then SIGKILL if it has not exited within `graceMs`.
 * Resolves once the child has exited.
 */
export async function terminateGroup(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
    killGroup(child, 'SIGKILL');
    await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())]);
  }
  // The leader is gone; anything it forked into its group goes with it.
  killGroup(child, 'SIGKILL');
}
