import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCgroupPath, parseProcCgroup } from '../../src/attribution/cgroup';
import { ProcessResolver } from '../../src/attribution/process';

const ID = '3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e';
const UID = '8f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8';
const UID_ = UID.replace(/-/g, '_');

/** /proc/<pid>/cgroup as real nodes show it, one fixture per runtime and driver. */
const FIXTURES: Array<{ name: string; text: string; containerId: string | null; runtime: string | null; podUid: string | null }> = [
  {
    name: 'containerd, systemd driver, cgroup v2',
    text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    containerId: ID,
    runtime: 'containerd',
    podUid: UID,
  },
  {
    name: 'containerd, cgroupfs driver, cgroup v2',
    text: `0::/kubepods/burstable/pod${UID}/${ID}\n`,
    containerId: ID,
    runtime: 'unknown',
    podUid: UID,
  },
  {
    name: 'guaranteed QoS (no class slice), systemd driver',
    text: `0::/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    containerId: ID,
    runtime: 'containerd',
    podUid: UID,
  },
  {
    name: 'CRI-O, systemd driver',
    text: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope\n`,
    containerId: ID,
    runtime: 'cri-o',
    podUid: UID,
  },
  {
    name: "CRI-O's conmon is the monitor, not the container",
    text: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${ID}.scope\n`,
    containerId: null,
    runtime: null,
    podUid: UID,
  },
  {
    name: 'Docker under the kubelet (cri-dockerd), systemd driver',
    text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/docker-${ID}.scope\n`,
    containerId: ID,
    runtime: 'docker',
    podUid: UID,
  },
  {
    name: 'plain Docker, cgroupfs',
    text: `0::/docker/${ID}\n`,
    containerId: ID,
    runtime: 'docker',
    podUid: null,
  },
  {
    name: 'plain Docker, systemd',
    text: `0::/system.slice/docker-${ID}.scope\n`,
    containerId: ID,
    runtime: 'docker',
    podUid: null,
  },
  {
    name: 'cgroup v1, several hierarchies (cgroupfs driver, containerd)',
    text: [
      `12:pids:/kubepods/burstable/pod${UID}/${ID}`,
      `11:hugetlb:/kubepods/burstable/pod${UID}/${ID}`,
      `5:memory:/kubepods/burstable/pod${UID}/${ID}`,
      `1:name=systemd:/kubepods/burstable/pod${UID}/${ID}`,
      `0::/`,
      '',
    ].join('\n'),
    containerId: ID,
    runtime: 'unknown',
    podUid: UID,
  },
  {
    name: 'cgroup v1 where only some hierarchies name the container',
    text: [`12:pids:/`, `4:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, `1:name=systemd:/init.scope`, ''].join('\n'),
    containerId: ID,
    runtime: 'containerd',
    podUid: UID,
  },
  {
    name: 'a host process (systemd service)',
    text: '0::/system.slice/kubelet.service\n',
    containerId: null,
    runtime: null,
    podUid: null,
  },
  {
    name: 'a process in its pod slice but outside any container',
    text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice\n`,
    containerId: null,
    runtime: null,
    podUid: UID,
  },
  {
    name: 'kind / nested: the innermost container wins',
    text: `0::/system.slice/docker-${'a'.repeat(64)}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`,
    containerId: ID,
    runtime: 'containerd',
    podUid: UID,
  },
  { name: 'empty', text: '', containerId: null, runtime: null, podUid: null },
  { name: 'garbage', text: 'not a cgroup file\n::\n0::/docker/xyz\n', containerId: null, runtime: null, podUid: null },
];

describe('cgroup path parsing', () => {
  for (const fixture of FIXTURES) {
    it(fixture.name, () => {
      assert.deepEqual(parseProcCgroup(fixture.text), { containerId: fixture.containerId, runtime: fixture.runtime, podUid: fixture.podUid });
    });
  }

  it('never throws, and a container ID it reports is always 64 hex characters', () => {
    const segments = fc.constantFrom('kubepods', 'burstable', `pod${UID}`, `kubepods-burstable-pod${UID_}.slice`, `cri-containerd-${ID}.scope`, `crio-conmon-${ID}.scope`, ID, 'docker', 'system.slice', '');
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.array(segments).map((parts) => `0::/${parts.join('/')}`))), (lines) => {
        const identity = parseProcCgroup(lines.join('\n'));
        if (identity.containerId !== null) assert.match(identity.containerId, /^[0-9a-f]{64}$/);
        if (identity.podUid !== null) assert.equal(identity.podUid, UID);
      }),
      { numRuns: 2_000 },
    );
  });

  it('parses one path on its own', () => {
    assert.equal(parseCgroupPath(`/kubepods/besteffort/pod${UID}/${ID}`).containerId, ID);
  });
});

describe('ProcessResolver', () => {
  const procRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-proc-'));
  after(() => fs.rmSync(procRoot, { recursive: true, force: true }));

  function fakeProcess(pid: number, comm: string, cgroup: string | null): void {
    const dir = path.join(procRoot, String(pid));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'comm'), `${comm}\n`);
    if (cgroup !== null) fs.writeFileSync(path.join(dir, 'cgroup'), cgroup);
  }

  it('reads comm and container from proc files', () => {
    fakeProcess(4242, 'envoy', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope\n`);
    const resolver = new ProcessResolver({ procRoot });
    assert.deepEqual(resolver.resolve(4242, null), { pid: 4242, comm: 'envoy', containerId: ID, runtime: 'containerd', podUid: UID, alive: true });
  });

  it('a pid gone by the time we look keeps the kernel event comm and has no container: reported as far as we got', () => {
    const resolver = new ProcessResolver({ procRoot });
    assert.deepEqual(resolver.resolve(99999, 'java'), { pid: 99999, comm: 'java', containerId: null, runtime: null, podUid: null, alive: false });
    assert.equal(resolver.resolve(99998, null).comm, null, 'no comm is invented');
  });

  it('caches for the TTL, then reads again (pids are reused)', () => {
    let nowMs = 0;
    fakeProcess(5000, 'old', '0::/system.slice/a.service\n');
    const resolver = new ProcessResolver({ procRoot, ttlMs: 1_000, now: () => nowMs });
    assert.equal(resolver.resolve(5000).comm, 'old');
    fakeProcess(5000, 'new', `0::/docker/${ID}\n`);
    nowMs = 500;
    assert.equal(resolver.resolve(5000).comm, 'old', 'within the TTL');
    nowMs = 1_500;
    const fresh = resolver.resolve(5000);
    assert.equal(fresh.comm, 'new');
    assert.equal(fresh.containerId, ID);
  });

  it('reads the real /proc for this test process', () => {
    const identity = new ProcessResolver().resolve(process.pid);
    assert.equal(identity.alive, true);
    assert.equal(identity.comm, fs.readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
    assert.deepEqual(
      { containerId: identity.containerId, podUid: identity.podUid },
      (({ containerId, podUid }) => ({ containerId, podUid }))(parseProcCgroup(fs.readFileSync(`/proc/${process.pid}/cgroup`, 'utf8'))),
    );
  });
});
