import type {
  ClusterView,
  ContainerRecord,
  NetworkPolicyRecord,
  PodRecord,
  ServiceRecord,
} from '../../src/attribution/kubernetes/types';
import { selectorMatches, equalityMatches } from '../../src/attribution/kubernetes/label-selector';

/** Kubernetes records shaped like the watcher's output, for the diagnosis rules' unit tests. */
export function container(overrides: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    name: 'app',
    containerId: 'a'.repeat(64),
    runtime: 'containerd',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    restartCount: 0,
    ready: true,
    startedAtMs: 1_000,
    lastTermination: null,
    memoryLimitBytes: 128 * 1024 * 1024,
    sidecar: false,
    ...overrides,
  };
}

export function pod(overrides: Partial<PodRecord> = {}): PodRecord {
  return {
    uid: `uid-${overrides.name ?? 'reviews-0'}`,
    namespace: 'default',
    name: 'reviews-0',
    nodeName: 'node-b',
    ips: ['10.244.2.20'],
    hostNetwork: false,
    labels: { app: 'reviews' },
    phase: 'Running',
    containers: [container()],
    createdAtMs: 0,
    deletingAtMs: null,
    ...overrides,
  };
}

export function service(overrides: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    namespace: 'default',
    name: 'reviews',
    uid: 'svc-uid',
    clusterIps: ['10.96.0.10'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    selector: { app: 'reviews' },
    ...overrides,
  };
}

export function policy(overrides: Partial<NetworkPolicyRecord> = {}): NetworkPolicyRecord {
  return {
    namespace: 'default',
    name: 'reviews-ingress',
    podSelector: { matchLabels: { app: 'reviews' }, matchExpressions: [] },
    policyTypes: ['Ingress'],
    ingress: [],
    egress: [],
    ...overrides,
  };
}

/** A ClusterView over a fixed set of records, answering like the real cluster state. */
export function clusterOf(records: { pods?: PodRecord[]; services?: ServiceRecord[]; policies?: NetworkPolicyRecord[] }): ClusterView {
  const pods = records.pods ?? [];
  const services = records.services ?? [];
  const policies = records.policies ?? [];
  return {
    synced: true,
    stale: false,
    podByUid: (uid) => pods.find((entry) => entry.uid === uid) ?? null,
    podByIp: (ip) => pods.find((entry) => entry.ips.includes(ip)) ?? null,
    podByContainerId: (containerId) => {
      for (const entry of pods) {
        const found = entry.containers.find((candidate) => candidate.containerId === containerId);
        if (found !== undefined) return { pod: entry, container: found };
      }
      return null;
    },
    node: () => null,
    nodeByAddress: () => null,
    nodeForPodIp: () => null,
    serviceByIp: (ip) => services.find((entry) => entry.clusterIps.includes(ip)) ?? null,
    servicesSelecting: (target) =>
      services.filter((entry) => entry.namespace === target.namespace && entry.selector !== null && equalityMatches(entry.selector, target.labels)),
    policiesSelecting: (target) => policies.filter((entry) => entry.namespace === target.namespace && selectorMatches(entry.podSelector, target.labels)),
    podsMatching: (selector) => pods.filter((entry) => equalityMatches(selector, entry.labels)),
    podsOnNode: (nodeName) => pods.filter((entry) => entry.nodeName === nodeName),
    nodes: () => [],
  };
}
