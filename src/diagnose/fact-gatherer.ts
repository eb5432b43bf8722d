import { readFileSync } from 'node:fs';
import { parseProcCgroup } from '../attribution/cgroup';
import type { ClusterView, ContainerRecord } from '../attribution/kubernetes/types';
import { readCpuThrottling, type CpuThrottling } from './cpu-throttling';
import { NO_PARTY_FACTS, type DiagnosisFacts, type PartyFacts, type ProcessFacts } from './facts';
import { ListeningSocketReader, type ListeningPorts } from './listening-sockets';
import type { KernelResetRecord } from './kernel-join';
import type { SocketAddress } from '../flows/flow-key';

/**
 * Where the facts about a reset's parties come from. Every source is optional:
 * without Kubernetes there are no pod records, without CNI no namespace paths,
 * and the verdict says what it could establish with what there was.
 */
export interface DiagnosisSources {
  cluster?: () => ClusterView | null;
  /** The network namespace path of the pod holding `ip` (from the CNI cache), when known. */
  netnsOf?: (ip: string, timeMs: number) => string | null;
  listening?: (netnsPath: string) => ListeningPorts | null;
  /** Whether the process still runs (not gone, not a zombie). */
  processAlive?: (pid: number) => boolean;
  /** The runtime container ID of a process (from its cgroup), when in a container. */
  containerIdOf?: (pid: number) => string | null;
  cpuThrottling?: (pid: number) => CpuThrottling | null;
}

export interface FactRequest {
  timeMs: number;
  src: SocketAddress;
  dst: SocketAddress;
  kernelEvent: KernelResetRecord | null;
  /** Read the listening sockets of the sender (only for a refused SYN: a /proc scan). */
  wantListening: boolean;
}

export class FactGatherer {
  constructor(private readonly sources: DiagnosisSources) {}

  gather(request: FactRequest): DiagnosisFacts {
    const cluster = this.sources.cluster?.() ?? null;
    const sender = this.party(cluster, request.src.ip, request.timeMs, request.wantListening);
    const receiver = this.party(cluster, request.dst.ip, request.timeMs, false);
    const kernelProcess = request.kernelEvent?.process ?? null;
    let process: ProcessFacts | null = null;
    if (kernelProcess !== null) {
      const container = this.containerOf(cluster, kernelProcess.pid, sender);
      const alive = this.sources.processAlive?.(kernelProcess.pid) ?? true;
      process = {
        pid: kernelProcess.pid,
        comm: kernelProcess.comm,
        alive,
        container,
        cpu: alive ? (this.sources.cpuThrottling?.(kernelProcess.pid) ?? null) : null,
      };
    }
    return { sender, receiver, process };
  }

  private party(cluster: ClusterView | null, ip: string, timeMs: number, wantListening: boolean): PartyFacts {
    const pod = cluster?.podByIp(ip, timeMs) ?? null;
    let listening: ListeningPorts | null = null;
    if (wantListening) {
      const netnsPath = this.sources.netnsOf?.(ip, timeMs) ?? null;
      if (netnsPath !== null) listening = this.sources.listening?.(netnsPath) ?? null;
    }
    if (pod === null && listening === null) return NO_PARTY_FACTS;
    return {
      pod,
      services: pod === null || cluster === null ? [] : cluster.servicesSelecting(pod),
      policies: pod === null || cluster === null ? [] : cluster.policiesSelecting(pod),
      listening,
    };
  }

  private containerOf(cluster: ClusterView | null, pid: number, sender: PartyFacts): ContainerRecord | null {
    const containerId = this.sources.containerIdOf?.(pid) ?? null;
    if (containerId === null || cluster === null) return null;
    const found = cluster.podByContainerId(containerId);
    if (found === null) return null;
    // The process may belong to another pod sharing the host network; only the sender's own pod counts.
    if (sender.pod !== null && found.pod.uid !== sender.pod.uid) return null;
    return found.container;
  }
}

/** The sources of this host: /proc, cgroup v2, the pod's namespace. */
export function hostSources(options: { cluster?: () => ClusterView | null; netnsOf?: (ip: string, timeMs: number) => string | null } = {}): DiagnosisSources {
  const listening = new ListeningSocketReader();
  return {
    cluster: options.cluster,
    netnsOf: options.netnsOf,
    listening: (netnsPath) => listening.read(netnsPath),
    processAlive,
    containerIdOf: (pid) => {
      try {
        return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).containerId;
      } catch {
        return null;
      }
    },
    cpuThrottling: (pid) => readCpuThrottling(pid),
  };
}

/** /proc/<pid>/stat's state (proc(5)): Z (zombie) and X (dead) have exited; a missing entry too. */
export function processAlive(pid: number, procRoot = '/proc'): boolean {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== 'x';
  } catch {
    return false;
  }
}
