import { execFile } from 'node:child_process';

/** Runs iproute2's `ip -j …` (JSON output, iproute2 ≥ 4.14) and parses it. */
export function ipJson(args: readonly string[], timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || error.message}`, { cause: error }));
        return;
      }
      try {
        resolve(stdout.trim() === '' ? [] : JSON.parse(stdout));
      } catch (err) {
        reject(new Error(`ip ${args.join(' ')}: output is not JSON`, { cause: err }));
      }
    });
  });
}

/** Runs a command and parses its stdout as JSON (e.g. `nsenter --net=PATH ip -j link show`). */
export function commandJson(command: string, args: readonly string[], timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`, { cause: error }));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch (err) {
        reject(new Error(`${command}: output is not JSON`, { cause: err }));
      }
    });
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `mtu` entry of an `ip -j route` object's `metrics` list, if any. */
export function routeMetricMtu(route: Record<string, unknown>): number | null {
  const metrics = route.metrics;
  if (!Array.isArray(metrics)) return null;
  for (const metric of metrics) {
    if (isRecord(metric) && typeof metric.mtu === 'number') return metric.mtu;
  }
  return null;
}
