import { readdirSync, readFileSync } from 'node:fs';

/**
 * Capturing a chosen set of interfaces on one `any` socket: a prefix in front of
 * the kernel filter lets only frames of those interfaces through (the ancillary
 * load SKF_AD_IFINDEX, linux/filter.h). New interfaces (pod veths) that match a
 * pattern are added by re-attaching the filter, with no restart and no gap.
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
const SKF_AD_OFF = -0x1000;
const SKF_AD_IFINDEX = 8;
/** cBPF jump offsets are 8 bits. */
export const MAX_FILTERED_INTERFACES = 254;
const INSTRUCTION_BYTES = 8;

function instruction(code: number, jt: number, jf: number, k: number): Buffer {
  const bytes = Buffer.alloc(INSTRUCTION_BYTES);
  bytes.writeUInt16LE(code, 0);
  bytes.writeUInt8(jt, 2);
  bytes.writeUInt8(jf, 3);
  bytes.writeUInt32LE(k >>> 0, 4);
  return bytes;
}

/** Prepends "accept only these interface indexes" to an encoded program. */
export function restrictToInterfaces(program: Buffer, ifindexes: readonly number[]): Buffer {
  if (ifindexes.length > MAX_FILTERED_INTERFACES) {
    throw new RangeError(`at most ${MAX_FILTERED_INTERFACES} interfaces can be filtered in the kernel`);
  }
  const count = ifindexes.length;
  const prefix = [instruction(BPF_LD_W_ABS, 0, 0, SKF_AD_OFF + SKF_AD_IFINDEX)];
  ifindexes.forEach((ifindex, i) => {
    // From jeq number i+1 (0-based i), jump over the remaining jeqs and the `ret 0`.
    prefix.push(instruction(BPF_JMP_JEQ_K, count - i, 0, ifindex));
  });
  prefix.push(instruction(BPF_RET_K, 0, 0, 0));
  return Buffer.concat([...prefix, program]);
}

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
