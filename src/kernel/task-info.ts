/**
 * Fills in what a trace line may lack about the task that ran a process-context
 * event: the kernel prints `<...>` until its comm cache has the task (it is filled
 * at the next sched_switch, after a live trace_pipe reader saw the line), and the
 * tgid column only exists with option record-tgid. /proc/<tid>/status has both
 * (proc(5)); thread ids resolve there even though `ls /proc` does not list them.
 * Pids are those of the tracing kernel's initial pid namespace: run with hostPID.
 */
import { readFileSync } from 'node:fs';
import type { KernelEventProcess } from './trace-line';

export type ProcStatusReader = (tid: number) => string | undefined;

/** Reads /proc/<tid>/status synchronously: a procfs read, served from memory. */
export const readProcStatus: ProcStatusReader = (tid) => {
  try {
    return readFileSync(`/proc/${tid}/status`, 'utf8');
  } catch {
    return undefined;
  }
};

/** Returns `process` completed from /proc when its comm is unknown; unchanged when the task is gone. */
export function completeProcess(process: KernelEventProcess, readStatus: ProcStatusReader = readProcStatus): KernelEventProcess {
  if (process.comm !== null && process.pid !== process.tid) return process;
  const status = readStatus(process.tid);
  if (status === undefined) return process;
  const name = /^Name:\t(.*)$/m.exec(status)?.[1];
  const tgid = Number(/^Tgid:\t(\d+)$/m.exec(status)?.[1]);
  return {
    pid: Number.isSafeInteger(tgid) && tgid > 0 ? tgid : process.pid,
    tid: process.tid,
    comm: process.comm ?? (name !== undefined && name !== '' ? name : null),
  };
}
