import { performance } from 'node:perf_hooks';
import type { PmtuFinding } from '../../src/protocol/finding';
import { CLI_PATH } from '../support/agent-process';
import { Lab, type LabNode } from '../lab/lab';

/**
 * The paths of issue 5, built once in one lab for the tests and the bench:
 *
 *   node-a (1500) ─┐                ┌─ node-b: the fabric's port towards it has MTU 1400
 *                  ├── fabric ──────┤
 *   node-j1 (9000)─┘                └─ node-j2 (9000): a jumbo path j1 → j2
 *
 * Each path's `apply()` adds its condition in the fabric (ICMP filter, echo filter,
 * loss) and returns the undo. Loss is `tc netem loss 20%` on the fabric's port
 * towards node-b; kernels without sch_netem get the same drop rate from iptables'
 * statistic match on that port instead.
 */
export interface LabPath {
  name: string;
  description: string;
  from: LabNode;
  targetIp: string;
  expectedPmtu: number;
  lossy: boolean;
  blackHole: boolean;
  apply(): Promise<() => Promise<void>>;
}

export interface PathLab {
  lab: Lab;
  nodeA: LabNode;
  nodeB: LabNode;
  paths: LabPath[];
}

export const PATH_MTU_BYTES = 1400;
export const JUMBO_MTU_BYTES = 9000;
const LOSS_PERCENT = 20;

export async function buildPathLab(prefix: string): Promise<PathLab> {
  const lab = await Lab.create({ prefix });
  try {
    const fabric = await lab.addFabric();
    const nodeA = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24', underlayIp6: 'fd00:210::11', podCidr6: 'fd00:244:1::/64' });
    const nodeB = await lab.addNode('node-b', { underlayIp: '10.210.0.12', podCidr: '10.244.2.0/24', underlayIp6: 'fd00:210::12', podCidr6: 'fd00:244:2::/64' });
    const jumboA = await lab.addNode('node-j1', { underlayIp: '10.210.0.21', podCidr: '10.244.21.0/24', uplinkMtu: JUMBO_MTU_BYTES });
    const jumboB = await lab.addNode('node-j2', { underlayIp: '10.210.0.22', podCidr: '10.244.22.0/24', uplinkMtu: JUMBO_MTU_BYTES });
    await lab.setMtu(fabric, nodeB.fabricIfname, PATH_MTU_BYTES);
    const none = async (): Promise<() => Promise<void>> => async () => undefined;
    const base = { from: nodeA, targetIp: nodeB.underlayIp, expectedPmtu: PATH_MTU_BYTES, lossy: false, blackHole: false };
    const paths: LabPath[] = [
      { ...base, name: 'icmp-1400', description: '1400-byte hop, ICMP frag-needed allowed', apply: none },
      {
        ...base,
        name: 'black-hole-1400',
        description: '1400-byte hop, ICMP frag-needed dropped',
        blackHole: true,
        apply: async () => {
          const rule = await lab.dropFragNeeded(fabric);
          return () => rule.remove();
        },
      },
      {
        ...base,
        name: 'echo-filtered-1400',
        description: '1400-byte hop, echo requests dropped (UDP fallback)',
        apply: async () => {
          const rule = await lab.insertRule(fabric, 4, 'FORWARD', ['-p', 'icmp', '--icmp-type', 'echo-request', '-d', nodeB.underlayIp, '-j', 'DROP']);
          return () => rule.remove();
        },
      },
      { ...base, name: 'jumbo-9000', description: '9000-byte links end to end', from: jumboA, targetIp: jumboB.underlayIp, expectedPmtu: JUMBO_MTU_BYTES, apply: none },
      { ...base, name: 'ipv6-1400', description: 'IPv6, 1400-byte hop, packet-too-big allowed', targetIp: nodeB.underlayIp6!, apply: none },
      {
        ...base,
        name: 'lossy-1400',
        description: `1400-byte hop, ${LOSS_PERCENT}% loss`,
        lossy: true,
        apply: async () => {
          const netem = await lab.tc(fabric, ['qdisc', 'add', 'dev', nodeB.fabricIfname, 'root', 'netem', 'loss', `${LOSS_PERCENT}%`]).catch(() => null);
          if (netem !== null) return async () => void (await lab.tc(fabric, ['qdisc', 'del', 'dev', nodeB.fabricIfname, 'root']));
          const rule = await lab.insertRule(fabric, 4, 'FORWARD', ['-o', nodeB.fabricIfname, '-m', 'statistic', '--mode', 'random', '--probability', String(LOSS_PERCENT / 100), '-j', 'DROP']);
          return () => rule.remove();
        },
      },
    ];
    return { lab, nodeA, nodeB, paths };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  findings: PmtuFinding[];
  wallMs: number;
}

/** Runs the real `rstprobe pmtu --json …` inside a lab namespace. */
export async function runPmtuCli(lab: Lab, from: LabNode, args: readonly string[], prefix: readonly string[] = []): Promise<CliRun> {
  const startedMs = performance.now();
  const result = await lab.exec(from, [...prefix, process.execPath, CLI_PATH, 'pmtu', '--json', ...args], { check: false, timeoutMs: 60_000 });
  const wallMs = performance.now() - startedMs;
  const findings = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as PmtuFinding);
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, findings, wallMs };
}
