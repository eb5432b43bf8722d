import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitForOutput, type Lab, type LabNetns } from '../test/lab/lab';
import { metricValue } from './proc-stats';

const CLI_PATH = path.resolve(__dirname, '../src/cli/main.js');

/** An agent in a lab namespace, with its /metrics read from inside that namespace. */
export class BenchAgent {
  private constructor(
    private readonly lab: Lab,
    private readonly where: LabNetns,
    readonly child: ChildProcess,
  ) {}

  static async start(lab: Lab, where: LabNetns, args: readonly string[]): Promise<BenchAgent> {
    // RSTPROBE_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the agent under load.
    const nodeArgs = (process.env.RSTPROBE_BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    const child = lab.spawn(where, process.execPath, [...nodeArgs, CLI_PATH, 'agent', '--json', '--log-level', 'warn', '--listen', '127.0.0.1:7070', ...args]);
    child.stdout?.resume(); // findings are not needed here
    await waitForHealthy(lab, where, child);
    return new BenchAgent(lab, where, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  async metrics(): Promise<{ packets: number; drops: number }> {
    const { stdout } = await this.lab.exec(this.where, [
      process.execPath,
      '-e',
      "require('http').get('http://127.0.0.1:7070/metrics', (r) => { let b = ''; r.on('data', (c) => (b += c)); r.on('end', () => process.stdout.write(b)); })",
    ]);
    return {
      packets: metricValue(stdout, 'rstprobe_packets_captured_total'),
      drops: metricValue(stdout, 'rstprobe_capture_kernel_drops_total'),
    };
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

async function waitForHealthy(lab: Lab, where: LabNetns, child: ChildProcess): Promise<void> {
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`agent exited with ${code}`))));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { stdout } = await lab.exec(
      where,
      [process.execPath, '-e', "require('http').get('http://127.0.0.1:7070/healthz', (r) => console.log(r.statusCode)).on('error', () => console.log(0))"],
      { check: false },
    );
    if (stdout.trim() === '200') return;
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 200)), exited]);
  }
  await waitForOutput(child, /never/, 1); // reports the agent's output in the error
}
