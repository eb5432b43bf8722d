import { Lab } from '../test/lab/lab';
import { BenchAgent } from './lab-agent';
import { cpuSeconds, cpuTimes, rssMiB } from './proc-stats';

/** Idle time before the storm, so start-up work of either tool is not counted as storm cost. */
const SETTLE_MS = 10_000;

/** tcpdump's filter equivalent to the agent's control filter (src/capture/bpf.ts). */
export const TCPDUMP_CONTROL_FILTER =
  '(tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0) or (icmp[icmptype] == icmp-unreach and icmp[icmpcode] == 4) or (icmp6 and ip6[40] == 2) or (ip6 and tcp)';

export interface StormResult {
  durationS: number;
  agent: { packets: number; drops: number; cpuS: number; userS: number; rssIdleMiB: number; rssAfterMiB: number };
  tcpdump: { packets: number; drops: number; cpuS: number };
}

/**
 * RST storm: `hping3 --flood -R` from one pod namespace into another for
 * `durationS` seconds while the agent and `tcpdump -w /dev/null` capture the
 * receiving pod's host-side veth, both with 64 MiB of ring.
 */
export async function runRstStorm(durationS = 5): Promise<StormResult> {
  const lab = await Lab.create({ prefix: 'bench' });
  try {
    const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    const sender = await lab.addPod(node, { name: 'sender', ip: '10.244.1.10' });
    const target = await lab.addPod(node, { name: 'target', ip: '10.244.1.11' });
    const agent = await BenchAgent.start(lab, node, ['--interfaces', target.hostIfname]);
    const tcpdump = lab.spawn(node, 'tcpdump', ['-i', target.hostIfname, '-B', '65536', '-n', '-w', '/dev/null', TCPDUMP_CONTROL_FILTER]);
    let tcpdumpErr = '';
    tcpdump.stderr?.on('data', (chunk: Buffer) => (tcpdumpErr += chunk.toString()));
    await waitFor(() => tcpdumpErr.includes('listening on'), 10_000, 'tcpdump to start');

    // A running agent has judged resets before: a short, slow warm-up (500 RSTs over
    // about a second) lets V8 compile the reset path, then both tools settle, so
    // neither start-up work nor first-time compilation is counted as storm cost.
    await lab.exec(sender, ['hping3', '-q', '-c', '500', '-i', 'u2000', '-R', '-p', '80', target.ip], { check: false, timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const rssIdleMiB = rssMiB(agent.pid);
    const agentCpuBefore = cpuSeconds(agent.pid);
    const agentTimesBefore = cpuTimes(agent.pid);
    const tcpdumpCpuBefore = cpuSeconds(tcpdump.pid!);
    // Bounded by time: `timeout` stops the flood after durationS seconds.
    await lab.exec(sender, ['timeout', '-s', 'INT', String(durationS), 'hping3', '--flood', '-q', '-R', '-p', '80', target.ip], {
      check: false,
      timeoutMs: (durationS + 10) * 1000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // let both drain their rings
    const agentCpuS = cpuSeconds(agent.pid) - agentCpuBefore;
    const agentTimesAfter = cpuTimes(agent.pid);
    const agentUserS = agentTimesAfter.userS - agentTimesBefore.userS;
    const tcpdumpCpuS = cpuSeconds(tcpdump.pid!) - tcpdumpCpuBefore;
    const rssAfterMiB = rssMiB(agent.pid);
    const { packets, drops } = await agent.metrics();

    tcpdump.kill('SIGINT');
    await new Promise((resolve) => tcpdump.once('exit', resolve));
    const tcpdumpPackets = Number(/(\d+) packets? captured/.exec(tcpdumpErr)?.[1] ?? NaN);
    const tcpdumpDrops = Number(/(\d+) packets? dropped by kernel/.exec(tcpdumpErr)?.[1] ?? NaN);
    await agent.stop();
    return {
      durationS,
      agent: { packets, drops, cpuS: agentCpuS, userS: agentUserS, rssIdleMiB, rssAfterMiB },
      tcpdump: { packets: tcpdumpPackets, drops: tcpdumpDrops, cpuS: tcpdumpCpuS },
    };
  } finally {
    await lab.destroy();
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
