import { isIPv4 } from 'node:net';
import { addressValue } from '../routes';
import type { IpOwner, IpOwnershipMap } from '../ip-map';
import { equalityMatches, selectorMatches } from './label-selector';
import type {
  ClusterChange,
  ClusterChangeType,
  ClusterView,
  ContainerRecord,
  NetworkPolicyRecord,
  NodeRecord,
  PodRecord,
  ServiceRecord,
} from './types';

/**
 * The cluster as the watcher last saw it, indexed for the questions attribution,
 * diagnosis and path-MTU targeting ask (ClusterView). Pod, node and service
 * addresses go into the shared, time-versioned IpOwnershipMap under the source
 * `kubernetes`, so a lookup for a past packet finds the pod that held the address
 * then; deleted pods stay answerable (podByUid, podByIp) for the same retention
 * window as the map's ended tenures.
 */
export interface ClusterStateOptions {
  ipMap: IpOwnershipMap;
  /** How long a deleted pod's record stays answerable (default 15 min, the ip map's default retention). */
  departedRetentionMs?: number;
  onChange?: (change: ClusterChange) => void;
  /**
   * This node's name: only its pods' container IDs are indexed (a process's cgroup
   * is always a local container; 300,000 remote IDs would cost ~15 MB of hash table
   * at cluster scope; the watcher does not even keep them, convert.ts podRecord);
   * others are found by a scan. Null: index every pod.
   */
  localNode?: string | null;
  /** Where `synced` and `stale` come from (the watcher); without it the state is synced and never stale. */
  status?: () => { synced: boolean; stale: boolean };
}

const SOURCE = 'kubernetes';
const DEFAULT_DEPARTED_RETENTION_MS = 15 * 60_000;
const CONTAINER_MISS_TTL_MS = 10_000;
const CONTAINER_MISS_LIMIT = 1_024;

interface CidrIndex {
  family: 4 | 6;
  prefixBits: number;
  /** network value (as a decimal string of the masked address) → node name */
  networks: Map<string, string>;
}

export class ClusterState implements ClusterView {
  private readonly ipMap: IpOwnershipMap;
  private readonly departedRetentionMs: number;
  private readonly onChange: (change: ClusterChange) => void;
  private readonly status: () => { synced: boolean; stale: boolean };
  private readonly localNode: string | null;

  private readonly pods = new Map<string, PodRecord>();
  private readonly departed = new Map<string, { pod: PodRecord; goneAtMs: number }>();
  /** container ID → pod UID */
  private readonly containers = new Map<string, string>();
  /** IDs a scan did not find, and when: a process outside any known pod would otherwise cost a scan per reset. */
  private containerMisses = new Map<string, number>();
  private readonly podsByNode = new Map<string, Set<string>>();
  private readonly nodeRecords = new Map<string, NodeRecord>();
  private readonly nodesByAddress = new Map<string, string>();
  private cidrIndexes: CidrIndex[] = [];
  /** Rebuilt on the next nodeForPodIp, not per node event: an initial list of 5,000 nodes would be quadratic. */
  private cidrIndexesStale = false;
  private readonly services = new Map<string, ServiceRecord>();
  private readonly servicesByIp = new Map<string, string>();
  private readonly policies = new Map<string, Map<string, NetworkPolicyRecord>>();

  constructor(options: ClusterStateOptions) {
    this.ipMap = options.ipMap;
    this.departedRetentionMs = options.departedRetentionMs ?? DEFAULT_DEPARTED_RETENTION_MS;
    this.onChange = options.onChange ?? (() => {});
    this.status = options.status ?? (() => ({ synced: true, stale: false }));
    this.localNode = options.localNode ?? null;
  }

  get synced(): boolean {
    return this.status().synced;
  }

  get stale(): boolean {
    return this.status().stale;
  }

  get podCount(): number {
    return this.pods.size;
  }

  // ── ClusterView ────────────────────────────────────────────────────────────

  podByUid(uid: string): PodRecord | null {
    return this.pods.get(uid) ?? this.departed.get(uid)?.pod ?? null;
  }

  podByIp(ip: string, timeMs: number): PodRecord | null {
    const owner = this.ipMap.lookup(ip, timeMs);
    if (owner === null || owner.kind !== 'pod') return null;
    return this.podByUid(owner.key);
  }

  podByContainerId(containerId: string): { pod: PodRecord; container: ContainerRecord } | null {
    const uid = this.containers.get(containerId);
    if (uid !== undefined) {
      const pod = this.podByUid(uid);
      const container = pod?.containers.find((candidate) => candidate.containerId === containerId);
      return pod === null || container === undefined ? null : { pod, container };
    }
    if (this.localNode === null) return null;
    const nowMs = Date.now();
    const missedAtMs = this.containerMisses.get(containerId);
    if (missedAtMs !== undefined && nowMs - missedAtMs < CONTAINER_MISS_TTL_MS) return null;
    for (const pods of [this.pods.values(), [...this.departed.values()].map((entry) => entry.pod)]) {
      for (const pod of pods) {
        const container = pod.containers.find((candidate) => candidate.containerId === containerId);
        if (container !== undefined) return { pod, container };
      }
    }
    if (this.containerMisses.size >= CONTAINER_MISS_LIMIT) this.containerMisses = new Map();
    this.containerMisses.set(containerId, nowMs);
    return null;
  }

  node(name: string): NodeRecord | null {
    return this.nodeRecords.get(name) ?? null;
  }

  nodeByAddress(ip: string): NodeRecord | null {
    const name = this.nodesByAddress.get(ip);
    return name === undefined ? null : (this.nodeRecords.get(name) ?? null);
  }

  nodeForPodIp(ip: string): NodeRecord | null {
    const value = addressValue(ip);
    if (value === null) return null;
    if (this.cidrIndexesStale) this.rebuildCidrIndexes();
    const family = isIPv4(ip) ? 4 : 6;
    const width = family === 4 ? 32 : 128;
    // Longest prefix first (the indexes are sorted so).
    for (const index of this.cidrIndexes) {
      if (index.family !== family) continue;
      const shift = BigInt(width - index.prefixBits);
      const name = index.networks.get(((value >> shift) << shift).toString());
      if (name !== undefined) return this.nodeRecords.get(name) ?? null;
    }
    return null;
  }

  serviceByIp(ip: string): ServiceRecord | null {
    const key = this.servicesByIp.get(ip);
    return key === undefined ? null : (this.services.get(key) ?? null);
  }

  servicesSelecting(pod: PodRecord): ServiceRecord[] {
    const selecting: ServiceRecord[] = [];
    for (const service of this.services.values()) {
      if (service.namespace === pod.namespace && service.selector !== null && equalityMatches(service.selector, pod.labels)) selecting.push(service);
    }
    return selecting;
  }

  policiesSelecting(pod: PodRecord): NetworkPolicyRecord[] {
    const inNamespace = this.policies.get(pod.namespace);
    if (inNamespace === undefined) return [];
    return [...inNamespace.values()].filter((policy) => selectorMatches(policy.podSelector, pod.labels));
  }

  podsMatching(selector: Record<string, string>): PodRecord[] {
    const matching: PodRecord[] = [];
    for (const pod of this.pods.values()) if (equalityMatches(selector, pod.labels)) matching.push(pod);
    return matching;
  }

  podsOnNode(nodeName: string): PodRecord[] {
    const uids = this.podsByNode.get(nodeName);
    if (uids === undefined) return [];
    const pods: PodRecord[] = [];
    for (const uid of uids) {
      const pod = this.pods.get(uid);
      if (pod !== undefined) pods.push(pod);
    }
    return pods;
  }

  nodes(): NodeRecord[] {
    return [...this.nodeRecords.values()];
  }

  // ── updates from the watcher ──────────────────────────────────────────────

  /**
   * One watch event. `atMs` is when it arrived. A pod's addresses are claimed from
   * the moment it got them: status.startTime (else creation) when we first see it
   * with addresses, the event's arrival when an address changes.
   */
  applyPod(type: ClusterChangeType, pod: PodRecord, atMs: number): void {
    const previous = this.pods.get(pod.uid) ?? null;
    const before = previous === null ? [] : claimablePodIps(previous);
    const after = type === 'DELETED' ? [] : claimablePodIps(pod);
    for (const ip of before) if (!after.includes(ip)) this.ipMap.release(ip, pod.uid, atMs, SOURCE);
    if (after.length > 0) {
      const owner: IpOwner = { kind: 'pod', key: pod.uid, pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid }, node: pod.nodeName, service: null };
      const firstMs = before.length === 0 ? Math.min(atMs, pod.startedAtMs ?? pod.createdAtMs ?? atMs) : atMs;
      const moved = previous !== null && previous.nodeName !== pod.nodeName;
      for (const ip of after) if (moved || !before.includes(ip)) this.ipMap.claim(ip, owner, firstMs || atMs, SOURCE);
    }

    if (previous !== null) this.unindexPod(previous);
    if (type === 'DELETED') {
      this.pods.delete(pod.uid);
      const last = previous ?? pod;
      this.departed.set(pod.uid, { pod: last, goneAtMs: atMs });
      this.indexContainers(last);
      this.onChange({ kind: 'pod', type, record: last });
      return;
    }
    this.departed.delete(pod.uid);
    this.pods.set(pod.uid, pod);
    this.indexPod(pod);
    this.onChange({ kind: 'pod', type: previous === null ? 'ADDED' : type === 'ADDED' ? 'MODIFIED' : type, record: pod });
  }

  /**
   * A full list replaces what we knew (first sync, re-list after 410 or an
   * outage): pods that vanished meanwhile are deleted as of `atMs`, unchanged ones
   * emit nothing, and no address stays claimed by a pod the list no longer has.
   */
  replacePods(pods: PodRecord[], atMs: number): void {
    const present = new Set<string>();
    for (const pod of pods) {
      present.add(pod.uid);
      const previous = this.pods.get(pod.uid);
      if (previous !== undefined && sameVersion(previous.resourceVersion, pod.resourceVersion)) continue;
      this.applyPod(previous === undefined ? 'ADDED' : 'MODIFIED', pod, atMs);
    }
    for (const [uid, pod] of [...this.pods]) if (!present.has(uid)) this.applyPod('DELETED', pod, atMs);
    this.ipMap.releaseAllExcept(
      SOURCE,
      (ip, ownerKey) => ownerKey.startsWith('node/') || ownerKey.startsWith('service/') || (this.pods.has(ownerKey) && claimablePodIps(this.pods.get(ownerKey)!).includes(ip)),
      atMs,
    );
  }

  applyNode(type: ClusterChangeType, node: NodeRecord, atMs: number): void {
    const previous = this.nodeRecords.get(node.name) ?? null;
    const key = `node/${node.name}`;
    const before = previous?.addresses ?? [];
    const after = type === 'DELETED' ? [] : node.addresses;
    for (const ip of before) {
      if (after.includes(ip)) continue;
      this.ipMap.release(ip, key, atMs, SOURCE);
      if (this.nodesByAddress.get(ip) === node.name) this.nodesByAddress.delete(ip);
    }
    const owner: IpOwner = { kind: 'node', key, pod: null, node: node.name, service: null };
    const firstMs = previous === null ? Math.min(atMs, node.createdAtMs ?? atMs) : atMs;
    for (const ip of after) {
      this.nodesByAddress.set(ip, node.name);
      if (!before.includes(ip)) this.ipMap.claim(ip, owner, firstMs, SOURCE);
    }
    if (type === 'DELETED') this.nodeRecords.delete(node.name);
    else this.nodeRecords.set(node.name, node);
    if (previous === null || type === 'DELETED' || previous.podCidrs.join() !== node.podCidrs.join()) this.cidrIndexesStale = true;
    this.onChange({ kind: 'node', type: type === 'DELETED' ? type : previous === null ? 'ADDED' : 'MODIFIED', record: type === 'DELETED' ? (previous ?? node) : node });
  }

  replaceNodes(nodes: NodeRecord[], atMs: number): void {
    this.replaceAll(nodes, this.nodeRecords, (node) => node.name, (type, node) => this.applyNode(type, node, atMs));
  }

  applyService(type: ClusterChangeType, service: ServiceRecord, atMs: number): void {
    const id = `${service.namespace}/${service.name}`;
    const key = `service/${id}`;
    const previous = this.services.get(id) ?? null;
    const before = previous?.clusterIps ?? [];
    const after = type === 'DELETED' ? [] : service.clusterIps;
    for (const ip of before) {
      if (after.includes(ip)) continue;
      this.ipMap.release(ip, key, atMs, SOURCE);
      if (this.servicesByIp.get(ip) === id) this.servicesByIp.delete(ip);
    }
    const owner: IpOwner = { kind: 'service', key, pod: null, node: null, service: { namespace: service.namespace, name: service.name } };
    const firstMs = previous === null ? Math.min(atMs, service.createdAtMs ?? atMs) : atMs;
    for (const ip of after) {
      this.servicesByIp.set(ip, id);
      if (!before.includes(ip)) this.ipMap.claim(ip, owner, firstMs, SOURCE);
    }
    if (type === 'DELETED') this.services.delete(id);
    else this.services.set(id, service);
    this.onChange({ kind: 'service', type: type === 'DELETED' ? type : previous === null ? 'ADDED' : 'MODIFIED', record: type === 'DELETED' ? (previous ?? service) : service });
  }

  replaceServices(services: ServiceRecord[], atMs: number): void {
    this.replaceAll(services, this.services, (service) => `${service.namespace}/${service.name}`, (type, service) => this.applyService(type, service, atMs));
  }

  applyPolicy(type: ClusterChangeType, policy: NetworkPolicyRecord): void {
    let inNamespace = this.policies.get(policy.namespace);
    const previous = inNamespace?.get(policy.name) ?? null;
    if (type === 'DELETED') {
      inNamespace?.delete(policy.name);
      if (inNamespace?.size === 0) this.policies.delete(policy.namespace);
    } else {
      if (inNamespace === undefined) this.policies.set(policy.namespace, (inNamespace = new Map()));
      inNamespace.set(policy.name, policy);
    }
    this.onChange({ kind: 'networkpolicy', type: type === 'DELETED' ? type : previous === null ? 'ADDED' : 'MODIFIED', record: type === 'DELETED' ? (previous ?? policy) : policy });
  }

  replacePolicies(policies: NetworkPolicyRecord[]): void {
    const known = new Map<string, NetworkPolicyRecord>();
    for (const inNamespace of this.policies.values()) for (const policy of inNamespace.values()) known.set(`${policy.namespace}/${policy.name}`, policy);
    this.replaceAll(policies, known, (policy) => `${policy.namespace}/${policy.name}`, (type, policy) => this.applyPolicy(type, policy));
  }

  /** Forgets deleted pods whose addresses the ip map no longer answers for. */
  prune(nowMs: number): void {
    for (const [uid, { pod, goneAtMs }] of this.departed) {
      if (nowMs - goneAtMs <= this.departedRetentionMs) continue;
      this.departed.delete(uid);
      for (const container of pod.containers) {
        if (container.containerId !== null && this.containers.get(container.containerId) === uid) this.containers.delete(container.containerId);
      }
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────

  private replaceAll<R extends { resourceVersion?: string | null }>(
    records: R[],
    known: ReadonlyMap<string, R>,
    keyOf: (record: R) => string,
    apply: (type: ClusterChangeType, record: R) => void,
  ): void {
    const present = new Set<string>();
    for (const record of records) {
      const key = keyOf(record);
      present.add(key);
      const previous = known.get(key);
      if (previous !== undefined && sameVersion(previous.resourceVersion, record.resourceVersion)) continue;
      apply(previous === undefined ? 'ADDED' : 'MODIFIED', record);
    }
    for (const [key, record] of [...known]) if (!present.has(key)) apply('DELETED', record);
  }

  private indexPod(pod: PodRecord): void {
    this.indexContainers(pod);
    if (pod.nodeName === null) return;
    let onNode = this.podsByNode.get(pod.nodeName);
    if (onNode === undefined) this.podsByNode.set(pod.nodeName, (onNode = new Set()));
    onNode.add(pod.uid);
  }

  private indexContainers(pod: PodRecord): void {
    if (this.localNode !== null && pod.nodeName !== this.localNode) return;
    for (const container of pod.containers) if (container.containerId !== null) this.containers.set(container.containerId, pod.uid);
  }

  private unindexPod(pod: PodRecord): void {
    for (const container of pod.containers) {
      if (container.containerId !== null && this.containers.get(container.containerId) === pod.uid) this.containers.delete(container.containerId);
    }
    if (pod.nodeName === null) return;
    const onNode = this.podsByNode.get(pod.nodeName);
    onNode?.delete(pod.uid);
    if (onNode?.size === 0) this.podsByNode.delete(pod.nodeName);
  }

  private rebuildCidrIndexes(): void {
    const byShape = new Map<string, CidrIndex>();
    for (const node of this.nodeRecords.values()) {
      for (const cidr of node.podCidrs) {
        const slash = cidr.indexOf('/');
        const base = slash < 0 ? cidr : cidr.slice(0, slash);
        const value = addressValue(base);
        if (value === null) continue;
        const family: 4 | 6 = isIPv4(base) ? 4 : 6;
        const width = family === 4 ? 32 : 128;
        const prefixBits = slash < 0 ? width : Number(cidr.slice(slash + 1));
        if (!Number.isInteger(prefixBits) || prefixBits < 0 || prefixBits > width) continue;
        const shape = `${family}/${prefixBits}`;
        let index = byShape.get(shape);
        if (index === undefined) byShape.set(shape, (index = { family, prefixBits, networks: new Map() }));
        const shift = BigInt(width - prefixBits);
        index.networks.set(((value >> shift) << shift).toString(), node.name);
      }
    }
    this.cidrIndexes = [...byShape.values()].sort((a, b) => b.prefixBits - a.prefixBits);
    this.cidrIndexesStale = false;
  }
}

/**
 * Addresses a pod holds in the map: none for host-network pods (the address is the
 * node's) or pods that finished (Succeeded/Failed release their sandbox, and the
 * IP goes back to IPAM while the object may linger for days).
 */
function claimablePodIps(pod: PodRecord): readonly string[] {
  if (pod.hostNetwork || pod.phase === 'Succeeded' || pod.phase === 'Failed') return [];
  return pod.ips;
}

function sameVersion(a: string | null | undefined, b: string | null | undefined): boolean {
  return a !== null && a !== undefined && a === b;
}
