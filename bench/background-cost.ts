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
 * without the agent, with it in control mode and in headers mode.
 */
export async function runBackgroundCost(durationS = 10): Promise<ThroughputRun[]> {
  const lab = await Lab.create({ prefix: 'bench' });
  try {
    const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24' });
    const client = await lab.addPod(node, { name: 'client', ip: '10.244.1.10' });
    const server = await lab.addPod(node, { name: 'server', ip: '10.244.1.11' });
    const runs: ThroughputRun[] = [];
    runs.push({ label: 'no agent', gbitPerS: await iperf(lab, client, server, durationS), agentCpuS: null });
    for (const mode of ['control', 'headers'] as const) {
      runs.push(await withAgent(lab, node, client, server, mode, durationS));
    }
    return runs;
  } finally {
    await lab.destroy();
  }
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
