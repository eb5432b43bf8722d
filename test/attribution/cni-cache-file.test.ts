import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isReservationFileName, parseCniResultFile, parseIpamReservation } from '../../src/attribution/cni-cache-file';
import { podCniFiles } from './cni-fixtures';

const files = podCniFiles({ name: 'web-0', ip: '10.244.1.10', ip6: 'fd00:244:1::10', uid: '11111111-2222-3333-4444-555555555555', containerId: 'ab'.repeat(32) });
const resultText = files.find((file) => file.relativePath.startsWith('results/'))!.content;

describe('CNI result cache file', () => {
  it('reads pod identity, sandbox, netns, both addresses and the host-side veth', () => {
    const parsed = parseCniResultFile(resultText);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, {
      networkName: 'lab',
      containerId: 'ab'.repeat(32),
      ifName: 'eth0',
      netnsPath: '/var/run/netns/cni-web-0',
      namespace: 'shop',
      name: 'web-0',
      podUid: '11111111-2222-3333-4444-555555555555',
      ips: ['10.244.1.10', 'fd00:244:1::10'],
      hostIfname: 'veth-web-0',
    });
  });

  it('a half-written file is an error with a reason, not a throw', () => {
    for (const cut of [0, 1, 10, Math.floor(resultText.length / 2), resultText.length - 1]) {
      const parsed = parseCniResultFile(resultText.slice(0, cut));
      assert.equal(parsed.ok, false, `cut at ${cut}`);
      if (!parsed.ok) assert.match(parsed.reason, /not JSON|half-written/);
    }
  });

  it('rejects other kinds, missing container IDs and addresses that are not CIDRs', () => {
    const base = JSON.parse(resultText);
    const cases: Array<[string, unknown, RegExp]> = [
      ['other kind', { ...base, kind: 'somethingElse' }, /kind/],
      ['array', [base], /object/],
      ['no container', { ...base, containerId: '' }, /containerId/],
      ['no result', { ...base, result: null }, /result/],
      ['bad address', { ...base, result: { ...base.result, ips: [{ address: 'nonsense/24' }] } }, /address/],
    ];
    for (const [name, document, reason] of cases) {
      const parsed = parseCniResultFile(JSON.stringify(document));
      assert.equal(parsed.ok, false, name);
      if (!parsed.ok) assert.match(parsed.reason, reason, name);
    }
  });

  it('a result without Kubernetes args (plain CNI) still gives addresses and sandbox', () => {
    const base = JSON.parse(resultText);
    const parsed = parseCniResultFile(JSON.stringify({ ...base, cniArgs: undefined }));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.podUid, null);
    assert.equal(parsed.value.namespace, null);
    assert.deepEqual(parsed.value.ips, ['10.244.1.10', 'fd00:244:1::10']);
  });
});

describe('host-local reservation file', () => {
  it('reads container ID and ifName, with \\r\\n or \\n', () => {
    assert.deepEqual(parseIpamReservation('lab', '10.244.1.10', `${'ab'.repeat(32)}\r\neth0`), {
      ok: true,
      value: { networkName: 'lab', ip: '10.244.1.10', containerId: 'ab'.repeat(32), ifName: 'eth0' },
    });
    const old = parseIpamReservation('lab', 'fd00:244:1::10', `${'cd'.repeat(32)}\n`);
    assert.ok(old.ok);
    assert.equal(old.value.ifName, null, 'older host-local wrote the container ID alone');
  });

  it('only address-named files are reservations', () => {
    assert.equal(isReservationFileName('10.244.1.10'), true);
    assert.equal(isReservationFileName('fd00:244:1::10'), true);
    assert.equal(isReservationFileName('last_reserved_ip.0'), false);
    assert.equal(isReservationFileName('lock'), false);
  });

  it('an empty (half-written) or garbled reservation is an error', () => {
    assert.equal(parseIpamReservation('lab', '10.244.1.10', '').ok, false);
    assert.equal(parseIpamReservation('lab', '10.244.1.10', '{"json": true}').ok, false);
    assert.equal(parseIpamReservation('lab', 'lock', 'x').ok, false);
  });
});

describe('CNI file parsers on arbitrary input', () => {
  it('never throw: any text, any JSON and any mutation of a real file is a result or a reason', () => {
    const real = JSON.parse(resultText);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.record({ key: fc.constantFrom(...Object.keys(real)), value: fc.jsonValue() }).map(({ key, value }) => JSON.stringify({ ...real, [key]: value })),
          fc.nat({ max: resultText.length }).map((cut) => resultText.slice(0, cut)),
        ),
        (text) => {
          const parsed = parseCniResultFile(text);
          assert.equal(typeof parsed.ok, 'boolean');
          if (parsed.ok) assert.ok(parsed.value.ips.every((ip) => typeof ip === 'string'));
          const reservation = parseIpamReservation('lab', '10.244.1.10', text);
          assert.equal(typeof reservation.ok, 'boolean');
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
