import { readFileSync } from 'node:fs';

/** Capability numbers from linux/capability.h. */
export const CAP_NET_RAW = 13;
export const CAP_SYS_ADMIN = 21;

/** Effective capabilities of this process, from /proc/self/status (proc(5), CapEff). */
export function effectiveCapabilities(statusText = readFileSync('/proc/self/status', 'utf8')): bigint {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return match === null ? 0n : BigInt(`0x${match[1]}`);
}

export function hasCapability(capability: number, capabilities = effectiveCapabilities()): boolean {
  return ((capabilities >> BigInt(capability)) & 1n) === 1n;
}
