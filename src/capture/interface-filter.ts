import { readdirSync, readFileSync } from 'node:fs';
import { bpf, SKF_AD_IFINDEX, SKF_AD_OFF, type ProgramItem } from './bpf';

/**
 * Capturing a chosen set of interfaces on one `any` socket: a prefix in front of
 * the kernel filter lets only frames of those interfaces through (the ancillary
 * load SKF_AD_IFINDEX, linux/filter.h). New interfaces (pod veths) that match a
 * pattern are added by re-attaching the filter, with no restart and no gap.
 */

/** cBPF jump offsets are 8 bits: one `jeq` per interface must reach past the rest. */
export const MAX_FILTERED_INTERFACES = 254;

/** Prepends "accept only these interface indexes" to a filter program. */
export function restrictToInterfaces(program: readonly ProgramItem[], ifindexes: readonly number[]): ProgramItem[] {
  if (ifindexes.length > MAX_FILTERED_INTERFACES) {
    throw new RangeError(`at most ${MAX_FILTERED_INTERFACES} interfaces can be filtered in the kernel`);
  }
  return [
    bpf.ldAbs('w', SKF_AD_OFF + SKF_AD_IFINDEX),
    ...ifindexes.map((ifindex) => bpf.jeq(ifindex, INTERFACE_MATCHED)),
    bpf.retK(0),
    bpf.label(INTERFACE_MATCHED),
    ...program,
  ];
}

const INTERFACE_MATCHED = 'interface_matched';

/** Shell-style name patterns (`*`, `?`) as used by --interfaces, e.g. `eth0,veth*`. */
export function interfaceMatcher(patterns: readonly string[]): (name: string) => boolean {
  const regexes = patterns.map(
    (pattern) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`),
  );
  return (name) => regexes.some((regex) => regex.test(name));
}

/** Interfaces of this network namespace by name, from sysfs (sysfs-class-net). */
export function listInterfaces(sysClassNet = '/sys/class/net'): Map<string, number> {
  const interfaces = new Map<string, number>();
  let names: string[];
  try {
    names = readdirSync(sysClassNet);
  } catch {
    return interfaces;
  }
  for (const name of names) {
    try {
      interfaces.set(name, Number(readFileSync(`${sysClassNet}/${name}/ifindex`, 'utf8').trim()));
    } catch {
      // the interface went away between readdir and read
    }
  }
  return interfaces;
}
