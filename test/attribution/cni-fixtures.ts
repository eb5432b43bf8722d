import * as fs from 'node:fs';
import * as path from 'node:path';
import { cniFilesForPod, type CniFile } from '../lab/cni';

/** CNI files for one pod, in the lab's (libcni + host-local) format. */
export function podCniFiles(options: { name: string; ip: string; uid?: string; containerId?: string; ip6?: string }): CniFile[] {
  const containerId = options.containerId ?? Buffer.from(options.name.padEnd(32, '.')).toString('hex').slice(0, 64);
  const addresses = [{ ip: options.ip, cidr: '10.244.1.0/24' }];
  if (options.ip6 !== undefined) addresses.push({ ip: options.ip6, cidr: 'fd00:244:1::/64' });
  return cniFilesForPod({
    containerId,
    netnsPath: `/var/run/netns/cni-${options.name}`,
    namespace: 'shop',
    name: options.name,
    uid: options.uid ?? `uid-${options.name}`,
    hostIfname: `veth-${options.name}`.slice(0, 15),
    hostMac: '02:00:00:00:00:01',
    podMac: '02:00:00:00:00:02',
    addresses,
  });
}

export function writeCniFiles(dir: string, files: readonly CniFile[]): string[] {
  return files.map((file) => {
    const absolute = path.join(dir, file.relativePath);
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, file.content);
    return absolute;
  });
}

export function removeCniFiles(dir: string, files: readonly CniFile[]): void {
  for (const file of files) if (!path.basename(file.relativePath).startsWith('last_reserved_ip')) fs.rmSync(path.join(dir, file.relativePath), { force: true });
}

/** Polls until `condition` holds (inotify delivery is asynchronous). */
export async function eventually(condition: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
