import { socketText } from '../flows/flow-key';
import type { ResetCause } from '../protocol/finding';
import type { ResetContext } from './reset-verdict';

/** The generic fix for each cause; rules with more specific facts (port-check, restart, sidecar) write their own. */
export function adviceFor(cause: ResetCause, context: ResetContext, idleMs: number | null, senderIdleTimeoutMs: number | null): string {
  const target = socketText(context.src);
  switch (cause) {
    case 'not-listening':
      return `Nothing listens on ${target}. Make the Service's targetPort match the port the container listens on, and keep the pod out of endpoints until it listens (readiness probe).`;
    case 'no-connection':
      return `${target} had no socket for this connection (restarted process, lost conntrack entry or reused IP). Let clients retry idempotent requests and drain connections before pods stop (preStop hook, terminationGracePeriodSeconds).`;
    case 'abort-on-close':
      return `The process on ${target} closed the socket with data it had not read. Read the request fully before closing, or close gracefully (shutdown, then drain) instead of aborting.`;
    case 'keepalive-race': {
      const measured = senderIdleTimeoutMs === null ? '' : ` (measured: about ${(senderIdleTimeoutMs / 1000).toFixed(1)} s)`;
      return `${target} closed this idle connection${measured} just as the peer reused it. Keep the upstream's keep-alive timeout above the gateway's (client's) idle timeout — or lower the gateway's idle timeout below the upstream's — and let the client retry on reset.`;
    }
    case 'keepalive-timeout':
      return `Keep-alive probes (or the user timeout) of ${target} went unanswered: the peer or a stateful middlebox on the path dropped the idle connection. Send keep-alives more often than the shortest idle timeout on the path.`;
    case 'idle-timeout': {
      const after = idleMs === null ? '' : ` after ${(idleMs / 1000).toFixed(1)} s idle`;
      return context.flow === null
        ? `The connection was reset${after}: send TCP or application keep-alives more often than the shortest idle timeout on the path.`
        : `The connection was reset${after}: an idle timeout on the path (firewall, NAT or load balancer state) or at ${target} expired. Send TCP/HTTP keep-alives more often than that timeout, or raise it above the clients' idle timeout.`;
    }
    case 'memory-pressure':
      return `The kernel on ${target} ran out of TCP memory or orphan sockets. Check net.ipv4.tcp_mem and tcp_max_orphans and the pod's memory limit.`;
    case 'process-exit':
      return `The process that owned the connection on ${target} exited and its sockets were reset. Find why it exited (logs, exit code, OOM), and shut down gracefully: stop accepting, drain connections, then exit (handle SIGTERM, preStop hook).`;
    case 'middlebox':
      return `A box between the endpoints forged this RST in ${target}'s name. Look for a firewall or NetworkPolicy REJECT rule, a load balancer or a proxy on the path.`;
    default:
      return 'Not enough evidence for a cause yet; enable kernel events and capture both directions of the flow.';
  }
}
