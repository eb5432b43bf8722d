import { readFileSync } from 'node:fs';

/**
 * CPU throttling of a process's cgroup, from `cpu.stat`. cgroup v2
 * (Documentation/admin-guide/cgroup-v2.rst, "CPU Interface Files") has `nr_periods`,
 * `nr_throttled` and `throttled_usec` when the cpu controller is enabled for the
 * cgroup; cgroup v1's cpu controller (Documentation/scheduler/sched-bwc.rst) has
 * `nr_periods`, `nr_throttled` and `throttled_time` in ns. Nodes still run both.
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
  const throttledNs = values.get('throttled_time');
  const throttledUs = values.get('throttled_usec') ?? (throttledNs === undefined ? undefined : Math.round(throttledNs / 1000));
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

/** The cgroup v1 cpu controller's path (`N:cpu,cpuacct:/path`) and its mount directory name, or null. */
export function parseV1CpuCgroup(procCgroupText: string): { controllers: string; path: string } | null {
  for (const line of procCgroupText.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    if (controllers.split(',').includes('cpu')) return { controllers, path: line.slice(second + 1).trim() };
  }
  return null;
}

/**
 * Where the cgroup tree may be seen from here. `ip netns exec` (how the lab runs an
 * agent) and some container runtimes mount a fresh /sys without the cgroup
 * filesystems; the host's tree is still visible through init's root
 * (/proc/1/root, proc(5)) to a root agent that shares the host's pid namespace.
 */
const CGROUP_ROOTS = ['/sys/fs/cgroup', '/proc/1/root/sys/fs/cgroup'];

/** Reads the throttling of `pid`'s cgroup (v1 cpu controller, else v2); null when the process is gone or no counters exist. */
export function readCpuThrottling(pid: number, procRoot = '/proc', cgroupRoots: readonly string[] = CGROUP_ROOTS): CpuThrottling | null {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  for (const cgroupRoot of cgroupRoots) {
    const found = readUnder(text, cgroupRoot);
    if (found !== null) return found;
  }
  return null;
}

function readUnder(text: string, cgroupRoot: string): CpuThrottling | null {
  const v1 = parseV1CpuCgroup(text);
  if (v1 !== null) {
    // Mounted as cpu,cpuacct (with cpu and cpuacct symlinks) or as cpu alone.
    for (const dir of [v1.controllers, 'cpu']) {
      const stat = readCpuStat(`${cgroupRoot}/${dir}${v1.path === '/' ? '' : v1.path}/cpu.stat`, v1.path);
      if (stat !== null) return stat;
    }
  }
  const unified = parseUnifiedCgroupPath(text);
  if (unified === null) return null;
  return readCpuStat(`${cgroupRoot}${unified === '/' ? '' : unified}/cpu.stat`, unified) ?? readCpuStat(`${cgroupRoot}/unified${unified === '/' ? '' : unified}/cpu.stat`, unified);
}

function readCpuStat(file: string, cgroupPath: string): CpuThrottling | null {
  try {
    return parseCpuStat(readFileSync(file, 'utf8'), cgroupPath);
  } catch {
    return null;
  }
}

/** One evidence sentence with the numbers. */
export function describeThrottling(throttling: CpuThrottling, who: string): string {
  const share = throttling.periods > 0 ? ` (${((throttling.throttledPeriods / throttling.periods) * 100).toFixed(1)}% of ${throttling.periods} periods)` : '';
  return `${who} was CPU-throttled in ${throttling.throttledPeriods} scheduler periods${share}, ${(throttling.throttledUs / 1e6).toFixed(3)} s in total (cgroup ${throttling.cgroupPath} cpu.stat)`;
}
