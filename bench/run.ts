import { reportAggregatorBench } from './aggregator';
import { reportAnalyzeBench } from './analyze';
import { runAttributionBench } from './attribution';
import { runBackgroundCost } from './background-cost';
import { reportDiagnosisBench } from './diagnosis';
import { reportClusterMap } from './cluster-map';
import { runPmtuBench } from './pmtu';
import { runRstStorm } from './rst-storm';

/**
 * `npm run bench`: the agent measured against its peers in the same run, on this
 * machine, in network namespaces the bench builds itself. Needs root.
 * Targets (issue "Foundation"): storm ≥ 99.9% of tcpdump's packets with 0 kernel
 * drops and ≤ 3× its CPU; control mode keeps ≥ 97% of throughput; RSS ≤ 120 MB.
 */
async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, packet capture); run it with sudo\n');
    process.exitCode = 2;
    return;
  }
  const only = process.argv[2];
  const verdicts: string[] = [];
  const check = (ok: boolean, text: string): void => void verdicts.push(`${ok ? 'PASS' : 'FAIL'} ${text}`);

  if (only === undefined || only === 'storm') {
    const storm = await runRstStorm(5);
    const share = storm.agent.packets / storm.tcpdump.packets;
    const cpuRatio = storm.agent.cpuS / storm.tcpdump.cpuS;
    console.log(`\nRST storm: hping3 --flood -R for ${storm.durationS} s, one pod veth captured by both`);
    console.table({
      'rstprobe agent': { packets: storm.agent.packets, 'kernel drops': storm.agent.drops, 'CPU s': storm.agent.cpuS.toFixed(2) },
      'tcpdump -w /dev/null': { packets: storm.tcpdump.packets, 'kernel drops': storm.tcpdump.drops, 'CPU s': storm.tcpdump.cpuS.toFixed(2) },
    });
    console.log(`packets seen: agent/tcpdump = ${(share * 100).toFixed(3)}%  ·  CPU: agent/tcpdump = ${cpuRatio.toFixed(2)}×  ·  rate ≈ ${Math.round(storm.tcpdump.packets / storm.durationS)} pkt/s`);
    console.log(`agent CPU: ${storm.agent.userS.toFixed(2)} s user, ${(storm.agent.cpuS - storm.agent.userS).toFixed(2)} s system`);
    console.log(`agent RSS: idle ${storm.agent.rssIdleMiB.toFixed(1)} MiB, after the storm ${storm.agent.rssAfterMiB.toFixed(1)} MiB`);
    check(share >= 0.999, `storm: agent saw ${(share * 100).toFixed(3)}% of tcpdump's packets (target ≥ 99.9%)`);
    check(storm.agent.drops === 0, `storm: ${storm.agent.drops} kernel drops (target 0)`);
    check(cpuRatio <= 3, `storm: ${cpuRatio.toFixed(2)}× tcpdump's CPU (target ≤ 3×)`);
    check(storm.agent.rssAfterMiB <= 120 && storm.agent.rssIdleMiB <= 120, `memory: ${storm.agent.rssAfterMiB.toFixed(1)} MiB after the storm (target ≤ 120 MB)`);
  }

  if (only === undefined || only === 'background') {
    const runs = await runBackgroundCost(10);
    console.log('\nBackground cost: iperf3 between two pod namespaces, 10 s each, three rounds in turn (medians)');
    console.table(
      Object.fromEntries(
        runs.map((run) => [run.label, { 'Gbit/s': run.gbitPerS.toFixed(2), 'of baseline': `${((run.gbitPerS / runs[0].gbitPerS) * 100).toFixed(1)}%`, 'agent CPU s': run.agentCpuS?.toFixed(2) ?? '-' }]),
      ),
    );
    const control = runs.find((run) => run.label.includes('control'))!;
    check(control.gbitPerS / runs[0].gbitPerS >= 0.97, `background: control mode keeps ${((control.gbitPerS / runs[0].gbitPerS) * 100).toFixed(1)}% of throughput (target ≥ 97%)`);
  }

  if (only === undefined || only === 'attribution') {
    const attr = await runAttributionBench();
    console.log(`\nNode-local attribution: ${attr.pods} pods in a CNI state directory, ${attr.addedPods} more added while watching`);
    console.log(`initial read ${attr.initialReadMs.toFixed(0)} ms  ·  inotify pickup p50 ${attr.pickupP50Ms.toFixed(1)} ms, p99 ${attr.pickupP99Ms.toFixed(1)} ms, max ${attr.pickupMaxMs.toFixed(1)} ms (the resync would take up to 30,000 ms)`);
    console.table({
      'IpOwnershipMap.lookup (peer)': { 'ns/call': attr.mapLookupNs.toFixed(0) },
      'ClusterAttributor.endpoint': { 'ns/call': attr.attributorNs.toFixed(0), 'vs map': `${(attr.attributorNs / attr.mapLookupNs).toFixed(2)}×` },
      'LocalAddressAttributor.endpoint (peer)': { 'ns/call': attr.localOnlyNs.toFixed(0) },
    });
    check(attr.attributorNs <= 5_000, `attribution: ${(attr.attributorNs / 1000).toFixed(2)} µs per endpoint (target ≤ 5 µs)`);
    check(attr.pickupP99Ms <= 250, `attribution: new pod named ${attr.pickupP99Ms.toFixed(1)} ms after its CNI files at p99 (target ≤ 250 ms)`);
    check(attr.initialReadMs <= 1_000, `attribution: ${attr.pods} pods read in ${attr.initialReadMs.toFixed(0)} ms (target ≤ 1 s)`);
    check(attr.reuseCorrect, 'attribution: a reused IP names the old pod before the reuse and the new one after');
  }

  if (only === undefined || only === 'pmtu') {
    // Issue 5: exact on every lab path; ≤ 1 s and ≤ 30 probes on loss-free ones (bench/pmtu.ts).
    await runPmtuBench(check);
  }

  if (only === undefined || only === 'cluster-map') {
    // Issue 3: 150,000 pods and 5,000 nodes; watcher RSS ≤ 250 MB, ≤ 5 µs per (ip, time) lookup (bench/cluster-map.ts).
    await reportClusterMap(check);
  }

  if (only === undefined || only === 'aggregator') {
    // Issue 6: 1,000 agents × 10 findings/s for 30 s, all ingested, p99 ack ≤ 100 ms, RSS ≤ 500 MB; lab RST → API p50/p99 (bench/aggregator.ts).
    await reportAggregatorBench(check);
  }

  if (only === undefined || only === 'analyze') {
    // Issue 7: `rstprobe analyze` on a 2M-packet capture (pcap, pcapng) vs tcpdump -r and tshark -r (bench/analyze.ts).
    await reportAnalyzeBench(check);
  }

  if (only === undefined || only === 'diagnosis') {
    // Issue 4: a recorded 1M-packet headers stream through flows + diagnosis: ≥ 1M packets/s, ≤ 200 MB (bench/diagnosis.ts).
    await reportDiagnosisBench(check);
  }

  console.log(`\n${verdicts.join('\n')}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
