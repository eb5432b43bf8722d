import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import test from 'node:test';
import { parseCpuStat, parseUnifiedCgroupPath, parseV1CpuCgroup, readCpuThrottling } from '../../src/diagnose/cpu-throttling';
import { processAlive } from '../../src/diagnose/fact-gatherer';
import { ListeningSocketReader, parseListeningPorts } from '../../src/diagnose/listening-sockets';

test('parses LISTEN sockets of /proc/net/tcp and ignores other states', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
    '   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseListeningPorts(text), [8080]);
});

test("reads the listening ports of this process's own network namespace from /proc", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const result = new ListeningSocketReader({ enterNamespace: false }).read(`/proc/${process.pid}/ns/net`);
    assert.ok(result !== null);
    assert.ok(result.ports.includes(port), `${port} not in ${result.ports.join(',')}`);
  } finally {
    server.close();
  }
});

test('an unreadable namespace path gives null, not an error', () => {
  assert.equal(new ListeningSocketReader().read('/nonexistent/netns'), null);
});

test('cpu.stat: throttling counters when the cpu controller is on, null without them', () => {
  const on = 'usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 500\nnr_throttled 20\nthrottled_usec 150000\n';
  assert.deepEqual(parseCpuStat(on, '/kubepods/x'), { cgroupPath: '/kubepods/x', periods: 500, throttledPeriods: 20, throttledUs: 150_000 });
  assert.equal(parseCpuStat('usage_usec 100\nuser_usec 60\n', '/'), null);
  assert.deepEqual(parseCpuStat('nr_periods 10\nnr_throttled 3\nthrottled_time 2500000\n', '/a'), { cgroupPath: '/a', periods: 10, throttledPeriods: 3, throttledUs: 2_500 }, 'cgroup v1 counts ns');
  assert.deepEqual(parseV1CpuCgroup('4:memory:/x\n2:cpu,cpuacct:/kubepods/pod1/c1\n0::/\n'), { controllers: 'cpu,cpuacct', path: '/kubepods/pod1/c1' });
  assert.equal(parseUnifiedCgroupPath('0::/system.slice/x.service\n'), '/system.slice/x.service');
  assert.equal(parseUnifiedCgroupPath('3:cpu:/a\n'), null);
});

test('reading this process’s throttling never throws; an exited pid is not alive', () => {
  const result = readCpuThrottling(process.pid);
  assert.ok(result === null || result.throttledPeriods >= 0);
  assert.equal(readCpuThrottling(2 ** 22 + 7), null);
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(2 ** 22 + 7), false);
});

test('uncached namespace reads are rate-limited: a storm to many pods cannot stall the agent', () => {
  const reader = new ListeningSocketReader({ enterNamespace: false, maxReadsPerSecond: 3, cacheMs: 60_000 });
  const paths = Array.from({ length: 10 }, (_, index) => `/nonexistent/netns-${index}`);
  for (const netnsPath of paths) reader.read(netnsPath);
  assert.ok(reader.skipped >= 6, `skipped ${reader.skipped}`);
  const own = reader.read(`/proc/${process.pid}/ns/net`);
  assert.ok(own === null || Array.isArray(own.ports), 'still answers (or says not read) without throwing');
});
