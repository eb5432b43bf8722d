import type { ContainerRecord, PodRecord } from '../attribution/kubernetes/types';
import type { FlowView } from '../flows/flow-table';
import { podText } from './facts';

/**
 * Failure mode 1 (upstream crashing or restarting): a reset from a pod whose
 * container restarted around the time of the reset, or on a connection older than
 * the container's current run (the process that had the socket is gone), and a
 * reset from an address that a newer pod now holds (IP reuse).
 */
export interface RestartFinding {
  kind: 'container-restart' | 'ip-reuse';
  evidence: string[];
  advice: string;
}

/** A restart this close to the reset (either side) explains it. */
export const RESTART_WINDOW_MS = 2 * 60_000;

export function findRestart(pod: PodRecord | null, container: ContainerRecord | null, flow: FlowView | null, resetMs: number): RestartFinding | null {
  if (pod === null) return null;
  const flowStartMs = flow === null ? null : Math.min(...flow.flow.sides.map((side) => side.firstSeenMs));
  if (flowStartMs !== null && pod.createdAtMs > flowStartMs) {
    return {
      kind: 'ip-reuse',
      evidence: [
        `the address now belongs to ${podText(pod)}, created ${formatSeconds(pod.createdAtMs - flowStartMs)} after this connection opened: the pod that had the connection is gone`,
      ],
      advice: `The connection outlived the pod that owned it (${podText(pod)} took over its address). Drain connections before pods stop (preStop hook, terminationGracePeriodSeconds) and let clients retry idempotent requests on reset.`,
    };
  }
  const candidates = (container === null ? pod.containers : [container]).filter((entry) => entry.restartCount > 0 && entry.startedAtMs !== null);
  const restarted = candidates.find(
    (entry) => Math.abs(resetMs - entry.startedAtMs!) <= RESTART_WINDOW_MS || (flowStartMs !== null && entry.startedAtMs! > flowStartMs),
  );
  if (restarted === undefined) return null;
  return { kind: 'container-restart', evidence: describeRestart(pod, restarted, resetMs), advice: restartAdvice(pod, restarted) };
}

export function describeRestart(pod: PodRecord, container: ContainerRecord, resetMs: number): string[] {
  const evidence: string[] = [];
  const startedAtMs = container.startedAtMs!;
  const when = resetMs >= startedAtMs ? `${formatSeconds(resetMs - startedAtMs)} before the RST` : `${formatSeconds(startedAtMs - resetMs)} after the RST`;
  evidence.push(`container ${container.name} of ${podText(pod)} has restarted ${container.restartCount} time${container.restartCount === 1 ? '' : 's'}; its current run started ${when}`);
  const last = container.lastTermination;
  if (last !== null) {
    const at = last.finishedAtMs === null ? '' : ` at ${new Date(last.finishedAtMs).toISOString()}`;
    evidence.push(`its previous run ended${at}: reason ${last.reason ?? 'unknown'}, exit code ${last.exitCode}`);
  }
  evidence.push(container.memoryLimitBytes === null ? 'it has no memory limit' : `its memory limit is ${formatBytes(container.memoryLimitBytes)}`);
  return evidence;
}

function restartAdvice(pod: PodRecord, container: ContainerRecord): string {
  const reason = container.lastTermination?.reason ?? null;
  if (reason === 'OOMKilled') {
    const limit = container.memoryLimitBytes === null ? 'its memory limit' : `its memory limit (${formatBytes(container.memoryLimitBytes)})`;
    return `Container ${container.name} of ${podText(pod)} was OOMKilled and restarted, dropping its connections: raise ${limit} or fix the memory growth, and drain connections on shutdown.`;
  }
  return `Container ${container.name} of ${podText(pod)} restarted${reason === null ? '' : ` (${reason})`}, dropping its connections: find why in \`kubectl logs --previous -c ${container.name}\`, and drain connections on shutdown (preStop hook) so clients are not reset.`;
}

export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
