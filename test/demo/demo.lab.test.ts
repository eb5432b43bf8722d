import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import type { Finding } from '../../src/protocol/finding';
import { aboutScenario, matchesScenario, SCENARIOS } from '../../src/demo/scenarios';
import { labSkipReason } from '../lab/lab';

/**
 * `rstprobe demo --once --json` end to end, as a user runs it: it builds its lab,
 * drives every failure mode of DESIGN.md, prints the agent's findings as NDJSON and
 * removes the lab. Each scenario must have produced the finding it is there for.
 */
const CLI = path.resolve(__dirname, '../../src/cli/main.js');
const skip = labSkipReason();

describe('rstprobe demo --once', { skip, timeout: 300_000 }, () => {
  const findings: Finding[] = [];
  let stderr = '';
  let exitCode: number | null = null;

  before(async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--once', '--json', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (const line of stdout.split('\n')) if (line.trim() !== '') findings.push(JSON.parse(line) as Finding);
  }, { timeout: 300_000 });

  test('runs one pass, prints where the UI is and what it does, exits 0', () => {
    assert.equal(exitCode, 0, stderr.slice(-3000));
    assert.match(stderr, /rstprobe UI: http:\/\/127\.0\.0\.1:\d+\//);
    for (const scenario of SCENARIOS) assert.ok(stderr.includes(scenario.action), `announces: ${scenario.action}`);
  });

  test('removes every namespace and file of its lab on exit', () => {
    const id = /building lab (demo-[0-9a-f]{8})/.exec(stderr)?.[1];
    assert.ok(id, 'names its lab');
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.equal(namespaces.includes(id), false, `left behind: ${namespaces}`);
    assert.match(stderr, /lab removed/);
  });

  for (const scenario of SCENARIOS) {
    test(`failure mode ${scenario.mode}, ${scenario.id}: the agent reports it as ${scenario.expect.kind}${'cause' in scenario.expect ? ` / ${scenario.expect.cause}` : ''}`, () => {
      const match = findings.find((finding) => matchesScenario(scenario, finding));
      const related = findings.filter((finding) => aboutScenario(scenario, finding));
      assert.ok(match, `no matching finding; findings about it: ${JSON.stringify(related)}; demo output tail: ${stderr.slice(-1500)}`);
      if (match.kind !== 'pmtu') {
        assert.ok(match.evidence.length > 0, 'carries evidence');
        assert.ok(match.advice.length > 0, 'carries advice');
        assert.equal(match.src.pod?.namespace, 'bookinfo', 'the upstream is named from the CNI files');
        assert.equal(match.dst.pod?.name, 'ingress-gateway-0', 'the gateway is named from the CNI files');
      }
    });
  }
});

describe('rstprobe demo stopped with Ctrl-C', { skip, timeout: 120_000 }, () => {
  test('removes its lab and lets the agent remove its tracefs instance, exit code 0', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (!/\[1\/8\]/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.match(stderr, /\[1\/8\]/, stderr);
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000))]);
    assert.equal(code, 0, stderr.slice(-2000));
    const id = /building lab (demo-[0-9a-f]{8})/.exec(stderr)?.[1];
    const agentPid = /agent running \(pid (\d+)\)/.exec(stderr)?.[1];
    assert.ok(id && agentPid, stderr);
    assert.equal(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(id), false, 'namespaces removed');
    const instances = fs.existsSync('/sys/kernel/tracing/instances') ? fs.readdirSync('/sys/kernel/tracing/instances') : [];
    assert.deepEqual(instances.filter((name) => name.startsWith(`rstprobe-${agentPid}-`)), [], 'the agent removed its tracefs instance');
  });
});

describe('rstprobe demo without root', () => {
  test('prints one line naming what is missing and exits 2', { skip: process.getuid?.() === 0 ? undefined : 'runs as root to drop to another uid' }, () => {
    const result = spawnSync(process.execPath, [CLI, 'demo', '--once'], { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 30_000 });
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^rstprobe: rstprobe demo cannot build its lab: the lab needs root.*\(run it with sudo\)$/);
  });
});
