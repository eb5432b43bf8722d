import { socketText } from '../flows/flow-key';
import type { SentBy } from '../protocol/finding';
import type { ResetContext } from './reset-verdict';
import { hopsTravelled } from './ttl';

/**
 * Who made the RST: the endpoint whose address it carries, or a box on the path.
 * Rules in order of precedence; the first that applies decides:
 *
 * 1. The claimed sender's kernel logged tcp_send_reset for it → endpoint. Nothing
 *    on the wire outranks the kernel's own record: Linux writes its socketless
 *    RSTs (NO_SOCKET, TIME_WAIT; ip_send_unicast_reply through the per-CPU control
 *    socket) with IP ID 0 and window 0 too, so the netfilter fingerprint is
 *    ignored here.
 * 2. The claimed sender lives on this kernel, its events are read, and none
 *    matched within the join delay → middlebox (netfilter REJECT does not go
 *    through tcp_send_reset: net/ipv4/netfilter/nf_reject_ipv4.c).
 * 3. Its TTL differs from the TTL the sender's other packets arrive with (≥ 1 hop),
 *    or it arrived unspent from a sender behind a router → middlebox.
 * 4. Its TTL matches the sender's baseline → endpoint.
 * 5. Otherwise unknown. IP ID 0 and window 0 (nf_reject_ipv4 writes both) are
 *    said in the evidence but decide nothing: Linux writes every socketless RST
 *    (a closed port, a connection it no longer has) the same way, so on its own
 *    the fingerprint cannot tell a REJECT from the endpoint's kernel.
 */
export function judgeSender(context: ResetContext, evidence: string[]): SentBy {
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
    evidence.push(
      `IP ID 0 and window 0, as a netfilter REJECT writes them, but also as ${claimed}'s own kernel writes a RST for a connection it has no socket for: not conclusive without that node's kernel events or a TTL baseline`,
    );
  }
  return 'unknown';
}
