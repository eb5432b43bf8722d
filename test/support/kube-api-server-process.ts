import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { KubeApiServerOptions, KubeObject, ResourceKind, TokenReviewAnswer } from './kube-api-server';

/** The compiled child entry (kube-api-server-main.ts). */
export const KUBE_API_SERVER_MAIN = path.resolve(__dirname, 'kube-api-server-main.js');

/**
 * The parent's handle on a test API server running in another process: the same
 * controls as KubeApiServer, asynchronous. `spawner` decides where it runs, e.g.
 * `(cmd, args) => lab.spawn(node, cmd, args)` for a lab namespace.
 */
export class KubeApiServerProcess {
  url = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private stderr = '';

  private constructor(readonly child: ChildProcess) {}

  static async spawn(
    options: KubeApiServerOptions = {},
    spawner: (command: string, args: string[]) => ChildProcess = (command, args) => spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] }),
  ): Promise<KubeApiServerProcess> {
    const child = spawner(process.execPath, ['--max-old-space-size=4096', KUBE_API_SERVER_MAIN, JSON.stringify(options)]);
    const handle = new KubeApiServerProcess(child);
    child.stderr?.on('data', (chunk: Buffer) => (handle.stderr = (handle.stderr + chunk.toString('utf8')).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kube api server did not start: ${handle.stderr}`)), 15_000);
      child.once('exit', (code) => reject(new Error(`kube api server exited (${code}): ${handle.stderr}`)));
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { ready?: boolean; url?: string; id?: number; result?: unknown; error?: string };
        if (message.ready === true) {
          handle.url = message.url!;
          clearTimeout(timer);
          resolve();
          return;
        }
        const waiter = handle.pending.get(message.id!);
        if (waiter === undefined) return;
        handle.pending.delete(message.id!);
        if (message.error !== undefined) waiter.reject(new Error(message.error));
        else waiter.resolve(message.result);
      });
    });
    child.on('exit', () => {
      for (const waiter of handle.pending.values()) waiter.reject(new Error(`kube api server exited: ${handle.stderr}`));
      handle.pending.clear();
    });
    return handle;
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  upsert(kind: ResourceKind, object: KubeObject): Promise<KubeObject> {
    return this.call('upsert', kind, object);
  }
  remove(kind: ResourceKind, namespace: string | null, name: string): Promise<boolean> {
    return this.call('remove', kind, namespace, name);
  }
  expireHistory(notify: 'error' | 'close' | 'none' = 'none'): Promise<void> {
    return this.call('expireHistory', notify);
  }
  closeWatches(): Promise<void> {
    return this.call('closeWatches');
  }
  stop(): Promise<void> {
    return this.call('stop');
  }
  start(): Promise<void> {
    return this.call('start');
  }
  writeKubeconfig(dir: string, options: { token?: string | null; fileName?: string } = {}): Promise<string> {
    return this.call('writeKubeconfig', dir, options);
  }
  setTokenReview(token: string, answer: TokenReviewAnswer): Promise<void> {
    return this.call('setTokenReview', token, answer);
  }
  populate(size: { nodes: number; pods: number; services?: number }): Promise<void> {
    return this.call('populate', size);
  }
  rssBytes(): Promise<number> {
    return this.call('rssBytes');
  }

  /** Closes stdin (the server stops and exits) and waits for the exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
