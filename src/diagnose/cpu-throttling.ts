import { readFileSync } from 'node:fs';

/**
 * CPU throttling of a process's cgroup, from cgroup v2 `cpu.stat`
 * (Documentation/admin-guide/cgroup-v2.rst, "CPU Interface Files"): `nr_periods`,
 * `nr_throttled` and `throttled_usec` exist when the cpu controller is enabled
 * for the cgroup (a CPU limit); without it only the usage lines are there.
 */
export interface CpuThrottling {
  cgroupPath: string;
  periods: number;
  throttledPeriods: number;
  throttledUs: number;
}

/** Pure: the text of cpu.stat in, the throttling counters out (null when the cpu controller is off). */
export function parseCpuStat(text: string, cgroupPath: string): CpuThrottling | null {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined && /^\d+$/.test(value)) values.set(key, Number(value));
  }
  const throttledPeriods = values.get('nr_throttled');
  const throttledUs = values.get('throttled_usec');
  if (throttledPeriods === undefined || throttledUs === undefined) return null;
  return { cgroupPath, periods: values.get('nr_periods') ?? 0, throttledPeriods, throttledUs };
}

/** The cgroup v2 path of a process from /proc/<pid>/cgroup (`0::/path`), or null. */
export function parseUnifiedCgroupPath(procCgroupText: string): string | null {
  for (const line of procCgroupText.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim();
  }
  return null;
}

/** Reads the throttling of `pid`'s cgroup; null when the process is gone or the file has no throttling counters. */
export function readCpuThrottling(pid: number, procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup'): CpuThrottling | null {
  try {
    const cgroupPath = parseUnifiedCgroupPath(readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8'));
    if (cgroupPath === null) return null;
    return parseCpuStat(readFileSync(`${cgroupRoot}${cgroupPath === '/' ? '' : cgroupPath}/cpu.stat`, 'utf8'), cgroupPath);
  } catch {
    return null;
  }
}

/** One evidence sentence with the numbers. */
export function describeThrottling(throttling: CpuThrottling, who: string): string {
  const share = throttling.periods > 0 ? ` (${((throttling.throttledPeriods / throttling.periods) * 100).toFixed(1)}% of ${throttling.periods} periods)` : '';
  return `${who} was CPU-throttled in ${throttling.throttledPeriods} scheduler periods${share}, ${(throttling.throttledUs / 1e6).toFixed(3)} s in total (cgroup ${throttling.cgroupPath} cpu.stat)`;
}
