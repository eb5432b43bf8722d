import { performance } from 'node:perf_hooks';
import type { Lab, LabNode } from '../test/lab/lab';
import { buildPathLab, runPmtuCli, type LabPath } from '../test/pmtu/lab-paths';

/**
 * Path-MTU bench (issue 5): on each lab path (test/pmtu/lab-paths.ts) rstprobe's
 * answer, probe count and time side by side with `tracepath -n` (capped at 20 s: it
 * hangs on a black hole) and a `ping -M do` bisection, all run in the same lab.
 * Targets: exact on every path; ≤ 1 s and ≤ 30 probes on loss-free paths.
 *
 * rstprobe's time is the finding's `durationMs` (route lookup to answer, what the
 * agent spends per path); the CLI's process wall time, Node start included, is
 * printed beside it. Each tool starts from a cold kernel: the namespace's learnt
 * PMTU exceptions are flushed first (`ip route flush cache`), so none profits from
 * what another learnt.
 */
const TRACEPATH_CAP_S = 20;

interface ToolResult {
  pmtu: number | null;
  probes: number | null;
  ms: number;
}

interface PathRow {
  path: LabPath;
  rstprobe: ToolResult & { processMs: number; blackHole: boolean };
  tracepath: ToolResult & { capped: boolean };
  ping: ToolResult;
}

/** Bisection with `ping -M do` (DF set), one ping per size: how it is usually done by hand. */
function pingBisectionScript(target: string, family: 4 | 6, minBytes: number, maxBytes: number): string {
  const overhead = family === 4 ? 28 : 48;
  return `
    lo=${minBytes}; hi=${maxBytes}; probes=0
    fits() { probes=$((probes+1)); ping -${family} -n -q -M do -c 1 -W 1 -s $(($1 - ${overhead})) ${target} >/dev/null 2>&1; }
    if fits $hi; then lo=$hi; else
      while [ $((hi - lo)) -gt 1 ]; do mid=$(((lo + hi) / 2)); if fits $mid; then lo=$mid; else hi=$mid; fi; done
    fi
    echo "$lo $probes"`;
}

async function flushLearntPmtu(lab: Lab, node: LabNode, family: 4 | 6): Promise<void> {
  await lab.exec(node, ['ip', `-${family}`, 'route', 'flush', 'cache'], { check: false });
}

async function measureRow(lab: Lab, path: LabPath): Promise<PathRow> {
  const family: 4 | 6 = path.targetIp.includes(':') ? 6 : 4;
  const undo = await path.apply();
  try {
    await flushLearntPmtu(lab, path.from, family);
    const cli = await runPmtuCli(lab, path.from, [path.targetIp]);
    const finding = cli.findings[0];
    const rstprobe = {
      pmtu: finding?.pmtu ?? null,
      probes: finding?.probes ?? null,
      ms: finding?.durationMs ?? cli.wallMs,
      processMs: cli.wallMs,
      blackHole: finding?.blackHole ?? false,
    };

    await flushLearntPmtu(lab, path.from, family);
    let startedMs = performance.now();
    const trace = await lab.exec(path.from, ['timeout', String(TRACEPATH_CAP_S), 'tracepath', '-n', `-${family}`, path.targetIp], { check: false, timeoutMs: (TRACEPATH_CAP_S + 5) * 1_000 });
    const traceMs = performance.now() - startedMs;
    const resume = /pmtu (\d+)/.exec(/Resume:.*$/m.exec(trace.stdout)?.[0] ?? '');
    const tracepath = { pmtu: resume === null ? null : Number(resume[1]), probes: null, ms: traceMs, capped: trace.code === 124 };

    await flushLearntPmtu(lab, path.from, family);
    startedMs = performance.now();
    const maxBytes = path.expectedPmtu > 1500 ? path.expectedPmtu : 1500;
    const bisect = await lab.exec(path.from, ['bash', '-c', pingBisectionScript(path.targetIp, family, family === 4 ? 576 : 1280, maxBytes)], { check: false, timeoutMs: 120_000 });
    const [answer, probes] = bisect.stdout.trim().split(/\s+/).map(Number);
    const ping = { pmtu: answer !== undefined && answer >= (family === 4 ? 577 : 1281) ? answer : null, probes: probes ?? null, ms: performance.now() - startedMs };
    return { path, rstprobe, tracepath, ping };
  } finally {
    await undo();
  }
}

export async function runPmtuBench(check: (ok: boolean, text: string) => void): Promise<void> {
  const built = await buildPathLab('pmtubench');
  const rows: PathRow[] = [];
  try {
    for (const path of built.paths) rows.push(await measureRow(built.lab, path));
  } finally {
    await built.lab.destroy();
  }
  const show = (value: number | null): string => (value === null ? '-' : String(value));
  console.log('\nPath MTU: rstprobe pmtu vs tracepath -n (20 s cap) vs a ping -M do bisection, same lab, cold kernel cache each');
  console.table(
    Object.fromEntries(
      rows.map((row) => [
        row.path.name,
        {
          expected: row.path.expectedPmtu,
          'rstprobe pmtu': show(row.rstprobe.pmtu),
          'rstprobe probes': show(row.rstprobe.probes),
          'rstprobe ms': Math.round(row.rstprobe.ms),
          'rstprobe process ms': Math.round(row.rstprobe.processMs),
          'tracepath pmtu': row.tracepath.capped ? `- (hung, killed at ${TRACEPATH_CAP_S} s)` : show(row.tracepath.pmtu),
          'tracepath ms': Math.round(row.tracepath.ms),
          'ping-bisect pmtu': show(row.ping.pmtu),
          'ping-bisect probes': show(row.ping.probes),
          'ping-bisect ms': Math.round(row.ping.ms),
        },
      ]),
    ),
  );
  for (const row of rows) {
    const name = row.path.name;
    const ratio = row.ping.ms > 0 ? ` (${(row.rstprobe.ms / row.ping.ms).toFixed(2)}× the ping bisection's time, ${row.tracepath.pmtu === row.path.expectedPmtu ? 'tracepath exact' : 'tracepath wrong or silent'})` : '';
    check(row.rstprobe.pmtu === row.path.expectedPmtu, `pmtu ${name}: rstprobe says ${show(row.rstprobe.pmtu)}, expected ${row.path.expectedPmtu}${ratio}`);
    if (row.path.blackHole) check(row.rstprobe.blackHole, `pmtu ${name}: rstprobe calls it a black hole`);
    if (!row.path.lossy) {
      check(row.rstprobe.ms <= 1_000, `pmtu ${name}: ${Math.round(row.rstprobe.ms)} ms (target ≤ 1 s)`);
      check((row.rstprobe.probes ?? Infinity) <= 30, `pmtu ${name}: ${show(row.rstprobe.probes)} probes (target ≤ 30)`);
    }
  }
}
