import WebSocket from 'ws';

/**
 * Simulated agents for bench/aggregator.ts, run as a child process:
 *   node aggregator-load.js URL TOKEN FIRST_AGENT AGENTS RATE_PER_S DURATION_S
 * Each agent is a real WebSocket client speaking the agent protocol: hello, then one
 * finding every 1/RATE s (its own seq), acks timed per seq. Prints one JSON line with
 * the counts and every ack latency (ms) at the end.
 */

function finding(agent: number, seq: number): object {
  const now = new Date().toISOString();
  return {
    kind: 'reset',
    id: `bench-${agent}-${seq}`,
    node: `node-${agent}`,
    time: now,
    lastSeen: now,
    count: 1,
    src: { ip: `10.${(agent >> 8) & 255}.${agent & 255}.20`, port: 8080, kind: 'pod', pod: { namespace: 'bench', name: `app-${agent}`, uid: `uid-${agent}`, container: 'app' }, node: `node-${agent}`, process: null },
    dst: { ip: '10.244.1.10', port: 40000 + (seq % 20000), kind: 'external', pod: null, node: null, process: null },
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

async function main(): Promise<void> {
  const [url, token, firstText, countText, rateText, durationText] = process.argv.slice(2);
  const first = Number(firstText);
  const count = Number(countText);
  const intervalMs = 1000 / Number(rateText);
  const durationMs = Number(durationText) * 1000;
  const latenciesMs: number[] = [];
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const sockets: WebSocket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const starters: Array<(stopAtMs: number) => void> = [];
  const opened: Promise<void>[] = [];
  for (let agent = first; agent < first + count; agent += 1) {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    sockets.push(socket);
    const sentAt = new Map<number, number>();
    const template = JSON.stringify({ ...finding(agent, 0), id: 'X' });
    let seq = -1;
    socket.on('error', () => (failed += 1));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; seq?: number; lastSeq?: number };
      if (message.type === 'welcome') {
        seq = message.lastSeq ?? 0;
        return;
      }
      if (message.type !== 'ack' || message.seq === undefined) return;
      const nowMs = performance.now();
      for (const [itemSeq, atMs] of sentAt) {
        if (itemSeq > message.seq) break;
        latenciesMs.push(nowMs - atMs);
        acked += 1;
        sentAt.delete(itemSeq);
      }
    });
    starters.push((stopAtMs) => {
      // Spread the agents' phases so 1,000 agents do not send in lockstep.
      const phase = setTimeout(() => {
        const timer = setInterval(() => {
          if (performance.now() >= stopAtMs || socket.readyState !== WebSocket.OPEN || seq < 0) return;
          seq += 1;
          sentAt.set(seq, performance.now());
          // The finding's JSON is made once per agent; only the seq and id change (keeps the generator light).
          socket.send(`{"type":"findings","items":[{"seq":${seq},"update":false,"finding":${template.replace('"id":"X"', `"id":"bench-${agent}-${seq}"`)}}]}`);
          sent += 1;
        }, intervalMs);
        timers.push(timer);
      }, Math.random() * intervalMs);
      timers.push(phase);
    });
    opened.push(
      new Promise<void>((resolve) => {
        socket.once('open', () => {
          socket.send(JSON.stringify({ type: 'hello', protocol: 1, agentId: `bench-agent-${agent}`, node: `node-${agent}`, version: 'bench', capabilities: { kernelEvents: true, captureMode: 'control', evidence: false }, addresses: [] }));
          resolve();
        });
        socket.once('close', () => resolve());
      }),
    );
  }
  await Promise.all(opened);
  // Give every hello its welcome before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const stopAtMs = performance.now() + durationMs;
  for (const start of starters) start(stopAtMs);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  // Let the last acks arrive.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (const timer of timers) clearInterval(timer);
  for (const socket of sockets) socket.terminate();
  process.stdout.write(`${JSON.stringify({ sent, acked, failed, latenciesMs })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`aggregator-load: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
