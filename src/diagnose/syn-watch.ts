import type { PacketObservation } from '../capture/observation';
import { TcpFlag } from '../decode/types';
import type { SocketAddress } from '../flows/flow-key';
import type { FlowRecord } from '../flows/flow-table';

/**
 * Connection attempts that get no answer at all (DESIGN.md failure mode 4: a
 * policy or firewall that drops instead of rejecting). Each SYN (without ACK)
 * opens or counts a watch on its flow; whether anything else happened on the flow
 * (a SYN-ACK or RST back, the client moving on because the handshake completed on
 * a path we did not see) is read from the flow table when the watch is due, so
 * segments other than SYNs cost nothing here. A watch whose first SYN is
 * `timeoutMs` old and that saw a retransmission (Linux retransmits after 1 s, then
 * 3 s, 7 s: tcp_syn_retries, RFC 6298 §5) is reported once, then kept quiet until
 * its SYNs stop, so one stubborn client is one finding.
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

/**
 * One watched attempt. It holds the flow side's own address as `client` and
 * finds the server in the flow when reporting: a SYN per connection made three
 * objects here that outlived the young generation (bench/diagnosis.ts).
 */
interface Watch {
  client: SocketAddress;
  firstMs: number;
  lastMs: number;
  attempts: number;
  ttl: number;
  reported: boolean;
}

export class SynWatch {
  /** Keyed by the flow table's live record of the connection. */
  private readonly watches = new Map<FlowRecord, Watch>();
  /** Watches dropped because the table was full (a SYN flood). */
  evicted = 0;

  constructor(
    private readonly timeoutMs = 3_000,
    private readonly maxWatches = 50_000,
  ) {}

  get size(): number {
    return this.watches.size;
  }

  /** Counts a SYN without ACK on `flow` (the flow table's live record, after it saw the SYN). Other segments need not be passed. */
  observeSyn(observation: PacketObservation, flow: FlowRecord): void {
    const { ip, tcp } = observation.packet;
    if (tcp === null || (tcp.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== TcpFlag.SYN) return;
    const watch = this.watches.get(flow);
    if (watch !== undefined && watch.client.ip === ip.src && watch.client.port === tcp.srcPort) {
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
    const client = flow.lastSide.address; // the SYN's sender: the flow table already saw it
    this.watches.set(flow, { client, firstMs: observation.timeMs, lastMs: observation.timeMs, attempts: 1, ttl: ip.ttl, reported: false });
  }

  /**
   * Attempts that timed out since the last call. A flow with a second side, or
   * more client segments than SYNs, was answered; a flow the table dropped cannot
   * be judged and is dropped here too.
   */
  expire(nowMs: number): UnansweredSyn[] {
    const timedOut: UnansweredSyn[] = [];
    for (const [flow, watch] of this.watches) {
      if (flow.removed || flow.sides.length === 2 || flow.sides[0].packets > watch.attempts) {
        this.watches.delete(flow);
        continue;
      }
      if (nowMs - watch.firstMs < this.timeoutMs) continue;
      if (!watch.reported && watch.attempts >= 2) {
        watch.reported = true;
        const { client, firstMs, lastMs, attempts, ttl } = watch;
        const clientIsA = client.ip === flow.ipA && client.port === flow.portA;
        const server = clientIsA ? { ip: flow.ipB, port: flow.portB } : { ip: flow.ipA, port: flow.portA };
        timedOut.push({ client, server, firstMs, lastMs, attempts, ttl });
      } else if (nowMs - watch.lastMs >= this.timeoutMs * 3) {
        this.watches.delete(flow);
      }
    }
    return timedOut;
  }
}
