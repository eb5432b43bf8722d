import type { PacketObservation } from '../capture/observation';
import { TcpFlag } from '../decode/types';
import { directionalKey, type SocketAddress } from '../flows/flow-key';

/**
 * Connection attempts that get no answer at all (DESIGN.md failure mode 4: a
 * policy or firewall that drops instead of rejecting). A SYN opens a watch on its
 * direction; anything coming back (SYN-ACK, RST) or the client's further segments
 * (the handshake completed on a path we did not see) close it. A watch whose first
 * SYN is `timeoutMs` old and that saw a retransmission (Linux retransmits after 1 s,
 * then 3 s, 7 s: tcp_syn_retries, RFC 6298 §5) is reported once, then kept quiet
 * until its SYNs stop, so one stubborn client is one finding.
 */
export interface UnansweredSyn {
  client: SocketAddress;
  server: SocketAddress;
  firstMs: number;
  lastMs: number;
  attempts: number;
  /** TTL of the last SYN as captured. */
  ttl: number;
}

interface Watch extends UnansweredSyn {
  reported: boolean;
}

export class SynWatch {
  private readonly watches = new Map<string, Watch>();
  /** Watches dropped because the table was full (a SYN flood). */
  evicted = 0;

  constructor(
    private readonly timeoutMs = 3_000,
    private readonly maxWatches = 50_000,
  ) {}

  get size(): number {
    return this.watches.size;
  }

  observe(observation: PacketObservation): void {
    const { ip, tcp } = observation.packet;
    if (tcp === null) return;
    const src = { ip: ip.src, port: tcp.srcPort };
    const dst = { ip: ip.dst, port: tcp.dstPort };
    if ((tcp.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN) {
      const key = directionalKey(src, dst);
      const watch = this.watches.get(key);
      if (watch !== undefined) {
        watch.attempts++;
        watch.lastMs = observation.timeMs;
        watch.ttl = ip.ttl;
        return;
      }
      if (this.watches.size >= this.maxWatches) {
        const oldest = this.watches.keys().next();
        if (!oldest.done) this.watches.delete(oldest.value);
        this.evicted++;
      }
      this.watches.set(key, { client: src, server: dst, firstMs: observation.timeMs, lastMs: observation.timeMs, attempts: 1, ttl: ip.ttl, reported: false });
      return;
    }
    if (this.watches.size === 0) return;
    // An answer from the server, or the client moving on: the attempt was not ignored.
    this.watches.delete(directionalKey(dst, src));
    this.watches.delete(directionalKey(src, dst));
  }

  /** Attempts that timed out since the last call; forgets watches whose SYNs stopped. */
  expire(nowMs: number): UnansweredSyn[] {
    const timedOut: UnansweredSyn[] = [];
    for (const [key, watch] of this.watches) {
      if (nowMs - watch.firstMs < this.timeoutMs) continue;
      if (!watch.reported && watch.attempts >= 2) {
        watch.reported = true;
        const { reported: _reported, ...unanswered } = watch;
        timedOut.push(unanswered);
      } else if (nowMs - watch.lastMs >= this.timeoutMs * 3) {
        this.watches.delete(key);
      }
    }
    return timedOut;
  }
}
