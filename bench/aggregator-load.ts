import WebSocket from 'ws';
import { newFindingId } from '../src/common/finding-id';

/**
 * Simulated agents for bench/aggregator.ts, run as a child process:
 *   node aggregator-load.js URL TOKEN FIRST_AGENT AGENTS RATE_PER_S DURATION_S
 * Each agent is a real WebSocket client speaking the agent protocol: hello, then one
 * finding every 1/RATE s (its own seq), acks timed per seq from the moment it was
 * sent. Prints one JSON line at the end: the counts, every ack latency (ms), this
 * process's CPU seconds and how late its sends were against their schedule.
 *
 * Light on purpose, so the generators offer the full rate on a small machine: one
 * scheduler timer per process (not one per agent) that sends whatever is due, so a
 * late tick catches up instead of silently offering less; the finding's JSON is made
 * once per agent; acks are read without JSON.parse. Ids are UUIDv7, as real agents
 * make them (src/common/finding-id.ts).
 */

function finding(agent: number): object {
  const now = new Date().toISOString();
  return {
    kind: 'reset',
    id: newFindingId(),
    node: `node-${agent}`,
    time: now,
    lastSeen: now,
    count: 1,
    src: { ip: `10.${(agent >> 8) & 255}.${agent & 255}.20`, port: 8080, kind: 'pod', pod: { namespace: 'bench', name: `app-${agent}`, uid: `uid-${agent}`, container: 'app' }, node: `node-${agent}`, process: null },
    dst: { ip: '10.244.1.10', port: 40000 + (agent % 20000), kind: 'external', pod: null, node: null, process: null },
    sentBy: 'endpoint',
    cause: 'not-listening',
    kernelReason: 'NO_SOCKET',
    state: null,
    ttl: 64,
    expectedTtl: 64,
    idleMs: 0,
    evidence: ['RST answered a SYN', "the sender's kernel logged tcp_send_reset"],
    advice: 'Nothing listens on the port.',
  };
}

interface SimulatedAgent {
  agent: number;
  socket: WebSocket;
  /** Last seq sent; -1 until the welcome says where to resume. */
  seq: number;
  nextDueMs: number;
  /** Unacked seqs and when each was sent, oldest first (seqs only grow). */
  unackedSeqs: number[];
  unackedAtMs: number[];
  /** The finding's JSON before and after its id, made once. */
  findingHead: string;
  findingTail: string;
}

const ACK_PREFIX = '{"type":"ack","seq":';
const TICK_MS = 2;

async function main(): Promise<void> {
  const [url, token, firstText, countText, rateText, durationText] = process.argv.slice(2);
  const first = Number(firstText);
  const count = Number(countText);
  const intervalMs = 1000 / Number(rateText);
  const durationMs = Number(durationText) * 1000;
  const latenciesMs: number[] = [];
  const lagsMs: number[] = [];
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const agents: SimulatedAgent[] = [];
  const welcomed: Promise<void>[] = [];
  for (let agent = first; agent < first + count; agent += 1) {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    // The finding's JSON is made once per agent; only the seq and id change.
    const template = JSON.stringify({ ...finding(agent), id: 'X' });
    const [findingHead, findingTail] = template.split('"id":"X"');
    const state: SimulatedAgent = { agent, socket, seq: -1, nextDueMs: 0, unackedSeqs: [], unackedAtMs: [], findingHead, findingTail };
    agents.push(state);
    socket.on('error', () => (failed += 1));
    welcomed.push(
      new Promise<void>((resolve) => {
        socket.on('message', (data: Buffer) => {
          const text = data.toString('utf8');
          if (!text.startsWith(ACK_PREFIX)) {
            const message = JSON.parse(text) as { type: string; lastSeq?: number };
            if (message.type === 'welcome') {
              state.seq = message.lastSeq ?? 0;
              resolve();
            }
            return;
          }
          const ackSeq = Number(text.slice(ACK_PREFIX.length, text.length - 1));
          const nowMs = performance.now();
          let index = 0;
          while (index < state.unackedSeqs.length && state.unackedSeqs[index] <= ackSeq) {
            latenciesMs.push(nowMs - state.unackedAtMs[index]);
            index += 1;
          }
          acked += index;
          state.unackedSeqs.splice(0, index);
          state.unackedAtMs.splice(0, index);
        });
        socket.once('open', () => {
          socket.send(JSON.stringify({ type: 'hello', protocol: 1, agentId: `bench-agent-${agent}`, node: `node-${agent}`, version: 'bench', capabilities: { kernelEvents: true, captureMode: 'control', evidence: false }, addresses: [] }));
        });
        socket.once('close', () => resolve());
      }),
    );
  }
  // The clock starts once every agent has its welcome.
  await Promise.all(welcomed);
  const startMs = performance.now();
  const stopAtMs = startMs + durationMs;
  // Spread the agents' phases so they do not send in lockstep.
  for (const state of agents) state.nextDueMs = startMs + Math.random() * intervalMs;
  const cpuBefore = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const nowMs = performance.now();
      for (const state of agents) {
        const { socket } = state;
        if (socket.readyState !== WebSocket.OPEN || state.seq < 0) continue;
        const { findingHead, findingTail } = state;
        // Everything due by now is sent, so a late tick catches up instead of offering less.
        while (state.nextDueMs <= nowMs && state.nextDueMs < stopAtMs) {
          state.seq += 1;
          const seq = state.seq;
          lagsMs.push(nowMs - state.nextDueMs);
          state.nextDueMs += intervalMs;
          state.unackedSeqs.push(seq);
          state.unackedAtMs.push(performance.now());
          socket.send(`{"type":"findings","items":[{"seq":${seq},"update":false,"finding":${findingHead}"id":"${newFindingId()}"${findingTail}}]}`);
          sent += 1;
        }
      }
      if (nowMs >= stopAtMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  // Let the last acks arrive.
  const drainUntilMs = performance.now() + 5_000;
  while (acked < sent && performance.now() < drainUntilMs) await new Promise((resolve) => setTimeout(resolve, 50));
  const cpu = process.cpuUsage(cpuBefore);
  for (const { socket } of agents) socket.terminate();
  lagsMs.sort((a, b) => a - b);
  const sendLagP99Ms = lagsMs.length === 0 ? 0 : lagsMs[Math.floor(0.99 * lagsMs.length)];
  process.stdout.write(`${JSON.stringify({ sent, acked, failed, latenciesMs, cpuS: (cpu.user + cpu.system) / 1e6, sendLagP99Ms })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`aggregator-load: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
