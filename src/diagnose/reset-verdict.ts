import { TcpFlag, type TcpInfo } from '../decode/types';
import type { FlowView } from '../flows/flow-table';
import { socketText, type SocketAddress } from '../flows/flow-key';
import type { ResetCause, SentBy } from '../protocol/finding';
import type { KernelResetRecord } from './kernel-join';
import { reasonMeaning } from './kernel-reasons';
import { hopsTravelled } from './ttl';

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

export function judgeReset(context: ResetContext): ResetVerdict {
  const evidence: string[] = [];
  const sentBy = judgeSender(context, evidence);
  const idleMs = idleBefore(context);
  const synAnswer = answersSyn(context);
  if (synAnswer) evidence.unshift('RST answered a SYN');
  if (idleMs !== null && !synAnswer) evidence.push(`the connection had been idle for ${idleMs} ms before the RST`);

  const reason = context.kernelEvent?.reason ?? null;
  let cause: ResetCause = 'unknown';
  if (sentBy === 'middlebox') {
    cause = 'middlebox';
  } else if (synAnswer) {
    cause = 'not-listening';
  } else if (reason !== null) {
    const meaning = reasonMeaning(reason);
    evidence.push(`kernel reason ${reason}: ${meaning.explanation}`);
    cause = meaning.cause ?? (reason === 'NO_SOCKET' ? 'no-connection' : 'unknown');
  }
  const process = context.kernelEvent?.process;
  if (process !== null && process !== undefined) {
    evidence.push(`the reset was sent by process ${process.comm ?? '(name unknown)'} (pid ${process.pid})`);
  }
  return { sentBy, cause, evidence, advice: adviceFor(cause, context), idleMs };
}

function judgeSender(context: ResetContext, evidence: string[]): SentBy {
  const { kernelEvent, ttl, expectedTtl } = context;
  const claimed = socketText(context.src);
  if (kernelEvent !== null) {
    const state = kernelEvent.state === null ? '' : ` in state ${kernelEvent.state}`;
    evidence.push(`the sender's kernel logged tcp_send_reset for ${claimed}${state}`);
    return 'endpoint';
  }
  if (context.kernelEventsActive && context.senderOnThisKernel) {
    evidence.push(`${claimed} is on this node and its kernel logged no tcp_send_reset for this RST: it was forged on the way`);
    return 'middlebox';
  }
  if (expectedTtl !== null && expectedTtl !== ttl) {
    const hops = hopsTravelled(expectedTtl) - hopsTravelled(ttl);
    const where = hops > 0 ? `${hops} hop${hops === 1 ? '' : 's'} nearer than` : `${-hops} hop${hops === -1 ? '' : 's'} farther than`;
    evidence.push(`RST arrived with TTL ${ttl} where ${claimed}'s packets arrive with TTL ${expectedTtl}: made ${where} the sender`);
    return 'middlebox';
  }
  if (context.arrived && hopsTravelled(ttl) === 0 && context.senderBehindRouter === true) {
    evidence.push(`RST arrived with an unspent TTL ${ttl} although ${claimed} is behind a router: made by a box on this node's link`);
    return 'middlebox';
  }
  if (expectedTtl === ttl) {
    evidence.push(`TTL ${ttl} matches the TTL of ${claimed}'s other packets`);
    return 'endpoint';
  }
  if (context.tcp.window === 0 && context.ipId === 0) {
    evidence.push('IP ID 0 and window 0, as both a kernel and a netfilter REJECT write them: not conclusive');
  }
  return 'unknown';
}

/** Time from the flow's last activity (either side) to the RST; null when the flow was not seen. */
function idleBefore(context: ResetContext): number | null {
  const flow = context.flow?.flow;
  if (flow === undefined) return null;
  const lastMs = Math.max(...flow.sides.map((side) => side.lastSeenMs));
  return Math.max(0, Math.round(context.timeMs - lastMs));
}

function adviceFor(cause: ResetCause, context: ResetContext): string {
  const target = socketText(context.src);
  switch (cause) {
    case 'not-listening':
      return `Nothing listens on ${target}. Make the Service's targetPort match the port the container listens on, and keep the pod out of endpoints until it listens (readiness probe).`;
    case 'no-connection':
      return `${target} had no socket for this connection (restarted process, lost conntrack entry or reused IP). Let clients retry idempotent requests and drain connections before pods stop (preStop hook, terminationGracePeriodSeconds).`;
    case 'abort-on-close':
      return `The process on ${target} closed the socket with data it had not read. Read the request fully before closing, or close gracefully (shutdown, then drain) instead of aborting.`;
    case 'keepalive-race':
      return `${target} had already closed this idle connection when the peer reused it. Keep the upstream's keep-alive timeout above the client's (gateway's) idle timeout, or let the client retry on reset.`;
    case 'keepalive-timeout':
      return `Keep-alive probes from ${target} went unanswered: the peer or a stateful middlebox on the path dropped the idle connection. Send keep-alives more often than the shortest idle timeout on the path.`;
    case 'memory-pressure':
      return `The kernel on ${target} ran out of TCP memory or orphan sockets. Check net.ipv4.tcp_mem and tcp_max_orphans and the pod's memory limit.`;
    case 'middlebox':
      return `A box between the endpoints forged this RST in ${target}'s name. Look for a firewall or NetworkPolicy REJECT rule, a load balancer or a proxy on the path.`;
    default:
      return 'Not enough evidence for a cause yet; enable kernel events and capture both directions of the flow.';
  }
}
