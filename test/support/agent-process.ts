import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Finding } from '../../src/protocol/finding';
import { waitForOutput, type Lab, type LabNetns } from '../lab/lab';

/** The compiled CLI, as `npm install` builds it. */
export const CLI_PATH = path.resolve(__dirname, '../../src/cli/main.js');

/** A running `rstprobe agent --json` and the findings it printed so far. */
export class AgentProcess {
  readonly findings: Finding[] = [];
  stderr = '';
  private buffered = '';
  private readonly waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      const lines = this.buffered.split('\n');
      this.buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') this.findings.push(JSON.parse(line) as Finding);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
  }

  /** Starts an agent inside a lab namespace and waits until it is capturing. */
  static async startInLab(lab: Lab, where: LabNetns, args: readonly string[]): Promise<AgentProcess> {
    const child = lab.spawn(where, process.execPath, [CLI_PATH, 'agent', '--json', ...args]);
    const agent = new AgentProcess(child);
    await waitForOutput(child, /"msg":"agent running"/, 20_000);
    return agent;
  }

  /** Resolves with the first finding (printed so far or later) that satisfies `match`. */
  async waitFor(match: (finding: Finding) => boolean, timeoutMs = 10_000): Promise<Finding> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.findings.find(match);
      if (found !== undefined) return found;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new Error(`no matching finding within ${timeoutMs} ms; findings: ${JSON.stringify(this.findings)}; stderr tail: ${this.stderr.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remainingMs, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
