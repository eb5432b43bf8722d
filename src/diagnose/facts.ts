import type { ContainerRecord, NetworkPolicyRecord, PodRecord, ServiceRecord } from '../attribution/kubernetes/types';
import type { CpuThrottling } from './cpu-throttling';
import type { ListeningPorts } from './listening-sockets';

/**
 * Plain data about the parties of one reset, gathered (fact-gatherer.ts) from the
 * cluster view, /proc and cgroups before the verdict is made. The cause rules read
 * only these, so unit tests build them from the real record types and no I/O.
 */
export interface PartyFacts {
  /** The pod that held the address at the time of the reset. */
  pod: PodRecord | null;
  /** Services that select the pod. */
  services: ServiceRecord[];
  /** NetworkPolicies that select the pod. */
  policies: NetworkPolicyRecord[];
  /** What the pod's (or node's) network namespace listens on now; null when not readable. */
  listening: ListeningPorts | null;
}

export interface ProcessFacts {
  pid: number;
  comm: string | null;
  /** False when the process had exited by the time the verdict was made (no /proc/<pid>, or a zombie). */
  alive: boolean;
  /** The process's container, when the cluster view knows it. */
  container: ContainerRecord | null;
  /** Its cgroup's CPU throttling, when readable. */
  cpu: CpuThrottling | null;
}

export interface DiagnosisFacts {
  /** The RST's source (its claimed sender). */
  sender: PartyFacts;
  /** The RST's destination. */
  receiver: PartyFacts;
  /** The process the sender's kernel event names (process-context resets only). */
  process: ProcessFacts | null;
}

export const NO_PARTY_FACTS: PartyFacts = { pod: null, services: [], policies: [], listening: null };
export const NO_FACTS: DiagnosisFacts = { sender: NO_PARTY_FACTS, receiver: NO_PARTY_FACTS, process: null };

export function podText(pod: PodRecord): string {
  return `pod ${pod.namespace}/${pod.name}`;
}
