import type {
  ContainerPortRecord,
  ContainerRecord,
  ContainerTermination,
  LabelSelectorRecord,
  NetworkPolicyPeerRecord,
  NetworkPolicyRecord,
  NetworkPolicyRuleRecord,
  NodeRecord,
  PodRecord,
  ServicePortRecord,
  ServiceRecord,
} from './types';

/**
 * API object (parsed JSON, as the API server sends it) → compact record. Pure: no
 * I/O, no clock. Anything the API may leave out becomes null or empty; an object
 * without the identity we index by (uid, name) gives null so one bad object never
 * stops a sync.
 *
 * Field meanings follow the Kubernetes API reference (core/v1 Pod, Node, Service;
 * networking.k8s.io/v1 NetworkPolicy).
 */

type Json = Record<string, unknown>;

function object(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/** RFC 3339 timestamp → epoch ms; null when absent or unparsable. */
export function timeMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

function stringMap(value: unknown): Record<string, string> {
  const source = object(value);
  const result: Record<string, string> = {};
  if (source === null) return result;
  for (const [key, entry] of Object.entries(source)) if (typeof entry === 'string') result[intern(key)] = intern(entry);
  return result;
}

/*
 * Memory: a cluster-scope agent keeps 150,000 of these records (issue 3 target:
 * ≤ 250 MB RSS). Two habits halve a record's size:
 * - arrays built with push() keep V8's growth slack (17 slots for one element):
 *   every kept array is copied to its exact length;
 * - values repeated across pods (namespaces, node names, label keys and values,
 *   container and port names) are shared through one bounded intern table, and
 *   container IDs are copied out of the `containerd://…` string they were cut from
 *   (a slice would keep the whole parent alive).
 */
const INTERN_LIMIT = 200_000;
let interned = new Map<string, string>();

/** The one shared copy of a short, repeated string. */
export function intern(value: string): string {
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= INTERN_LIMIT) interned = new Map();
  interned.set(value, value);
  return value;
}

function exact<T>(list: T[]): T[] {
  return list.slice();
}

/*
 * Replicas of one workload carry identical label sets and container ports: they
 * share one frozen copy (records are read-only to every consumer).
 */
let sharedShapes = new Map<string, object>();

function shared<T extends object>(value: T): T {
  const key = JSON.stringify(value);
  const known = sharedShapes.get(key);
  if (known !== undefined) return known as T;
  if (sharedShapes.size >= INTERN_LIMIT) sharedShapes = new Map();
  sharedShapes.set(key, Object.freeze(value));
  return value;
}

function internedText(value: unknown): string | null {
  const found = text(value);
  return found === null ? null : intern(found);
}

function protocol(value: unknown): 'TCP' | 'UDP' | 'SCTP' {
  return value === 'UDP' || value === 'SCTP' ? value : 'TCP';
}

/** The metadata every record is keyed by. */
export function metadataOf(item: unknown): { name: string | null; namespace: string | null; uid: string | null; resourceVersion: string | null } {
  const metadata = object(object(item)?.metadata);
  return {
    name: text(metadata?.name),
    namespace: text(metadata?.namespace),
    uid: text(metadata?.uid),
    resourceVersion: text(metadata?.resourceVersion),
  };
}

const BINARY_SUFFIXES: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIXES: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * A resource.Quantity ("128Mi", "1G", "1.5Gi", "512e6", "1000m") as a number of
 * units, rounded up like the API does for byte quantities; null when malformed.
 * Grammar: k8s.io/apimachinery/pkg/api/resource/quantity.go.
 */
export function parseQuantity(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([KMGTPE]i)|([eE][+-]?\d+)|(m|k|M|G|T|P|E)?)$/.exec(value.trim());
  if (match === null) return null;
  const number = Number(match[1]);
  if (match[2] !== undefined) return Math.ceil(number * BINARY_SUFFIXES[match[2]]);
  if (match[3] !== undefined) return Math.ceil(Number(`${match[1]}${match[3]}`));
  return Math.ceil(number * DECIMAL_SUFFIXES[match[4] ?? '']);
}

/** `containerd://0123…` → runtime and ID (the form /proc/<pid>/cgroup paths carry). */
export function splitContainerId(value: unknown): { runtime: string | null; containerId: string | null } {
  const id = text(value);
  if (id === null) return { runtime: null, containerId: null };
  const separator = id.indexOf('://');
  if (separator < 0) return { runtime: null, containerId: id };
  const bare = id.slice(separator + 3);
  return { runtime: intern(id.slice(0, separator)), containerId: bare === '' ? null : flatCopy(bare) };
}

/** The runtime of `containerd://0123…` alone, without copying the ID out. */
function runtimeOf(value: unknown): string | null {
  const id = text(value);
  const separator = id === null ? -1 : id.indexOf('://');
  return separator < 0 ? null : intern(id!.slice(0, separator));
}

/**
 * Proxies injected as ordinary containers (Istio's and Linkerd's classic injection)
 * are sidecars too, for failure mode 3 (DESIGN.md), not only native sidecars
 * (init containers with restartPolicy Always, KEP-753).
 */
const SIDECAR_CONTAINER_NAMES = new Set(['istio-proxy', 'linkerd-proxy', 'envoy', 'envoy-sidecar', 'cilium-envoy']);

function termination(lastState: unknown): ContainerTermination | null {
  const terminated = object(object(lastState)?.terminated);
  if (terminated === null) return null;
  return {
    reason: internedText(terminated.reason),
    exitCode: integer(terminated.exitCode) ?? 0,
    finishedAtMs: timeMs(terminated.finishedAt),
  };
}

function containerRecord(spec: Json, status: Json | null, nativeSidecar: boolean, local: boolean): ContainerRecord | null {
  const name = text(spec.name);
  if (name === null) return null;
  const ports: ContainerPortRecord[] = [];
  for (const entry of array(spec.ports)) {
    const port = object(entry);
    const containerPort = integer(port?.containerPort);
    if (port === null || containerPort === null) continue;
    ports.push({ name: internedText(port.name), containerPort, protocol: protocol(port.protocol) });
  }
  const { runtime, containerId } = local ? splitContainerId(status?.containerID) : { runtime: runtimeOf(status?.containerID), containerId: null };
  const limits = object(object(spec.resources)?.limits);
  const restartCount = integer(status?.restartCount) ?? 0;
  const lastTermination = termination(status?.lastState);
  const record: ContainerRecord = {
    name: intern(name),
    containerId,
    runtime,
    ports: shared(exact(ports)),
    restartCount,
    ready: status?.ready === true,
    startedAtMs: timeMs(object(object(status?.state)?.running)?.startedAt),
    lastTermination,
    memoryLimitBytes: limits === null ? null : parseQuantity(limits.memory),
    sidecar: nativeSidecar || SIDECAR_CONTAINER_NAMES.has(name),
  };
  if (local || restartCount > 0 || lastTermination !== null) return record;
  // A remote container that never restarted: its start time explains no reset (restart
  // diagnosis needs a restart), and without it the replicas of a workload share one record.
  record.startedAtMs = null;
  return shared(record);
}

function statusesByName(value: unknown): Map<string, Json> {
  const byName = new Map<string, Json>();
  for (const entry of array(value)) {
    const status = object(entry);
    const name = text(status?.name);
    if (status !== null && name !== null) byName.set(name, status);
  }
  return byName;
}

/**
 * A core/v1 Pod. Only init containers that keep running (native sidecars) are kept; one-shot init containers hold no sockets.
 * With `localNode`, container IDs are kept only for pods on that node: an ID names
 * the cgroup of a process on this host (podByContainerId), never one elsewhere, and
 * two 64-hex IDs per remote pod were ~20 % of a cluster-scope map (issue 3); remote
 * containers that never restarted drop their start time too and are shared between
 * replicas. Undefined: every pod keeps everything.
 */
export function podRecord(item: unknown, localNode?: string): PodRecord | null {
  const pod = object(item);
  const { name, namespace, uid, resourceVersion } = metadataOf(item);
  if (pod === null || name === null || uid === null) return null;
  const metadata = object(pod.metadata)!;
  const spec = object(pod.spec) ?? {};
  const status = object(pod.status) ?? {};

  const ips: string[] = [];
  for (const entry of array(status.podIPs)) {
    const ip = text(object(entry)?.ip);
    if (ip !== null && !ips.includes(ip)) ips.push(ip);
  }
  const podIp = text(status.podIP);
  if (podIp !== null && !ips.includes(podIp)) ips.unshift(podIp);

  const nodeName = internedText(spec.nodeName);
  const local = localNode === undefined || nodeName === localNode;

  const containers: ContainerRecord[] = [];
  const initStatuses = statusesByName(status.initContainerStatuses);
  for (const entry of array(spec.initContainers)) {
    const container = object(entry);
    if (container === null || container.restartPolicy !== 'Always') continue;
    const record = containerRecord(container, initStatuses.get(text(container.name) ?? '') ?? null, true, local);
    if (record !== null) containers.push(record);
  }
  const statuses = statusesByName(status.containerStatuses);
  for (const entry of array(spec.containers)) {
    const container = object(entry);
    if (container === null) continue;
    const record = containerRecord(container, statuses.get(text(container.name) ?? '') ?? null, false, local);
    if (record !== null) containers.push(record);
  }
  // Remote replicas that never restarted have equal container lists: one shared copy.
  const sharedContainers = !local && containers.every((container) => Object.isFrozen(container));

  return {
    uid,
    namespace: intern(namespace ?? 'default'),
    name,
    nodeName,
    ips: exact(ips),
    hostNetwork: spec.hostNetwork === true,
    labels: shared(stringMap(metadata.labels)),
    phase: internedText(status.phase),
    containers: sharedContainers ? shared(exact(containers)) : exact(containers),
    createdAtMs: timeMs(metadata.creationTimestamp) ?? 0,
    deletingAtMs: timeMs(metadata.deletionTimestamp),
    startedAtMs: timeMs(status.startTime),
    resourceVersion,
  };
}

/** A core/v1 Node: InternalIP and ExternalIP addresses (not Hostname), spec.podCIDRs. */
export function nodeRecord(item: unknown): NodeRecord | null {
  const node = object(item);
  const { name, resourceVersion } = metadataOf(item);
  if (node === null || name === null) return null;
  const spec = object(node.spec) ?? {};
  const status = object(node.status) ?? {};
  const addresses: string[] = [];
  for (const entry of array(status.addresses)) {
    const address = object(entry);
    const ip = text(address?.address);
    if (ip !== null && (address?.type === 'InternalIP' || address?.type === 'ExternalIP') && !addresses.includes(ip)) addresses.push(ip);
  }
  const podCidrs = array(spec.podCIDRs).map(text).filter((cidr): cidr is string => cidr !== null);
  const podCidr = text(spec.podCIDR);
  if (podCidr !== null && !podCidrs.includes(podCidr)) podCidrs.unshift(podCidr);
  return {
    name: intern(name),
    addresses: exact(addresses),
    podCidrs: exact(podCidrs),
    labels: stringMap(object(node.metadata)?.labels),
    createdAtMs: timeMs(object(node.metadata)?.creationTimestamp),
    resourceVersion,
  };
}

/** A core/v1 Service. `None` (headless) is not an address. */
export function serviceRecord(item: unknown): ServiceRecord | null {
  const service = object(item);
  const { name, namespace, uid, resourceVersion } = metadataOf(item);
  if (service === null || name === null) return null;
  const spec = object(service.spec) ?? {};
  const clusterIps: string[] = [];
  for (const ip of [spec.clusterIP, ...array(spec.clusterIPs)]) {
    const address = text(ip);
    if (address !== null && address !== 'None' && !clusterIps.includes(address)) clusterIps.push(address);
  }
  const ports: ServicePortRecord[] = [];
  for (const entry of array(spec.ports)) {
    const port = object(entry);
    const number = integer(port?.port);
    if (port === null || number === null) continue;
    const target = port.targetPort;
    // An absent targetPort defaults to the port itself (core/v1 ServicePort).
    const targetPort = typeof target === 'number' ? target : typeof target === 'string' && target !== '' ? (/^\d+$/.test(target) ? Number(target) : target) : number;
    ports.push({ name: text(port.name), port: number, protocol: protocol(port.protocol), targetPort });
  }
  const selector = object(spec.selector);
  return {
    namespace: intern(namespace ?? 'default'),
    name,
    uid: uid ?? `${namespace ?? 'default'}/${name}`,
    clusterIps: exact(clusterIps),
    ports: exact(ports),
    selector: selector === null || Object.keys(selector).length === 0 ? null : stringMap(selector),
    createdAtMs: timeMs(object(service.metadata)?.creationTimestamp),
    resourceVersion,
  };
}

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);

/** A meta/v1 LabelSelector; null input is null (the peer field was absent). */
export function labelSelectorRecord(value: unknown): LabelSelectorRecord | null {
  const selector = object(value);
  if (selector === null) return null;
  const matchExpressions: LabelSelectorRecord['matchExpressions'] = [];
  for (const entry of array(selector.matchExpressions)) {
    const expression = object(entry);
    const key = text(expression?.key);
    const operator = expression?.operator;
    if (key === null || typeof operator !== 'string' || !OPERATORS.has(operator)) continue;
    matchExpressions.push({
      key,
      operator: operator as LabelSelectorRecord['matchExpressions'][number]['operator'],
      values: array(expression?.values).filter((v): v is string => typeof v === 'string'),
    });
  }
  return { matchLabels: stringMap(selector.matchLabels), matchExpressions };
}

function ruleRecords(rules: unknown, peersField: 'from' | 'to'): NetworkPolicyRuleRecord[] {
  return array(rules).map((entry) => {
    const rule = object(entry) ?? {};
    const peers: NetworkPolicyPeerRecord[] = array(rule[peersField]).map((peerEntry) => {
      const peer = object(peerEntry) ?? {};
      const block = object(peer.ipBlock);
      const cidr = text(block?.cidr);
      return {
        podSelector: labelSelectorRecord(peer.podSelector),
        namespaceSelector: labelSelectorRecord(peer.namespaceSelector),
        ipBlock: cidr === null ? null : { cidr, except: array(block?.except).filter((e): e is string => typeof e === 'string') },
      };
    });
    const ports = array(rule.ports).map((portEntry) => {
      const port = object(portEntry) ?? {};
      const value = port.port;
      return {
        protocol: protocol(port.protocol),
        port: typeof value === 'number' || (typeof value === 'string' && value !== '') ? value : null,
        endPort: integer(port.endPort),
      };
    });
    return { peers, ports };
  });
}

/**
 * A networking.k8s.io/v1 NetworkPolicy. Without policyTypes the API implies
 * Ingress, plus Egress when egress rules exist (NetworkPolicySpec docs).
 */
export function networkPolicyRecord(item: unknown): NetworkPolicyRecord | null {
  const policy = object(item);
  const { name, namespace, resourceVersion } = metadataOf(item);
  if (policy === null || name === null) return null;
  const spec = object(policy.spec) ?? {};
  const declared = array(spec.policyTypes).filter((t): t is 'Ingress' | 'Egress' => t === 'Ingress' || t === 'Egress');
  const policyTypes: Array<'Ingress' | 'Egress'> = declared.length > 0 ? declared : array(spec.egress).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  return {
    namespace: namespace ?? 'default',
    name,
    podSelector: labelSelectorRecord(spec.podSelector) ?? { matchLabels: {}, matchExpressions: [] },
    policyTypes,
    ingress: ruleRecords(spec.ingress, 'from'),
    egress: ruleRecords(spec.egress, 'to'),
    resourceVersion,
  };
}

/**
 * A fresh flat copy of a string cut from a longer one. JSON.parse allocates on the
 * V8 heap; Buffer.from(...).toString() would churn the off-heap buffer pool, which
 * the allocator keeps as RSS.
 */
function flatCopy(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}
