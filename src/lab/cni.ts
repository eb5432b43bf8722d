/**
 * CNI files the lab writes for each pod, shaped like the ones containerd (libcni)
 * and the host-local IPAM plugin leave on a real node (DESIGN.md, "CNI result cache"):
 *   results/<network>-<containerId>-<ifName>   libcni's cachedInfo (containernetworking/cni
 *                                               libcni/api.go: kind "cniCacheV1", config as
 *                                               base64 bytes, result = the plugin's Result)
 *   networks/<network>/<ip>                     host-local's reservation: "<containerId>\r\n<ifName>"
 *                                               (plugins/ipam/host-local/backend/disk/backend.go)
 *   networks/<network>/last_reserved_ip.<range>
 * Pure: builds paths and contents, the lab writes them.
 */
import * as path from 'node:path';

export const LAB_NETWORK_NAME = 'lab';
export const POD_IFNAME = 'eth0';

export interface CniPodSpec {
  readonly containerId: string;
  readonly netnsPath: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly hostIfname: string;
  readonly hostMac: string;
  readonly podMac: string;
  /** Pod address and the node's pod CIDR, one entry per family (IPv4 first). */
  readonly addresses: readonly { readonly ip: string; readonly cidr: string }[];
}

export interface CniFile {
  /** Relative to the node's CNI directory. */
  readonly relativePath: string;
  readonly content: string;
}

export function cniResultFileName(containerId: string, network = LAB_NETWORK_NAME, ifName = POD_IFNAME): string {
  return `${network}-${containerId}-${ifName}`;
}

/** The conflist the cache's `config` field carries (base64), like ptp + host-local. */
export function labConflist(cidrs: readonly string[]): object {
  return {
    cniVersion: '1.0.0',
    name: LAB_NETWORK_NAME,
    plugins: [
      {
        type: 'ptp',
        ipMasq: false,
        ipam: { type: 'host-local', ranges: cidrs.map((subnet) => [{ subnet }]), routes: cidrs.map((cidr) => ({ dst: isIpv6(cidr) ? '::/0' : '0.0.0.0/0' })) },
      },
    ],
  };
}

export function cniFilesForPod(spec: CniPodSpec): CniFile[] {
  const cidrs = spec.addresses.map((a) => a.cidr);
  const cache = {
    kind: 'cniCacheV1',
    containerId: spec.containerId,
    config: Buffer.from(JSON.stringify(labConflist(cidrs))).toString('base64'),
    ifName: POD_IFNAME,
    networkName: LAB_NETWORK_NAME,
    netns: spec.netnsPath,
    cniArgs: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', spec.namespace],
      ['K8S_POD_NAME', spec.name],
      ['K8S_POD_INFRA_CONTAINER_ID', spec.containerId],
      ['K8S_POD_UID', spec.uid],
    ],
    capabilityArgs: { 'io.kubernetes.cri.pod-annotations': {} },
    result: {
      cniVersion: '1.0.0',
      interfaces: [
        { name: spec.hostIfname, mac: spec.hostMac, sandbox: '' },
        { name: POD_IFNAME, mac: spec.podMac, sandbox: spec.netnsPath },
      ],
      ips: spec.addresses.map((a) => ({ address: `${a.ip}/${prefixLength(a.cidr)}`, gateway: firstHost(a.cidr), interface: 1 })),
      routes: spec.addresses.map((a) => ({ dst: isIpv6(a.ip) ? '::/0' : '0.0.0.0/0' })),
      dns: {},
    },
  };
  const files: CniFile[] = [{ relativePath: path.join('results', cniResultFileName(spec.containerId)), content: JSON.stringify(cache) }];
  spec.addresses.forEach((a, rangeIndex) => {
    const dir = path.join('networks', LAB_NETWORK_NAME);
    files.push({ relativePath: path.join(dir, a.ip), content: `${spec.containerId}\r\n${POD_IFNAME}` });
    files.push({ relativePath: path.join(dir, `last_reserved_ip.${rangeIndex}`), content: a.ip });
  });
  return files;
}

export function isIpv6(address: string): boolean {
  return address.includes(':');
}

export function prefixLength(cidr: string): number {
  const [, bits] = cidr.split('/');
  const length = Number(bits);
  if (bits === undefined || !Number.isInteger(length)) throw new TypeError(`not a CIDR: ${cidr}`);
  return length;
}

/** The network address + 1 (host-local's default gateway for a range). */
export function firstHost(cidr: string): string {
  const [network] = cidr.split('/') as [string];
  if (!isIpv6(network)) {
    const octets = network.split('.').map(Number);
    octets[3] = (octets[3] ?? 0) + 1;
    return octets.join('.');
  }
  return network.endsWith('::') ? `${network}1` : `${network}:1`;
}
