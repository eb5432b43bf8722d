import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { labSkipReason } from '../lab/lab';
import { buildPathLab, runPmtuCli, type LabPath, type PathLab } from './lab-paths';

/**
 * `rstprobe pmtu` on real paths: network namespaces, a fabric with a 1400-byte hop,
 * the kernel's own ICMP, iptables filters and loss. Each case checks the exact answer.
 */
const skip = labSkipReason();

describe('rstprobe pmtu on lab paths', { skip }, () => {
  let built: PathLab;
  const path = (name: string): LabPath => built.paths.find((candidate) => candidate.name === name)!;

  before(async () => {
    built = await buildPathLab('pmtucli');
  });
  after(async () => {
    await built?.lab.destroy();
  });

  async function measure(name: string): Promise<{ finding: import('../../src/protocol/finding').PmtuFinding; wallMs: number }> {
    const chosen = path(name);
    const undo = await chosen.apply();
    try {
      const run = await runPmtuCli(built.lab, chosen.from, [chosen.targetIp]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.findings.length, 1, run.stdout);
      return { finding: run.findings[0]!, wallMs: run.wallMs };
    } finally {
      await undo();
    }
  }

  it('finds 1400 exactly when the hop answers with frag-needed, and says ICMP was seen', async () => {
    const { finding } = await measure('icmp-1400');
    assert.equal(finding.kind, 'pmtu');
    assert.equal(finding.pmtu, 1400);
    assert.equal(finding.icmpSeen, true);
    assert.equal(finding.blackHole, false);
    assert.equal(finding.localMtu, 1500);
    assert.equal(finding.from.ip, '10.210.0.11');
    assert.equal(finding.to.ip, '10.210.0.12');
    assert.ok(finding.probes <= 30, `${finding.probes} probes`);
    // The node's own uplink (1500) is larger than the path: that is a mismatch with the MTU to set.
    assert.equal(finding.mismatch, true);
    assert.match(finding.advice, /uplink eth0 has MTU 1500, 100 bytes more .* set it to 1400/);
  });

  it('finds 1400 exactly through a black hole (frag-needed dropped) and calls it one', async () => {
    const { finding } = await measure('black-hole-1400');
    assert.deepEqual([finding.pmtu, finding.blackHole, finding.icmpSeen], [1400, true, false]);
    assert.ok(finding.probes <= 30, `${finding.probes} probes`);
    assert.match(finding.advice, /allow ICMP type 3 code 4/);
    assert.ok(finding.evidence?.some((line) => /1401-byte packets vanish/.test(line)), JSON.stringify(finding.evidence));
  });

  it('falls back to UDP probes when echo is filtered and still finds 1400', async () => {
    const { finding } = await measure('echo-filtered-1400');
    assert.equal(finding.pmtu, 1400);
    assert.equal(finding.icmpSeen, true);
    assert.ok(finding.evidence?.some((line) => /UDP probes answered by port unreachable/.test(line)), JSON.stringify(finding.evidence));
  });

  it('falls back to UDP over IPv6 too, and finds a black hole with UDP alone (echo and packet-too-big both dropped)', async () => {
    const fabric = built.lab.fabric!;
    const echo = await built.lab.insertRule(fabric, 6, 'FORWARD', ['-p', 'icmpv6', '--icmpv6-type', 'echo-request', '-j', 'DROP']);
    try {
      let run = await runPmtuCli(built.lab, built.nodeA, ['fd00:210::12']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual([run.findings[0]!.pmtu, run.findings[0]!.icmpSeen, run.findings[0]!.blackHole], [1400, true, false]);
      assert.match(run.findings[0]!.evidence?.[0] ?? '', /UDP probes/);
      const tooBig = await built.lab.dropFragNeeded(fabric, [6]);
      try {
        run = await runPmtuCli(built.lab, built.nodeA, ['fd00:210::12']);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual([run.findings[0]!.pmtu, run.findings[0]!.icmpSeen, run.findings[0]!.blackHole], [1400, false, true]);
      } finally {
        await tooBig.remove();
      }
    } finally {
      await echo.remove();
    }
  });

  it('reports a target that answers nothing with one line and exit 1', async () => {
    const run = await runPmtuCli(built.lab, built.nodeA, ['10.210.0.99']);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^rstprobe: 10\.210\.0\.99 \(10\.210\.0\.99\) answered neither ICMP echo nor UDP probes/);
  });

  it('carries 9000 on a jumbo path with no mismatch', async () => {
    const { finding } = await measure('jumbo-9000');
    assert.deepEqual([finding.pmtu, finding.localMtu, finding.blackHole, finding.mismatch], [9000, 9000, false, false]);
    assert.ok(finding.probes <= 30, `${finding.probes} probes`);
  });

  it('measures an IPv6 path (packet too big) exactly', async () => {
    const { finding } = await measure('ipv6-1400');
    assert.deepEqual([finding.pmtu, finding.icmpSeen, finding.blackHole], [1400, true, false]);
    assert.equal(finding.from.ip, 'fd00:210::11');
  });

  it('stays exact on a link that loses 20% of packets', async () => {
    const { finding } = await measure('lossy-1400');
    assert.equal(finding.pmtu, 1400);
    assert.equal(finding.blackHole, false);
  });

  it('stays exact when the lossy link is also a black hole: silence from loss is not taken for the limit', async () => {
    const lossy = await path('lossy-1400').apply();
    const blackHole = await path('black-hole-1400').apply();
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const run = await runPmtuCli(built.lab, built.nodeA, ['10.210.0.12']);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual([run.findings[0]!.pmtu, run.findings[0]!.blackHole], [1400, true], `attempt ${attempt}: ${JSON.stringify(run.findings[0]?.evidence)}`);
      }
    } finally {
      await blackHole();
      await lossy();
    }
  });

  it('takes localMtu from the route\'s own mtu attribute when it has one', async () => {
    await built.lab.exec(built.nodeA, ['ip', 'route', 'add', '10.210.0.12/32', 'via', '10.210.0.1', 'dev', 'eth0', 'onlink', 'mtu', '1300']);
    try {
      const run = await runPmtuCli(built.lab, built.nodeA, ['10.210.0.12']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual([run.findings[0]!.localMtu, run.findings[0]!.pmtu, run.findings[0]!.mismatch], [1300, 1300, false]);
    } finally {
      await built.lab.exec(built.nodeA, ['ip', 'route', 'del', '10.210.0.12/32']);
    }
  });

  it('resolves host names (localhost: loopback carries the largest packet)', async () => {
    const run = await runPmtuCli(built.lab, built.nodeA, ['localhost', '--min', '1280']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.findings.length, 1);
    assert.ok(['127.0.0.1', '::1'].includes(run.findings[0]!.to.ip), run.findings[0]!.to.ip);
    assert.equal(run.findings[0]!.pmtu, 65535);
  });

  it('honours --max: the answer never exceeds it', async () => {
    const run = await runPmtuCli(built.lab, built.nodeA, ['10.210.0.12', '--max', '1300']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.findings[0]!.pmtu, 1300);
  });

  it('exits 2 with one line for a bad target, a bad size and a name that does not resolve', async () => {
    for (const args of [['not an address!'], ['--min', 'big', '10.210.0.12'], ['no-such-host.invalid'], ['10.210.0.12', '--min', '1500', '--max', '1400']]) {
      const run = await runPmtuCli(built.lab, built.nodeA, args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /^rstprobe: /);
    }
  });

  it('exits 2 with one line naming CAP_NET_RAW when run without privilege', async (t) => {
    const probe = await built.lab.exec(built.nodeA, ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', 'true'], { check: false });
    if (probe.code !== 0) {
      t.skip('setpriv cannot drop to uid 65534 here');
      return;
    }
    const run = await runPmtuCli(built.lab, built.nodeA, ['10.210.0.12'], ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /CAP_NET_RAW/);
  });
});
