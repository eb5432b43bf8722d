import { TcpFlag, type TcpInfo } from '../decode/types';
import type { FlowView } from '../flows/flow-table';
import { socketText, type SocketAddress } from '../flows/flow-key';
import type { ResetCause, SentBy } from '../protocol/finding';
import { adviceFor } from './advice';
import { NO_FACTS, podText, type DiagnosisFacts } from './facts';
import { describeIdle, describeRace, idleBeforeReset, keepaliveRace, type FlowDetail } from './idle';
import type { KernelResetRecord } from './kernel-join';
import { reasonMeaning } from './kernel-reasons';
import { describeIngress, judgeIngress } from './network-policy';
import { checkRefusedPort } from './port-check';
import { findRestart } from './restart';
import { judgeSender } from './sent-by';
import { describeSidecar, isSidecar } from './sidecar';

/** Everything known about one captured RST when its verdict is made. */
export interface ResetContext {
  timeMs: number;
  src: SocketAddress;
  dst: SocketAddress;
  tcp: TcpInfo;
  ttl: number;
  ipId: number | null;
  /** The RST came in from another host (not sent by this host). */
  arrived: boolean;
  /** The flow before the RST, when the capture saw it. */
  flow: FlowView | null;
  /** Which segments the capture records: every one, or SYN/FIN/RST only. */
  detail?: FlowDetail;
  /** The sender kernel's tcp_send_reset event for this RST, when one matched. */
  kernelEvent: KernelResetRecord | null;
  /** Kernel reset events are being read for this kernel. */
  kernelEventsActive: boolean;
  /** The claimed sender's address lives on this kernel (this node or one of its pods). */
  senderOnThisKernel: boolean;
  /** The claimed sender is reached through a router from here (not on a connected link). */
  senderBehindRouter: boolean | null;
  /** TTL the claimed sender's other packets arrive with. */
  expectedTtl: number | null;
  /** StormGuard class of the RST, when the capture assigned one. */
  stormClass: number | null;
}

export interface ResetVerdict {
  sentBy: SentBy;
  cause: ResetCause;
  evidence: string[];
  advice: string;
  idleMs: number | null;
}

/**
 * A reset after at least this much silence, that nothing more specific explains,
 * is put down to an idle timeout. Real idle timeouts are seconds to hours
 * (Envoy 1 h, nginx keepalive_timeout 75 s, AWS NLB 350 s, conntrack 5 days);
 * a 1 s floor keeps resets in the middle of an exchange out.
 */
export const IDLE_RESET_MIN_MS = 1_000;

/** Kernel reasons that say nothing beyond "no socket", where a restart or IP reuse is the better explanation. */
const SOCKETLESS_REASONS = new Set(['NO_SOCKET', 'NOT_SPECIFIED']);

/** The RST answers a SYN: it acknowledges exactly the SYN's sequence number plus one (RFC 9293 §3.10.7.1). */
export function answersSyn(context: ResetContext): boolean {
  const { tcp, flow } = context;
  if ((tcp.flags & TcpFlag.ACK) === 0) return false;
  const syn = flow?.receiver;
  if (syn !== null && syn !== undefined && syn.synSeq !== null && !syn.synAck) {
    return tcp.ack === ((syn.synSeq + 1) >>> 0) && (flow?.sender === null || flow?.sender?.synSeq === null);
  }
  // Without the SYN captured, a closed port's answer still has this form: SEQ 0, ACK set.
  return flow === null && tcp.seq === 0 && context.kernelEvent?.reason === 'NO_SOCKET';
}

/**
 * The verdict on one RST: who sent it (sent-by.ts), then the cause, most specific
 * first — a forged RST (after idle: an expired idle timer on the path), a refused
 * SYN, the sidecar, a restart or IP reuse, an exited process, the kernel's reason,
 * the race and idle time seen on the wire — each with its evidence and advice.
 */
export function judgeReset(context: ResetContext, facts: DiagnosisFacts = NO_FACTS): ResetVerdict {
  const evidence: string[] = [];
  const detail = context.detail ?? 'headers';
  const sentBy = judgeSender(context, evidence);
  const idle = idleBeforeReset(context.flow, context.timeMs, detail);
  const synAnswer = answersSyn(context);
  const sender = socketText(context.src);
  const peer = socketText(context.dst);
  if (synAnswer) evidence.unshift('RST answered a SYN');
  else if (idle !== null) evidence.push(describeIdle(idle));
  const idleMs = idle?.idleMs ?? null;
  const longIdle = idle !== null && idle.idleMs >= IDLE_RESET_MIN_MS;

  const reason = context.kernelEvent?.reason ?? null;
  const process = facts.process;
  const senderPod = facts.sender.pod;
  const race = keepaliveRace(context.flow, context.timeMs, detail);
  let cause: ResetCause = 'unknown';
  let advice: string | null = null;

  const kernelProcess = context.kernelEvent?.process;
  if (kernelProcess !== null && kernelProcess !== undefined) {
    evidence.push(`the reset was sent by process ${kernelProcess.comm ?? '(name unknown)'} (pid ${kernelProcess.pid})`);
  }
  if (reason !== null && !synAnswer) evidence.push(`kernel reason ${reason}: ${reasonMeaning(reason).explanation}`);

  if (sentBy === 'middlebox') {
    if (!synAnswer && longIdle && context.flow !== null) {
      cause = 'idle-timeout';
      evidence.push(`the path let this connection through before and forged a reset after ${idle.idleMs} ms of silence: its state for the connection had expired (an idle timeout of a firewall, NAT or load balancer)`);
    } else {
      cause = 'middlebox';
    }
    if (senderPod !== null && facts.sender.policies.length > 0) {
      const judgement = judgeIngress(senderPod, facts.sender.policies, { ip: context.dst.ip, pod: facts.receiver.pod }, context.src.port);
      const peerText = facts.receiver.pod === null ? peer : `${podText(facts.receiver.pod)} (${peer})`;
      evidence.push(...describeIngress(judgement, podText(senderPod), peerText, context.src.port));
      if (judgement.admission === 'denies' && cause === 'middlebox') {
        const names = judgement.policies.map(({ policy }) => `${policy.namespace}/${policy.name}`).join(', ');
        advice = `NetworkPolicy ${names} selects ${podText(senderPod)} and does not admit ${peerText} on port ${context.src.port}: add an ingress rule for it (podSelector/namespaceSelector and port) if the traffic is wanted; the CNI's policy enforcement forged this RST.`;
      }
    }
  } else if (synAnswer) {
    cause = 'not-listening';
    const check = checkRefusedPort(context.src.port, sender, facts.sender);
    evidence.push(...check.evidence);
    advice = check.advice;
  } else if (isSidecar(process, process?.container ?? null)) {
    cause = 'sidecar';
    const described = describeSidecar(process, process?.container ?? null, senderPod);
    evidence.push(...described.evidence);
    advice = described.advice;
  } else {
    const processGone = process !== null && !process.alive;
    const restart =
      reason === null || SOCKETLESS_REASONS.has(reason) || processGone ? findRestart(senderPod, process?.container ?? null, context.flow, context.timeMs) : null;
    if (reason === 'NO_SOCKET') evidence.push(`the RST answered a mid-stream segment for a connection ${sender} has no socket for`);
    if (restart !== null) {
      cause = restart.kind === 'container-restart' ? 'container-restart' : 'no-connection';
      evidence.push(...restart.evidence);
      advice = restart.advice;
    } else if (processGone) {
      cause = 'process-exit';
      evidence.push(`process ${process.comm ?? '?'} (pid ${process.pid}) that owned the socket had exited by the time of this verdict: the kernel reset its connections as it closed them`);
    } else if (reason !== null) {
      const meaning = reasonMeaning(reason);
      cause = meaning.cause ?? (reason === 'NO_SOCKET' ? 'no-connection' : 'unknown');
      if (cause === 'keepalive-race' && race !== null) evidence.push(...describeRace(race, sender, peer));
    } else if (race !== null && race.peerDataAfterFin !== false) {
      cause = 'keepalive-race';
      evidence.push(...describeRace(race, sender, peer));
    } else if (longIdle) {
      cause = 'idle-timeout';
    }
  }
  advice ??= adviceFor(cause, context, idleMs, race?.senderIdleTimeoutMs ?? null);
  return { sentBy, cause, evidence, advice, idleMs };
}
