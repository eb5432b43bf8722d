import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User and system CPU seconds a process has used, all threads (proc(5), fields 14 and 15 of stat). */
export function cpuTimes(pid: number): { userS: number; systemS: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { userS: Number(fields[11]) / CLOCK_TICKS_PER_SECOND, systemS: Number(fields[12]) / CLOCK_TICKS_PER_SECOND };
}

/**
 * CPU seconds a process has run, all threads, to the nanosecond: the sum of the
 * first field of /proc/<pid>/task/<tid>/schedstat (time on CPU, see
 * Documentation/scheduler/sched-stats.rst). stat's user/system ticks are only
 * 10 ms apart, too coarse for tcpdump's few hundredths of a second.
 */
export function cpuSeconds(pid: number): number {
  let runNs = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      runNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return runNs / 1e9;
}

/** Resident set size in MiB (VmRSS of /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? NaN : Number(match[1]) / 1024;
}

/** Reads one sample value of a Prometheus text exposition. */
export function metricValue(exposition: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(exposition);
  return match === null ? NaN : Number(match[1]);
}
