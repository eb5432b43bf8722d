import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/common/log';
import type { MeasureOptions, PathMeasurement } from '../../src/pmtu/path-prober';
import { PmtuScheduler } from '../../src/pmtu/scheduler';
import type { PmtuFinding } from '../../src/protocol/finding';

/** A measurement as measurePath would return it, for a path of `pmtuBytes`. */
function measured(targetIp: string, pmtuBytes: number | null, blackHole = false): PathMeasurement {
  return {
    targetIp,
    family: 4,
    route: { targetIp, family: 4, ifname: 'eth0', sourceIp: '10.0.0.1', gatewayIp: null, routeMtuBytes: null, interfaceMtuBytes: 1500, localMtuBytes: 1500 },
    method: pmtuBytes === null ? null : 'icmp-echo',
    pmtuBytes,
    limitedBy: blackHole ? 'silence' : 'icmp',
    blackHole,
    icmpSeen: !blackHole,
    announcedMtusBytes: [],
    lossSeen: false,
    probes: 11,
    durationMs: 40,
    complete: true,
    srttMs: 1,
    minBytes: 576,
    maxBytes: 1500,
  };
}

function scheduler(targets: string[], measure: (ip: string, options: MeasureOptions) => Promise<PathMeasurement>, published: PmtuFinding[], concurrency = 2): PmtuScheduler {
  return new PmtuScheduler({
    nodeName: 'node-a',
    log: silentLogger(),
    staticTargets: targets,
    cluster: () => null,
    cniDirs: [],
    publish: (finding) => published.push(finding),
    measure,
    concurrency,
  });
}

describe('PmtuScheduler', () => {
  it('publishes a path once, then again only when pmtu, mismatch or black hole change', async () => {
    const published: PmtuFinding[] = [];
    let pmtu = 1400;
    let blackHole = false;
    const pmtuScheduler = scheduler(['10.0.0.2'], async (ip) => measured(ip, pmtu, blackHole), published);
    await pmtuScheduler.runCycle();
    await pmtuScheduler.runCycle();
    assert.equal(published.length, 1);
    assert.deepEqual([published[0]!.pmtu, published[0]!.mismatch, published[0]!.from.ip, published[0]!.to.ip], [1400, true, '10.0.0.1', '10.0.0.2']);
    blackHole = true;
    await pmtuScheduler.runCycle();
    pmtu = 1300;
    await pmtuScheduler.runCycle();
    await pmtuScheduler.runCycle();
    assert.deepEqual(published.map((finding) => [finding.pmtu, finding.blackHole]), [[1400, false], [1400, true], [1300, true]]);
    await pmtuScheduler.stop();
  });

  it('measures a few targets at a time, and a target without an answer publishes nothing', async () => {
    const published: PmtuFinding[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const targets = Array.from({ length: 7 }, (_, i) => `10.0.1.${i + 1}`);
    const pmtuScheduler = scheduler(
      targets,
      async (ip) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight -= 1;
        return measured(ip, ip.endsWith('.7') ? null : 1500);
      },
      published,
      3,
    );
    await pmtuScheduler.runCycle();
    assert.equal(maxInFlight, 3);
    assert.equal(published.length, 6);
    await pmtuScheduler.stop();
  });

  it('aborts a measurement in flight at stop, and a failed measurement is logged, not thrown', async () => {
    const published: PmtuFinding[] = [];
    let aborted = false;
    const pmtuScheduler = scheduler(
      ['10.0.0.2', '10.0.0.3'],
      (ip, options) =>
        new Promise((resolve, reject) => {
          if (ip === '10.0.0.3') {
            reject(new Error('no route'));
            return;
          }
          options.signal?.addEventListener('abort', () => {
            aborted = true;
            resolve(measured(ip, null));
          });
        }),
      published,
    );
    const cycle = pmtuScheduler.runCycle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pmtuScheduler.stop();
    await cycle;
    assert.equal(aborted, true);
    assert.equal(published.length, 0);
  });
});
