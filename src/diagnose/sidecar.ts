import type { ContainerRecord, PodRecord } from '../attribution/kubernetes/types';
import { describeThrottling } from './cpu-throttling';
import { podText, type ProcessFacts } from './facts';

/**
 * Failure mode 3 (sidecar misconfigured or starved): the reset was sent by the
 * mesh's proxy rather than the app — Envoy (`envoy`), Istio's agent
 * (`pilot-agent`), or any process of the `istio-proxy` container.
 */
const SIDECAR_COMMS = new Set(['envoy', 'pilot-agent']);
const SIDECAR_CONTAINERS = new Set(['istio-proxy']);

export function isSidecar(process: ProcessFacts | null, container: ContainerRecord | null): boolean {
  if (process !== null && process.comm !== null && SIDECAR_COMMS.has(process.comm)) return true;
  const name = container?.name ?? process?.container?.name ?? null;
  return name !== null && SIDECAR_CONTAINERS.has(name);
}

export function describeSidecar(process: ProcessFacts | null, container: ContainerRecord | null, pod: PodRecord | null): { evidence: string[]; advice: string } {
  const evidence: string[] = [];
  const containerRecord = container ?? process?.container ?? null;
  const where = containerRecord === null ? '' : ` in container ${containerRecord.name}${pod === null ? '' : ` of ${podText(pod)}`}`;
  const who = process === null ? 'the sidecar proxy' : `the sidecar proxy process ${process.comm ?? '?'} (pid ${process.pid})`;
  evidence.push(`the reset was sent by ${who}${where}, not by the application`);
  if (containerRecord !== null) {
    const last = containerRecord.lastTermination;
    evidence.push(
      `the sidecar container has restarted ${containerRecord.restartCount} time${containerRecord.restartCount === 1 ? '' : 's'}${last === null ? '' : `; last termination: ${last.reason ?? 'unknown'}, exit code ${last.exitCode}`}`,
    );
  }
  const throttled = process?.cpu ?? null;
  if (throttled !== null) evidence.push(describeThrottling(throttled, 'the sidecar'));
  else evidence.push("the sidecar's CPU throttling could not be read (no cgroup cpu.stat with throttling counters)");
  const starved = throttled !== null && throttled.throttledPeriods > 0;
  const advice = starved
    ? `The sidecar proxy reset the connection and it is CPU-throttled (${throttled.throttledPeriods} periods): raise its CPU limit (e.g. sidecar.istio.io/proxyCPULimit) and check its logs (\`kubectl logs -c istio-proxy\`) for the reset reason.`
    : `The sidecar proxy, not the app, reset the connection: check its configuration (listener and cluster timeouts, idle_timeout, outlier detection) and its logs (\`kubectl logs -c istio-proxy\`, access log response flags such as UC/UF/URX), and its restarts.`;
  return { evidence, advice };
}
