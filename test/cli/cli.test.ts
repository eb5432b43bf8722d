import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';
import { CLI_PATH } from '../support/agent-process';

function run(args: string[], prefix: string[] = []): { code: number | null; stdout: string; stderrLines: string[] } {
  const [command, ...rest] = prefix.length > 0 ? [...prefix, process.execPath] : [process.execPath];
  const result = spawnSync(command, [...rest, CLI_PATH, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderrLines: result.stderr.split('\n').filter((line) => line !== '') };
}

test('an unknown flag is one line on stderr and exit code 2', () => {
  const { code, stdout, stderrLines } = run(['agent', '--no-such-flag']);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.deepEqual(stderrLines, ["rstprobe: unknown option '--no-such-flag' (see rstprobe --help)"]);
});

test('a bad --listen value names the problem and the fix, exit code 2', () => {
  const { code, stderrLines } = run(['agent', '--listen', 'nowhere']);
  assert.equal(code, 2);
  assert.equal(stderrLines.length, 1);
  assert.match(stderrLines[0], /--listen "nowhere" is not HOST:PORT; use e\.g\. 127\.0\.0\.1:7070/);
});

test('a bad choice is refused with the allowed values', () => {
  const { code, stderrLines } = run(['agent', '--kernel-events', 'maybe']);
  assert.equal(code, 2);
  assert.equal(stderrLines.length, 1);
  assert.match(stderrLines[0], /auto, on, off/);
});

const cannotDropCapability = process.getuid?.() !== 0 ? 'needs root to drop a capability with setpriv' : undefined;

test('without CAP_NET_RAW the agent exits 2 with one line naming the capability', { skip: cannotDropCapability }, () => {
  const { code, stderrLines } = run(['agent', '--listen', '127.0.0.1:0'], ['setpriv', '--bounding-set=-net_raw', '--inh-caps=-net_raw']);
  assert.equal(code, 2);
  const userLines = stderrLines.filter((line) => !line.startsWith('{'));
  assert.equal(userLines.length, 1, stderrLines.join('\n'));
  assert.match(userLines[0], /needs CAP_NET_RAW/);
});
