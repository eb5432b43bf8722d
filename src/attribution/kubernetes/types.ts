/**
 * The compact records rstprobe keeps of Kubernetes objects. The watcher
 * (kube-watcher.ts) turns API objects into these and drops the rest, so a
 * cluster-scope map of 150,000 pods stays small; attribution, diagnosis and
 * path-MTU target selection read only these.
 */

export interface ContainerPortRecord {
  name: string | null;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface ContainerTermination {
  reason: string | null;
  exitCode: number;
  /** Epoch ms, null when the API gave none. */
  finishedAtMs: number | null;
}

export interface ContainerRecord {
  name: string;
  /**
   * Runtime ID without the `containerd://` prefix; null before the container started,
   * and for pods on other nodes in a cluster-scope map (only a local process's cgroup
   * names a container).
   */
  containerId: string | null;
  /** `containerd`, `cri-o`, `docker`, … from the ID's prefix. */
  runtime: string | null;
  ports: ContainerPortRecord[];
  restartCount: number;
  ready: boolean;
  /**
   * Start of the current run (state.running.startedAt), epoch ms. Null for a container
   * of a pod on another node that never restarted (cluster scope: only a restart makes
   * the start time evidence, and those records are shared between replicas).
   */
  startedAtMs: number | null;
  /** The previous run's end (lastState.terminated): e.g. reason `OOMKilled`. */
  lastTermination: ContainerTermination | null;
  /** resources.limits.memory in bytes, null when unlimited. */
  memoryLimitBytes: number | null;
  /** An init container that keeps running (native sidecar) or a regular one. */
  sidecar: boolean;
}

export interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string | null;
  /** status.podIPs (both families). Empty until the pod has its network. */
  ips: string[];
  hostNetwork: boolean;
  labels: Record<string, string>;
  phase: string | null;
  containers: ContainerRecord[];
  /** metadata.creationTimestamp, epoch ms. */
  createdAtMs: number;
  /** metadata.deletionTimestamp, epoch ms, when the pod is terminating. */
  deletingAtMs: number | null;
  /** status.startTime (kubelet acknowledged the pod, shortly before it got its IP), epoch ms. */
  startedAtMs?: number | null;
  /** metadata.resourceVersion, to tell a re-listed pod that changed from one that did not. */
  resourceVersion?: string | null;
}

export interface NodeRecord {
  name: string;
  /** InternalIP and ExternalIP addresses. */
  addresses: string[];
  podCidrs: string[];
  labels: Record<string, string>;
  /** metadata.creationTimestamp, epoch ms. */
  createdAtMs?: number | null;
  resourceVersion?: string | null;
}

export interface ServicePortRecord {
  name: string | null;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  /** A number, or the name of a container port. */
  targetPort: number | string;
}

export interface ServiceRecord {
  namespace: string;
  name: string;
  uid: string;
  clusterIps: string[];
  ports: ServicePortRecord[];
  /** Null for services without a selector (manually managed endpoints). */
  selector: Record<string, string> | null;
  /** metadata.creationTimestamp, epoch ms. */
  createdAtMs?: number | null;
  resourceVersion?: string | null;
}

export interface LabelSelectorRecord {
  matchLabels: Record<string, string>;
  matchExpressions: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values: string[] }>;
}

export interface NetworkPolicyPeerRecord {
  podSelector: LabelSelectorRecord | null;
  namespaceSelector: LabelSelectorRecord | null;
  ipBlock: { cidr: string; except: string[] } | null;
}

export interface NetworkPolicyRuleRecord {
  /** Empty: every peer. */
  peers: NetworkPolicyPeerRecord[];
  /** Empty: every port. */
  ports: Array<{ protocol: 'TCP' | 'UDP' | 'SCTP'; port: number | string | null; endPort: number | null }>;
}

export interface NetworkPolicyRecord {
  namespace: string;
  name: string;
  podSelector: LabelSelectorRecord;
  policyTypes: Array<'Ingress' | 'Egress'>;
  ingress: NetworkPolicyRuleRecord[];
  egress: NetworkPolicyRuleRecord[];
  resourceVersion?: string | null;
}

/**
 * What the rest of rstprobe asks of the cluster. Implemented by the watcher's
 * state (cluster-state.ts); every answer is from the last good sync, and `stale`
 * says when the API server has not been reachable for a while.
 */
export interface ClusterView {
  readonly synced: boolean;
  readonly stale: boolean;
  podByUid(uid: string): PodRecord | null;
  /** The pod that held `ip` at `timeMs` (time-versioned: pod IPs are reused). */
  podByIp(ip: string, timeMs: number): PodRecord | null;
  /** The pod and container a runtime container ID belongs to (from a process's cgroup). */
  podByContainerId(containerId: string): { pod: PodRecord; container: ContainerRecord } | null;
  node(name: string): NodeRecord | null;
  nodeByAddress(ip: string): NodeRecord | null;
  /** The node whose podCIDR contains `ip`, for pod addresses not (or no longer) in the map. */
  nodeForPodIp(ip: string): NodeRecord | null;
  serviceByIp(ip: string): ServiceRecord | null;
  /** Services whose selector selects the pod. */
  servicesSelecting(pod: PodRecord): ServiceRecord[];
  /** NetworkPolicies of the pod's namespace whose podSelector selects it. */
  policiesSelecting(pod: PodRecord): NetworkPolicyRecord[];
  /** Pods whose labels match every key=value of `selector`. */
  podsMatching(selector: Record<string, string>): PodRecord[];
  podsOnNode(nodeName: string): PodRecord[];
  nodes(): NodeRecord[];
}

export type ClusterChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change the watcher applied (KubeWatcher 'change' event); `record` is the state after it, or the last known state for DELETED. */
export type ClusterChange =
  | { kind: 'pod'; type: ClusterChangeType; record: PodRecord }
  | { kind: 'node'; type: ClusterChangeType; record: NodeRecord }
  | { kind: 'service'; type: ClusterChangeType; record: ServiceRecord }
  | { kind: 'networkpolicy'; type: ClusterChangeType; record: NetworkPolicyRecord };
