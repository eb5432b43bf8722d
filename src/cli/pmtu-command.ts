import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { UsageError } from '../common/errors';
import { createRootLogger, type LogLevel } from '../common/log';
import { readNodeInterfaces } from '../pmtu/interfaces';
import { compareMeasuredPath } from '../pmtu/mismatch';
import { measurePath, type PathMeasurement } from '../pmtu/path-prober';
import { buildPmtuFinding } from '../pmtu/pmtu-finding';
import { readPodInterfaceMtus } from '../pmtu/pod-mtu';
import { requireRawSocketPrivilege } from '../pmtu/probe-socket';
import { parseLabelSelector } from '../pmtu/targets';
import type { PmtuFinding } from '../protocol/finding';
import { addSharedOptions, reportFailure } from './shared';

interface PmtuFlags {
  json: boolean;
  logLevel: LogLevel;
  min?: string;
  max?: string;
  nodeName?: string;
  cniCacheDir: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
/** RFC 791 §3.1: 68 is the smallest MTU an IPv4 link may have; 65535 the largest IP packet. */
const SMALLEST_MTU = 68;
const LARGEST_PACKET = 65_535;

export function registerPmtuCommand(program: Command): void {
  const command = program
    .command('pmtu')
    .description('measure the path MTU to each target (ICMP echo with DF, UDP fallback), find black holes and interfaces larger than the path')
    .argument('<targets...>', 'IPv4/IPv6 addresses or host names');
  addSharedOptions(command)
    .addOption(new Option('--min <bytes>', 'smallest packet size to try (default 576 for IPv4, 1280 for IPv6)'))
    .addOption(new Option('--max <bytes>', 'largest packet size to try (default and cap: the MTU of the route towards the target)'))
    .option('--node-name <name>', 'name of this node in findings (default: $NODE_NAME, else the hostname)')
    .option('--cni-cache-dir <dir>', 'CNI state directory, for the pods\' interface MTUs (may repeat; default /var/lib/cni)', collect, [])
    .action(async (targets: string[], flags: PmtuFlags) => {
      await runPmtu(targets, flags).catch(reportFailure);
    });
}

function parseSize(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < SMALLEST_MTU || value > LARGEST_PACKET) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a packet size: give a whole number of bytes from ${SMALLEST_MTU} to ${LARGEST_PACKET}`);
  }
  return value;
}

/** An address as given, or the first address a host name resolves to. */
async function resolveTarget(target: string): Promise<string> {
  const trimmed = target.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(trimmed) !== 0) return trimmed;
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(trimmed)) {
    throw new UsageError(`${JSON.stringify(target)} is neither an IP address nor a host name: give e.g. 10.0.0.12, fd00::12 or node-b.example`);
  }
  try {
    const [first] = await lookup(trimmed, { all: true, verbatim: true });
    if (first === undefined) throw new Error('no addresses');
    return first.address;
  } catch (err) {
    throw new UsageError(`cannot resolve ${JSON.stringify(target)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the name or give an address`, { cause: err });
  }
}

async function runPmtu(targets: string[], flags: PmtuFlags): Promise<void> {
  const log = createRootLogger(flags.logLevel).child({ component: 'pmtu' });
  const minBytes = parseSize('--min', flags.min);
  const maxBytes = parseSize('--max', flags.max);
  if (minBytes !== undefined && maxBytes !== undefined && minBytes > maxBytes) throw new UsageError(`--min ${minBytes} is above --max ${maxBytes}: swap them`);
  requireRawSocketPrivilege();
  const addresses: string[] = [];
  for (const target of targets) addresses.push(await resolveTarget(target));
  const nodeName = flags.nodeName ?? process.env.NODE_NAME ?? hostname();
  const interfaces = await readNodeInterfaces().catch((err: unknown) => {
    log.warn({ err }, 'cannot list interfaces; the mismatch check covers the route towards each target only');
    return [];
  });
  const pods = await readPodInterfaceMtus({
    cniDirs: flags.cniCacheDir.length > 0 ? flags.cniCacheDir : ['/var/lib/cni'],
    hostMtus: new Map(interfaces.map((link) => [link.ifname, link.mtuBytes])),
  });
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    for (const [index, address] of addresses.entries()) {
      if (controller.signal.aborted) break;
      const measurement = await measurePath(address, { minBytes, maxBytes, signal: controller.signal });
      log.debug({ measurement }, 'measured');
      if (measurement.pmtuBytes === null) {
        process.stderr.write(
          `rstprobe: ${targets[index]} (${address}) answered neither ICMP echo nor UDP probes (${measurement.probes} probes): check that it is up and that a firewall lets ICMP through\n`,
        );
        process.exitCode = 1;
        continue;
      }
      const answered = measurement as PathMeasurement & { pmtuBytes: number };
      const comparison = compareMeasuredPath(address, answered, interfaces, pods);
      const finding = buildPmtuFinding(nodeName, { ip: address, node: null, pod: null }, answered, comparison);
      process.stdout.write(flags.json ? `${JSON.stringify(finding)}\n` : formatPmtuText(targets[index]!, finding, answered));
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

function formatPmtuText(target: string, finding: PmtuFinding, measurement: PathMeasurement): string {
  const name = target === finding.to.ip ? target : `${target} (${finding.to.ip})`;
  const how = finding.blackHole ? 'BLACK HOLE (no ICMP for larger packets)' : finding.icmpSeen ? 'ICMP too-big seen' : 'no limit below the local MTU';
  const flags = finding.mismatch ? '  MISMATCH' : '';
  return [
    `${name}: path MTU ${finding.pmtu} bytes, local ${finding.localMtu} (${measurement.route.ifname}, from ${finding.from.ip}) — ${how}${flags}`,
    `  ${finding.probes} probes in ${finding.durationMs} ms by ${measurement.method === 'udp' ? 'UDP (echo filtered)' : 'ICMP echo'}`,
    `  ${finding.advice}`,
    '',
  ].join('\n');
}

/**
 * The agent's path-MTU flags (`--pmtu-targets`, `--gateway-selector`, `--pmtu-interval`)
 * checked and turned into AgentOptions.pmtu; a bad value is one UsageError line.
 */
export function pmtuAgentOptions(
  targetsText: string | undefined,
  selectorText: string | undefined,
  intervalText: string | undefined,
): { targets: string[]; gatewaySelector?: Record<string, string>; intervalMs?: number } {
  const targets = (targetsText ?? '')
    .split(',')
    .map((target) => target.trim())
    .filter((target) => target !== '');
  for (const target of targets) {
    if (isIP(target) === 0) throw new UsageError(`--pmtu-targets: ${JSON.stringify(target)} is not an IP address: give addresses, comma-separated (e.g. 10.0.0.12,fd00::12)`);
  }
  let gatewaySelector: Record<string, string> | undefined;
  if (selectorText !== undefined) {
    gatewaySelector = parseLabelSelector(selectorText) ?? undefined;
    if (gatewaySelector === undefined) throw new UsageError(`--gateway-selector ${JSON.stringify(selectorText)} is not a label selector: give key=value pairs, comma-separated (e.g. istio=ingressgateway)`);
  }
  let intervalMs: number | undefined;
  if (intervalText !== undefined) {
    const seconds = Number(intervalText);
    if (!Number.isFinite(seconds) || seconds < 1 || seconds > 86_400) throw new UsageError(`--pmtu-interval ${JSON.stringify(intervalText)} is not a number of seconds from 1 to 86400`);
    intervalMs = seconds * 1_000;
  }
  return { targets, gatewaySelector, intervalMs };
}
