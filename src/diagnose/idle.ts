import { QUIET_GAP_MS, type FlowSide, type FlowView } from '../flows/flow-table';

/**
 * Idle time of a connection before its reset, and the keep-alive race
 * (DESIGN.md failure mode 2), from the flow's history.
 *
 * What the capture mode allows: in `headers` mode every segment is seen, so the
 * silence before the reset is measured. In `control` mode only SYN, FIN and RST are
 * captured: data may have flowed unseen between them, so a silence measured from
 * control segments is only an upper bound of the real idle time, and the evidence
 * says so instead of presenting it as measured.
 */
export type FlowDetail = 'headers' | 'control';

export interface IdleMeasure {
  idleMs: number;
  /** True when measured from every segment; false when data segments were not captured (an upper bound). */
  exact: boolean;
}

/**
 * The silence before the exchange that ended in the RST: the time since the
 * flow's last segment, or, when the RST closes a burst (the peer's request, then
 * the RST, a few ms apart), the silence before that burst. Null when the flow was
 * not seen before the RST.
 */
export function idleBeforeReset(flow: FlowView | null, resetMs: number, detail: FlowDetail): IdleMeasure | null {
  if (flow === null) return null;
  const record = flow.flow;
  const sinceLastMs = Math.max(0, resetMs - record.lastMs);
  let idleMs = sinceLastMs;
  if (sinceLastMs < QUIET_GAP_MS && record.gapBeforeBurstMs !== null && resetMs - record.burstStartMs < QUIET_GAP_MS * 4) {
    idleMs = record.gapBeforeBurstMs;
  }
  return { idleMs: Math.round(idleMs), exact: detail === 'headers' };
}

export interface KeepaliveRace {
  /** The RST's sender closed the connection with FIN this long after its last activity: its idle timeout. */
  senderIdleTimeoutMs: number | null;
  /** Time from the sender's FIN to the RST. */
  finToResetMs: number;
  /** The peer sent data after the sender's FIN (seen only in headers mode). */
  peerDataAfterFin: boolean | null;
  exact: boolean;
}

/**
 * The race: the RST's sender sent FIN (it closed an idle connection), then the
 * peer still sent on it, and the sender answered with a RST. Null when the sender's
 * FIN was not seen.
 */
export function keepaliveRace(flow: FlowView | null, resetMs: number, detail: FlowDetail): KeepaliveRace | null {
  const sender: FlowSide | null | undefined = flow?.sender;
  const receiver = flow?.receiver ?? null;
  if (sender === null || sender === undefined || sender.finMs === null) return null;
  const peerDataAfterFin = detail === 'headers' ? receiver !== null && receiver.lastPayloadMs !== null && receiver.lastPayloadMs >= sender.finMs : null;
  return {
    senderIdleTimeoutMs: sender.idleBeforeFinMs === null ? null : Math.round(sender.idleBeforeFinMs),
    finToResetMs: Math.max(0, Math.round(resetMs - sender.finMs)),
    peerDataAfterFin,
    exact: detail === 'headers',
  };
}

export function describeIdle(idle: IdleMeasure): string {
  return idle.exact
    ? `the connection had been idle for ${idle.idleMs} ms before the RST`
    : `no SYN, FIN or RST crossed the connection for ${idle.idleMs} ms before the RST (control capture sees no data segments, so it was idle for at most that long; run with --capture headers to measure it)`;
}

export function describeRace(race: KeepaliveRace, sender: string, peer: string): string[] {
  const lines: string[] = [];
  if (race.senderIdleTimeoutMs !== null) {
    lines.push(
      race.exact
        ? `${sender} closed the connection (FIN) after it had been idle for ${race.senderIdleTimeoutMs} ms: its idle timeout is about ${(race.senderIdleTimeoutMs / 1000).toFixed(1)} s`
        : `${sender} closed the connection (FIN) ${race.senderIdleTimeoutMs} ms after the previous control segment: its idle timeout is at most ${(race.senderIdleTimeoutMs / 1000).toFixed(1)} s (control capture sees no data; --capture headers measures it)`,
    );
  } else {
    lines.push(`${sender} had closed the connection (FIN) before the RST`);
  }
  if (race.peerDataAfterFin === true) lines.push(`${peer} sent data on the connection after that FIN, and ${sender} answered ${race.finToResetMs} ms after its FIN with this RST`);
  else lines.push(`the RST came ${race.finToResetMs} ms after ${sender}'s FIN`);
  return lines;
}
