import { Lab, type LabNode, type LabPod } from '../test/lab/lab';
import { BenchAgent } from './lab-agent';
import { cpuSeconds } from './proc-stats';

export interface ThroughputRun {
  label: string;
  gbitPerS: number;
  agentCpuS: number | null;
}

/**
 * Background cost: iperf3 between two pod namespaces for `durationS` seconds,
 * without the agent, with it in control mode and in headers mode. The three run in
 * turn `rounds` times and each reports its median: one iperf3 run on a 2-core
 * machine swings by several percent on its own, as much as the effect measured.
 */
export async function runBackgroundCost(durationS = 10, rounds = 3): Promise<ThroughputRun[]> {
  const lab = await Lab.create({ prefix: 'bench' });
  try {
    const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    const client = await lab.addPod(node, { name: 'client', ip: '10.244.1.10' });
    const server = await lab.addPod(node, { name: 'server', ip: '10.244.1.11' });
    const samples: ThroughputRun[][] = [[], [], []];
    for (let round = 0; round < rounds; round++) {
      samples[0].push({ label: 'no agent', gbitPerS: await iperf(lab, client, server, durationS), agentCpuS: null });
      samples[1].push(await withAgent(lab, node, client, server, 'control', durationS));
      samples[2].push(await withAgent(lab, node, client, server, 'headers', durationS));
    }
    return samples.map(median);
  } finally {
    await lab.destroy();
  }
}

/** The median run by throughput, its label naming every run's figure. */
function median(runs: ThroughputRun[]): ThroughputRun {
  const sorted = [...runs].sort((a, b) => a.gbitPerS - b.gbitPerS);
  const middle = sorted[Math.floor(sorted.length / 2)];
  return runs.length === 1 ? middle : { ...middle, label: `${middle.label} (median of ${runs.map((run) => run.gbitPerS.toFixed(2)).join(', ')})` };
}

async function withAgent(lab: Lab, node: LabNode, client: LabPod, server: LabPod, mode: 'control' | 'headers', durationS: number): Promise<ThroughputRun> {
  const agent = await BenchAgent.start(lab, node, ['--capture', mode]);
  try {
    const cpuBefore = cpuSeconds(agent.pid);
    const gbitPerS = await iperf(lab, client, server, durationS);
    return { label: `agent, ${mode} mode`, gbitPerS, agentCpuS: cpuSeconds(agent.pid) - cpuBefore };
  } finally {
    await agent.stop();
  }
}

async function iperf(lab: Lab, client: LabPod, server: LabPod, durationS: number): Promise<number> {
  const daemon = lab.spawn(server, 'iperf3', ['-s', '-1', '-B', server.ip]);
  const daemonExited = new Promise((resolve) => daemon.once('exit', resolve)); // it may exit before we look
  await new Promise((resolve) => setTimeout(resolve, 300));
  const { stdout } = await lab.exec(client, ['iperf3', '-c', server.ip, '-t', String(durationS), '-J'], { timeoutMs: (durationS + 15) * 1000 });
  await daemonExited;
  const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
  return report.end.sum_received.bits_per_second / 1e9;
}
