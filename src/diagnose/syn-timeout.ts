import { socketText } from '../flows/flow-key';
import type { ResetCause, SentBy } from '../protocol/finding';
import { podText, type DiagnosisFacts } from './facts';
import { describeIngress, judgeIngress } from './network-policy';
import type { UnansweredSyn } from './syn-watch';

export interface SynTimeoutVerdict {
  sentBy: SentBy;
  cause: ResetCause;
  evidence: string[];
  advice: string;
}

/**
 * The verdict on SYNs that got no answer. Nothing was sent, so `sentBy` is
 * `unknown`; the cause is `middlebox` when a NetworkPolicy selecting the server
 * pod does not admit the client (CNIs drop denied packets silently), else
 * `unknown`. `facts.sender` is the server (the side that stayed silent, in the
 * position a RST's sender would have), `facts.receiver` the client.
 */
export function judgeSynTimeout(syn: UnansweredSyn, facts: DiagnosisFacts, nowMs: number): SynTimeoutVerdict {
  const server = socketText(syn.server);
  const client = socketText(syn.client);
  const waitedS = ((nowMs - syn.firstMs) / 1000).toFixed(1);
  const evidence = [
    `${syn.attempts} SYNs from ${client} to ${server} over ${waitedS} s got no answer (no SYN-ACK, no RST): dropped silently on the path or at the destination`,
    `ttl is that of the last unanswered SYN (${syn.ttl})`,
  ];
  const pod = facts.sender.pod;
  let cause: ResetCause = 'unknown';
  let advice = `Something drops connection attempts to ${server} without answering: check NetworkPolicies selecting the destination (CNIs drop denied traffic), host firewalls and security groups on the path, and that the destination is up and routes back to ${client}.`;
  if (pod !== null) {
    const judgement = judgeIngress(pod, facts.sender.policies, { ip: syn.client.ip, pod: facts.receiver.pod }, syn.server.port);
    const peerText = facts.receiver.pod === null ? client : `${podText(facts.receiver.pod)} (${client})`;
    evidence.push(...describeIngress(judgement, podText(pod), peerText, syn.server.port));
    if (judgement.admission === 'denies') {
      cause = 'middlebox';
      const names = judgement.policies.map(({ policy }) => `${policy.namespace}/${policy.name}`).join(', ');
      advice = `NetworkPolicy ${names} selects ${podText(pod)} and admits no ingress from ${peerText} on port ${syn.server.port}, so its SYNs are dropped: add an ingress rule (podSelector/namespaceSelector and port) if this traffic is wanted.`;
    }
  }
  return { sentBy: 'unknown', cause, evidence, advice };
}
