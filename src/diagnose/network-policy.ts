import { selectorMatches } from '../attribution/kubernetes/label-selector';
import type { NetworkPolicyPeerRecord, NetworkPolicyRecord, NetworkPolicyRuleRecord, PodRecord } from '../attribution/kubernetes/types';
import { parseIpAddress } from '../decode/address';

/**
 * Whether the NetworkPolicies that select a pod admit a TCP connection from a peer,
 * with the semantics of networking.k8s.io/v1 (kubernetes.io/docs/concepts/services-networking/network-policies):
 * a pod selected by at least one policy with policyType Ingress accepts only what
 * some ingress rule of those policies allows; a rule allows a peer when any of its
 * `from` entries matches (none listed: every peer) and the port when any of its
 * `ports` matches (none listed: every port). A `podSelector` without a
 * `namespaceSelector` means pods of the policy's own namespace.
 *
 * Namespace labels are not watched: only `kubernetes.io/metadata.name` (set by the
 * API server on every namespace since 1.21) is known, so a namespaceSelector on any
 * other label makes the answer `unknown` rather than a guess.
 */
export type Admission = 'admits' | 'denies' | 'unknown';

export interface PolicyPeer {
  ip: string;
  /** The peer's pod when the address is a known pod. */
  pod: PodRecord | null;
}

export interface PolicyJudgement {
  policy: NetworkPolicyRecord;
  admission: Admission;
}

export interface IngressJudgement {
  /** Policies that select the pod for ingress. */
  policies: PolicyJudgement[];
  /** All of them together: a connection passes when any policy admits it. */
  admission: Admission;
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export function judgeIngress(target: PodRecord, policies: readonly NetworkPolicyRecord[], peer: PolicyPeer, port: number): IngressJudgement {
  const ingress = policies.filter((policy) => policy.policyTypes.includes('Ingress'));
  const judgements = ingress.map((policy) => ({ policy, admission: policyAdmits(policy, target, peer, port) }));
  let admission: Admission;
  if (judgements.length === 0) admission = 'admits';
  else if (judgements.some((judgement) => judgement.admission === 'admits')) admission = 'admits';
  else if (judgements.some((judgement) => judgement.admission === 'unknown')) admission = 'unknown';
  else admission = 'denies';
  return { policies: judgements, admission };
}

function policyAdmits(policy: NetworkPolicyRecord, target: PodRecord, peer: PolicyPeer, port: number): Admission {
  let result: Admission = 'denies';
  for (const rule of policy.ingress) {
    const ruleResult = ruleAdmits(rule, policy, target, peer, port);
    if (ruleResult === 'admits') return 'admits';
    if (ruleResult === 'unknown') result = 'unknown';
  }
  return result;
}

function ruleAdmits(rule: NetworkPolicyRuleRecord, policy: NetworkPolicyRecord, target: PodRecord, peer: PolicyPeer, port: number): Admission {
  if (!portAllowed(rule, target, port)) return 'denies';
  if (rule.peers.length === 0) return 'admits';
  let result: Admission = 'denies';
  for (const entry of rule.peers) {
    const match = peerMatches(entry, policy.namespace, peer);
    if (match === 'admits') return 'admits';
    if (match === 'unknown') result = 'unknown';
  }
  return result;
}

function portAllowed(rule: NetworkPolicyRuleRecord, target: PodRecord, port: number): boolean {
  if (rule.ports.length === 0) return true;
  return rule.ports.some((entry) => {
    if (entry.protocol !== 'TCP') return false;
    if (entry.port === null) return true;
    if (typeof entry.port === 'string') return namedPort(target, entry.port) === port;
    return entry.endPort === null ? entry.port === port : port >= entry.port && port <= entry.endPort;
  });
}

/** The number of a named container port of the pod (TCP), or null. */
export function namedPort(pod: PodRecord, name: string): number | null {
  for (const container of pod.containers) {
    for (const declared of container.ports) {
      if (declared.name === name && declared.protocol === 'TCP') return declared.containerPort;
    }
  }
  return null;
}

function peerMatches(entry: NetworkPolicyPeerRecord, policyNamespace: string, peer: PolicyPeer): Admission {
  if (entry.ipBlock !== null) {
    if (!cidrContains(entry.ipBlock.cidr, peer.ip)) return 'denies';
    return entry.ipBlock.except.some((cidr) => cidrContains(cidr, peer.ip)) ? 'denies' : 'admits';
  }
  if (peer.pod === null) return 'unknown'; // a selector peer, and the address is no pod we know
  if (entry.namespaceSelector === null) {
    if (peer.pod.namespace !== policyNamespace) return 'denies';
  } else {
    const namespaceMatch = namespaceSelectorMatches(entry.namespaceSelector, peer.pod.namespace);
    if (namespaceMatch !== 'admits') return namespaceMatch;
  }
  if (entry.podSelector === null) return 'admits';
  return selectorMatches(entry.podSelector, peer.pod.labels) ? 'admits' : 'denies';
}

function namespaceSelectorMatches(selector: NetworkPolicyPeerRecord['namespaceSelector'] & object, namespace: string): Admission {
  const keys = [...Object.keys(selector.matchLabels), ...selector.matchExpressions.map((expression) => expression.key)];
  if (keys.some((key) => key !== NAMESPACE_NAME_LABEL)) return 'unknown';
  return selectorMatches(selector, { [NAMESPACE_NAME_LABEL]: namespace }) ? 'admits' : 'denies';
}

/** `ip` lies inside `cidr` (both v4 or both v6); false for malformed input. */
export function cidrContains(cidr: string, ip: string): boolean {
  const slash = cidr.indexOf('/');
  const network = parseIpAddress(slash < 0 ? cidr : cidr.slice(0, slash));
  const address = parseIpAddress(ip);
  if (network === null || address === null || network.length !== address.length) return false;
  const bits = slash < 0 ? network.length * 8 : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > network.length * 8) return false;
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((network[bit >> 3] & mask) !== (address[bit >> 3] & mask)) return false;
  }
  return true;
}

/** One evidence sentence per selecting policy and the overall answer. */
export function describeIngress(judgement: IngressJudgement, podText: string, peerText: string, port: number): string[] {
  if (judgement.policies.length === 0) return [`no NetworkPolicy selects ${podText} for ingress`];
  const names = judgement.policies.map(({ policy, admission }) => `${policy.namespace}/${policy.name} (${admissionText(admission)})`);
  const overall =
    judgement.admission === 'admits'
      ? `they admit ${peerText} to port ${port}`
      : judgement.admission === 'denies'
        ? `none of them admits ${peerText} to port ${port}: the connection is denied by policy`
        : `whether they admit ${peerText} to port ${port} cannot be told (peer or namespace labels unknown)`;
  return [`NetworkPolicies selecting ${podText}: ${names.join(', ')}; ${overall}`];
}

function admissionText(admission: Admission): string {
  return admission === 'admits' ? 'admits it' : admission === 'denies' ? 'does not admit it' : 'cannot tell';
}
