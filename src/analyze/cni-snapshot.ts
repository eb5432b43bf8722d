import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCniCacheDirArgument } from '../attribution/cni-cache';
import { parseCniResultFile } from '../attribution/cni-cache-file';
import type { IpOwnershipMap } from '../attribution/ip-map';
import { UsageError } from '../common/errors';

/**
 * `analyze --cni-cache-dir [NODE=]DIR`: a node's CNI state (or a copy of it) read
 * once, its pods' addresses claimed for all of the capture's time. The live agent
 * watches these files and claims from their mtime; a capture may be older than
 * the files, and a copy has no meaningful mtimes, so offline the cache is taken
 * as true for the whole capture. Results only (results/<network>-<id>-<if>): the
 * IPAM reservations name no pod.
 * Returns the number of pod addresses claimed; unparsable files are skipped and
 * counted in `skipped`.
 */
export function claimCniCacheDir(map: IpOwnershipMap, argument: string): { addresses: number; skipped: string[] } {
  const { dir, nodeName } = parseCniCacheDirArgument(argument);
  const resultsDir = path.join(dir, 'results');
  let names: string[];
  try {
    names = readdirSync(resultsDir);
  } catch (err) {
    throw new UsageError(`--cni-cache-dir ${argument}: cannot read ${resultsDir} (${(err as Error).message}); give a CNI state directory like /var/lib/cni, or NODE=DIR for another node's copy`, { cause: err });
  }
  let addresses = 0;
  const skipped: string[] = [];
  for (const name of names.sort()) {
    const file = path.join(resultsDir, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      skipped.push(file);
      continue;
    }
    const parsed = parseCniResultFile(text);
    if (!parsed.ok || parsed.value.namespace === null || parsed.value.name === null) {
      skipped.push(file);
      continue;
    }
    const { namespace, name: podName, podUid, containerId, ips } = parsed.value;
    for (const ip of ips) {
      map.claim(ip, { kind: 'pod', key: podUid ?? `sandbox/${containerId}`, pod: { namespace, name: podName, uid: podUid ?? '' }, node: nodeName, service: null }, 0, 'cni');
      addresses++;
    }
  }
  return { addresses, skipped };
}
