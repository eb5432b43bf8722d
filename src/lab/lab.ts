/**
 * The lab: a throw-away "cluster" of network namespaces on this machine, for tests
 * and `rstprobe demo` (DESIGN.md, "Lab"). Needs root and iproute2; iptables (nft),
 * sysctl and tc are used inside the namespaces only.
 *
 * Topology (one lab; every name starts with `${prefix}-${id}-`, id = 8 random hex):
 *
 *     pod netns              node netns                       fabric netns
 *   ┌──────────────┐      ┌──────────────────────┐        ┌───────────────────────┐
 *   │ eth0 ip/32   │─veth─│ veth<11 hex> proxy_arp│        │ lo 10.210.0.1/32       │
 *   │ default via  │      │ route ip/32 dev veth… │        │    fd00:210::1/128     │
 *   │ 169.254.1.1  │      │ eth0 underlayIp/32   ─┼──veth──┼ to-<node>              │
 *   │ onlink       │      │ default via fabric ip │        │ route underlayIp/32    │
 *   │ (v6: via     │      │ ip_forward=1          │        │ route podCidr via node │
 *   │  fe80::1)    │      └──────────────────────┘        │ ip_forward=1: MTU,     │
 *   └──────────────┘                                       │ iptables, tc live here │
 *                                                          └───────────────────────┘
 * In every lab namespace rp_filter is off, arp_ignore is 0 and IPv6 DAD is off (so
 * addresses work at once). IPv6 is optional per node (`underlayIp6`, `podCidr6`) and
 * per pod (`ip6`): pods route `default via fe80::1` (the node's veth), nodes route
 * `default via fe80::1` (the fabric's port), the fabric reaches a node's pods via the
 * node's `fe80::2`.
 *
 * API
 *   const lab = await Lab.create({ prefix: 'rst' });
 *   const fabric = await lab.addFabric();                // optional: addNode makes one
 *   const node = await lab.addNode('node-a', { underlayIp: '10.210.0.11', podCidr: '10.244.1.0/24',
 *                                              underlayIp6?, podCidr6?, uplinkMtu? });
 *   const pod = await lab.addPod(node, { namespace: 'default', name: 'gateway-0', ip: '10.244.1.10',
 *                                        ip6?, mtu?, uid?, containerId? });
 *   await lab.exec(pod, ['curl', …], { timeoutMs?, check? })   // → { stdout, stderr, code, … }
 *   const child = lab.spawn(pod, 'node', ['-e', …]);              // killed (group, TERM→KILL) at teardown
 *   await waitForOutput(child, /listening/);
 *   await lab.setMtu(fabric, node.fabricIfname, 1400);
 *   await lab.iptables(fabric, ['-L']); await lab.tc(fabric, [...]);
 *   const rule = await lab.dropFragNeeded(); await rule.remove();   // PMTU black hole
 *   const rst = await lab.rejectWithTcpReset(fabric, { dst, dport }); // forged RSTs
 *   lab.cniDir(node)   // results/<net>-<containerId>-eth0 and networks/lab/<ip>, like /var/lib/cni
 *   await lab.removePod(pod);  // netns and CNI files gone: the IP may be reused
 *   await lab.destroy();       // idempotent; also runs on exit, SIGINT/SIGTERM/SIGHUP, uncaught errors
 *   await Lab.sweepStale('rst'); // namespaces of labs whose owner process is dead
 *
 * Safety: every command goes through `assertLabCommand` (guard.ts), which only lets
 * through commands that name this lab's namespaces; veth pairs are created directly
 * inside lab namespaces under temporary names and renamed there, so nothing is ever
 * created, renamed or moved in the root namespace. Each creation step fails fast and
 * rolls back what it built.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { RstprobeError } from '../../src/common/errors';
import {
  DEFAULT_EXEC_TIMEOUT_MS,
  execCommand,
  execCommandSync,
  killGroup,
  spawnGroup,
  terminateGroup,
  type ExecResult,
} from './exec';
import { assertLabCommand, type GuardScope } from './guard';
import { cniFilesForPod, isIpv6 } from './cni';

export class LabError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_LAB', message, options);
  }
}

/** The node-side gateway every pod routes through (Calico's choice: link-local, answered by proxy ARP). */
export const POD_GATEWAY_V4 = '169.254.1.1';
/** Link-local gateway of every IPv6 hop (node veth for pods, fabric port for nodes). */
export const GATEWAY_V6 = 'fe80::1';
/** A node's own link-local on its uplink, the fabric's next hop for the node's IPv6 pods. */
export const NODE_UPLINK_V6 = 'fe80::2';
export const DEFAULT_FABRIC_IP = '10.210.0.1';
export const DEFAULT_FABRIC_IP6 = 'fd00:210::1';

const MARKER_FILE = 'owner.json';
const DIR_PREFIX = 'rstprobe-lab-';
const ID_HEX_CHARS = 8;

export interface LabOptions {
  /** Lowercase letters and digits, starting with a letter, at most 12 (default 'rst'). */
  readonly prefix?: string;
  /** Where the lab's directory (marker, CNI files) goes (default os.tmpdir()). */
  readonly tmpRoot?: string;
  readonly execTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace for spawned processes at teardown. */
  readonly killGraceMs?: number;
}

export interface LabNetns {
  readonly kind: 'fabric' | 'node' | 'pod';
  /** Logical name (node name, pod name, 'fabric'). */
  readonly name: string;
  /** The network namespace's name (`ip netns`). */
  readonly netns: string;
  readonly netnsPath: string;
}

export interface LabFabric extends LabNetns {
  readonly kind: 'fabric';
  readonly ip: string;
  readonly ip6: string;
}

export interface NodeOptions {
  readonly underlayIp: string;
  readonly podCidr: string;
  readonly underlayIp6?: string;
  readonly podCidr6?: string;
  readonly uplinkMtu?: number;
}

export interface LabNode extends LabNetns {
  readonly kind: 'node';
  readonly underlayIp: string;
  readonly podCidr: string;
  readonly underlayIp6: string | null;
  readonly podCidr6: string | null;
  readonly uplinkMtu: number;
  /** This node's port in the fabric netns (where to lower the MTU towards it). */
  readonly fabricIfname: string;
  readonly cniDir: string;
}

export interface PodOptions {
  readonly namespace?: string;
  readonly name: string;
  readonly ip: string;
  readonly ip6?: string;
  readonly mtu?: number;
  readonly uid?: string;
  readonly containerId?: string;
}

export interface LabPod extends LabNetns {
  readonly kind: 'pod';
  readonly node: LabNode;
  readonly namespace: string;
  readonly ip: string;
  readonly ip6: string | null;
  readonly uid: string;
  readonly containerId: string;
  /** The pod's veth end in the node netns. */
  readonly hostIfname: string;
  readonly mac: string;
  readonly hostMac: string;
  readonly mtu: number;
  /** Absolute paths of the CNI files written for this pod. */
  readonly cniFiles: readonly string[];
}

export interface ExecInOptions {
  readonly timeoutMs?: number;
  /** Throw on a non-zero exit (default true). */
  readonly check?: boolean;
  readonly input?: string;
}

export type IpFamily = 4 | 6;

/** An iptables rule the lab inserted; `remove()` deletes exactly that rule. */
export interface LabRule {
  readonly target: LabNetns;
  readonly family: IpFamily;
  readonly chain: string;
  readonly spec: readonly string[];
  remove(): Promise<void>;
}

interface OwnerMarker {
  readonly pid: number;
  readonly startTime: string | null;
  readonly prefix: string;
  readonly id: string;
  readonly namespaces: string[];
}

const liveLabs = new Set<Lab>();
let exitHandlersInstalled = false;

export class Lab {
  readonly prefix: string;
  readonly id: string;
  /** The lab's own directory: marker file, per-node CNI directories. */
  readonly dir: string;
  private readonly scope: GuardScope;
  private readonly execTimeoutMs: number;
  private readonly killGraceMs: number;
  private readonly namespaceNames: string[] = [];
  private readonly children = new Map<ChildProcess, LabNetns>();
  private readonly nodes = new Map<string, LabNode>();
  private readonly pods = new Set<LabPod>();
  private fabricNetns: LabFabric | null = null;
  private tempIfnameCounter = 0;
  private podCounter = 0;
  private destroying: Promise<void> | null = null;

  private constructor(prefix: string, id: string, dir: string, options: LabOptions) {
    this.prefix = prefix;
    this.id = id;
    this.dir = dir;
    this.scope = guardScope(prefix, id);
    this.execTimeoutMs = options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    this.killGraceMs = options.killGraceMs ?? 2_000;
  }

  static async create(options: LabOptions = {}): Promise<Lab> {
    const prefix = options.prefix ?? 'rst';
    validatePrefix(prefix);
    const id = randomBytes(ID_HEX_CHARS / 2).toString('hex');
    const dir = labDir(options.tmpRoot ?? os.tmpdir(), prefix, id);
    fs.mkdirSync(dir, { mode: 0o700 }); // not recursive: an existing dir means an id collision
    const lab = new Lab(prefix, id, dir, options);
    lab.writeMarker();
    liveLabs.add(lab);
    installExitHandlers();
    return lab;
  }

  /**
   * Deletes namespaces (and directories) of labs with this prefix whose owner process
   * is gone. Namespaces without a marker are left alone unless `includeUnowned`.
   * Returns the namespaces deleted.
   */
  static async sweepStale(prefix: string, options: { tmpRoot?: string; includeUnowned?: boolean } = {}): Promise<string[]> {
    validatePrefix(prefix);
    const tmpRoot = options.tmpRoot ?? os.tmpdir();
    const namePattern = new RegExp(`^${prefix}-([0-9a-f]{${ID_HEX_CHARS}})-[a-z0-9][a-z0-9-]*$`);
    const dirPattern = new RegExp(`^${DIR_PREFIX}${prefix}-([0-9a-f]{${ID_HEX_CHARS}})$`);
    const namespacesById = new Map<string, string[]>();
    for (const name of listNamespacesSync()) {
      const match = namePattern.exec(name);
      if (match) namespacesById.set(match[1]!, [...(namespacesById.get(match[1]!) ?? []), name]);
    }
    let dirEntries: string[] = [];
    try {
      dirEntries = fs.readdirSync(tmpRoot);
    } catch {
      dirEntries = [];
    }
    for (const entry of dirEntries) {
      const match = dirPattern.exec(entry);
      if (match && !namespacesById.has(match[1]!)) namespacesById.set(match[1]!, []);
    }
    const deleted: string[] = [];
    for (const [id, names] of namespacesById) {
      const dir = labDir(tmpRoot, prefix, id);
      const marker = readMarker(dir);
      if (marker ? ownerAlive(marker) : !options.includeUnowned) continue;
      deleteNamespacesSync(names, guardScope(prefix, id), DEFAULT_EXEC_TIMEOUT_MS);
      deleted.push(...names);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return deleted;
  }

  get fabric(): LabFabric | null {
    return this.fabricNetns;
  }

  /** Every namespace this lab created and has not deleted yet, in creation order. */
  get namespaces(): readonly string[] {
    return [...this.namespaceNames];
  }

  /** The guard every lab command passes (throws LabGuardError); public so tests can pin it. */
  assertCommand(argv: readonly string[]): void {
    assertLabCommand(argv, this.scope);
  }

  cniDir(node: LabNode): string {
    return node.cniDir;
  }

  async addFabric(options: { ip?: string; ip6?: string } = {}): Promise<LabFabric> {
    if (this.fabricNetns) throw new LabError('this lab already has a fabric');
    const ip = options.ip ?? DEFAULT_FABRIC_IP;
    const ip6 = options.ip6 ?? DEFAULT_FABRIC_IP6;
    requireIp(ip, 4, 'fabric ip');
    requireIp(ip6, 6, 'fabric ip6');
    const fabric: LabFabric = { kind: 'fabric', name: 'fabric', ...this.netnsNames('fabric'), ip, ip6 };
    await this.building(fabric, async () => {
      await this.createNamespace(fabric, { router: true });
      await this.ip(fabric, ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
      await this.ip(fabric, ['-6', 'addr', 'add', `${ip6}/128`, 'dev', 'lo']);
    });
    this.fabricNetns = fabric;
    return fabric;
  }

  async addNode(name: string, options: NodeOptions): Promise<LabNode> {
    const label = sanitizeLabel(name);
    if (this.nodes.has(name)) throw new LabError(`node ${name} already exists in this lab`);
    if (label === 'fabric' || label.startsWith('pod')) throw new LabError(`node name ${name} is reserved`);
    requireIp(options.underlayIp, 4, 'underlayIp');
    requireCidr(options.podCidr, 4, 'podCidr');
    if (options.underlayIp6 !== undefined) requireIp(options.underlayIp6, 6, 'underlayIp6');
    if (options.podCidr6 !== undefined) {
      requireCidr(options.podCidr6, 6, 'podCidr6');
      if (options.underlayIp6 === undefined) throw new LabError(`node ${name}: podCidr6 needs underlayIp6`);
    }
    const uplinkMtu = options.uplinkMtu ?? 1500;
    requireMtu(uplinkMtu);
    const fabric = this.fabricNetns ?? (await this.addFabric());
    const fabricIfname = this.uniqueFabricIfname(label);
    const cniDir = path.join(this.dir, 'cni', label);
    const node: LabNode = {
      kind: 'node',
      name,
      ...this.netnsNames(label),
      underlayIp: options.underlayIp,
      podCidr: options.podCidr,
      underlayIp6: options.underlayIp6 ?? null,
      podCidr6: options.podCidr6 ?? null,
      uplinkMtu,
      fabricIfname,
      cniDir,
    };
    await this.building(node, async () => {
      await this.createNamespace(node, { router: true });
      await this.createVeth(node, 'eth0', fabric, fabricIfname, uplinkMtu);
      await this.ip(node, ['addr', 'add', `${node.underlayIp}/32`, 'dev', 'eth0']);
      await this.ip(node, ['route', 'add', 'default', 'via', fabric.ip, 'dev', 'eth0', 'onlink']);
      await this.ip(fabric, ['route', 'add', `${node.underlayIp}/32`, 'dev', fabricIfname, 'scope', 'link']);
      await this.ip(fabric, ['route', 'add', node.podCidr, 'via', node.underlayIp, 'dev', fabricIfname, 'onlink']);
      if (node.underlayIp6 !== null) {
        await this.ip(node, ['-6', 'addr', 'add', `${NODE_UPLINK_V6}/64`, 'dev', 'eth0', 'nodad']);
        await this.ip(node, ['-6', 'addr', 'add', `${node.underlayIp6}/128`, 'dev', 'eth0', 'nodad']);
        await this.ip(fabric, ['-6', 'addr', 'add', `${GATEWAY_V6}/64`, 'dev', fabricIfname, 'nodad']);
        await this.ip(node, ['-6', 'route', 'add', 'default', 'via', GATEWAY_V6, 'dev', 'eth0']);
        await this.ip(fabric, ['-6', 'route', 'add', `${node.underlayIp6}/128`, 'dev', fabricIfname]);
        if (node.podCidr6 !== null) await this.ip(fabric, ['-6', 'route', 'add', node.podCidr6, 'via', NODE_UPLINK_V6, 'dev', fabricIfname]);
      }
      fs.mkdirSync(path.join(cniDir, 'results'), { recursive: true });
      fs.mkdirSync(path.join(cniDir, 'networks', 'lab'), { recursive: true });
    });
    this.nodes.set(name, node);
    return node;
  }

  async addPod(node: LabNode, options: PodOptions): Promise<LabPod> {
    if (this.nodes.get(node.name) !== node) throw new LabError(`node ${node.name} does not belong to this lab`);
    const namespace = options.namespace ?? 'default';
    requireIp(options.ip, 4, `pod ${options.name} ip`);
    if (!cidrContains(node.podCidr, options.ip)) throw new LabError(`pod ip ${options.ip} is outside node ${node.name}'s podCidr ${node.podCidr}`);
    if (options.ip6 !== undefined) {
      requireIp(options.ip6, 6, `pod ${options.name} ip6`);
      if (node.podCidr6 === null) throw new LabError(`pod ${options.name} has ip6 but node ${node.name} has no podCidr6`);
    }
    for (const pod of this.pods) {
      if (pod.ip === options.ip || (options.ip6 !== undefined && pod.ip6 === options.ip6)) {
        throw new LabError(`pod ip ${options.ip} is taken by ${pod.namespace}/${pod.name}; removePod it first`);
      }
    }
    const mtu = options.mtu ?? 1500;
    requireMtu(mtu);
    const containerId = options.containerId ?? randomBytes(32).toString('hex');
    const uid = options.uid ?? randomUUID();
    const hostIfname = `veth${createHash('sha256').update(containerId).digest('hex').slice(0, 11)}`;
    const names = this.netnsNames(`pod${++this.podCounter}-${sanitizeLabel(options.name)}`.slice(0, 40).replace(/-+$/, ''));
    const written: string[] = [];
    let pod: LabPod | null = null;
    const draft: LabNetns = { kind: 'pod', name: options.name, ...names };
    await this.building(draft, async () => {
      await this.createNamespace(draft, { router: false });
      await this.createVeth(draft, 'eth0', node, hostIfname, mtu);
      // proxy_delay 0: proxy ARP replies are otherwise delayed up to 0.8 s (ip-sysctl.rst).
      await this.sysctl(node, [`net.ipv4.conf.${hostIfname}.proxy_arp=1`, `net.ipv4.neigh.${hostIfname}.proxy_delay=0`]);
      await this.ip(draft, ['addr', 'add', `${options.ip}/32`, 'dev', 'eth0']);
      await this.ip(draft, ['route', 'add', 'default', 'via', POD_GATEWAY_V4, 'dev', 'eth0', 'onlink']);
      // replace, not add: a removed pod's route may linger while its netns dies (IP reuse).
      await this.ip(node, ['route', 'replace', `${options.ip}/32`, 'dev', hostIfname, 'scope', 'link']);
      if (options.ip6 !== undefined) {
        await this.ip(draft, ['-6', 'addr', 'add', `${options.ip6}/128`, 'dev', 'eth0', 'nodad']);
        await this.ip(node, ['-6', 'addr', 'add', `${GATEWAY_V6}/64`, 'dev', hostIfname, 'nodad']);
        await this.ip(draft, ['-6', 'route', 'add', 'default', 'via', GATEWAY_V6, 'dev', 'eth0']);
        await this.ip(node, ['-6', 'route', 'replace', `${options.ip6}/128`, 'dev', hostIfname]);
      }
      const mac = await this.macOf(draft, 'eth0');
      const hostMac = await this.macOf(node, hostIfname);
      const addresses = [{ ip: options.ip, cidr: node.podCidr }];
      if (options.ip6 !== undefined && node.podCidr6 !== null) addresses.push({ ip: options.ip6, cidr: node.podCidr6 });
      const files = cniFilesForPod({
        containerId,
        netnsPath: draft.netnsPath,
        namespace,
        name: options.name,
        uid,
        hostIfname,
        hostMac,
        podMac: mac,
        addresses,
      });
      for (const file of files) {
        const absolute = path.join(node.cniDir, file.relativePath);
        fs.writeFileSync(absolute, file.content, { mode: 0o644 });
        written.push(absolute);
      }
      pod = {
        ...draft,
        kind: 'pod',
        node,
        namespace,
        ip: options.ip,
        ip6: options.ip6 ?? null,
        uid,
        containerId,
        hostIfname,
        mac,
        hostMac,
        mtu,
        cniFiles: written.filter((file) => !path.basename(file).startsWith('last_reserved_ip')),
      };
    }).catch((err: unknown) => {
      for (const file of written) fs.rmSync(file, { force: true });
      throw err;
    });
    this.pods.add(pod!);
    return pod!;
  }

  /** Deletes the pod's netns (its processes first) and its CNI files, like a CNI DEL. */
  async removePod(pod: LabPod): Promise<void> {
    if (!this.pods.has(pod)) throw new LabError(`pod ${pod.namespace}/${pod.name} is not live in this lab`);
    await Promise.all([...this.children].filter(([, target]) => target === pod).map(([child]) => terminateGroup(child, this.killGraceMs)));
    this.deleteNamespaces([pod.netns]);
    for (const file of pod.cniFiles) fs.rmSync(file, { force: true });
    this.pods.delete(pod);
  }

  /** Runs `argv` inside `target`'s netns; throws (naming the command) on failure unless check: false. */
  async exec(target: LabNetns, argv: readonly string[], options: ExecInOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new LabError('exec needs a command');
    return this.run(['ip', 'netns', 'exec', target.netns, ...argv], options);
  }

  /** Starts a long-running process in `target`'s netns; it is killed at removePod/destroy. */
  spawn(target: LabNetns, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.destroying) throw new LabError('lab is being destroyed');
    const argv = ['ip', 'netns', 'exec', target.netns, command, ...args];
    assertLabCommand(argv, this.scope);
    const child = spawnGroup(argv[0]!, argv.slice(1), options);
    this.children.set(child, target);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  async setMtu(target: LabNetns, ifname: string, mtu: number): Promise<void> {
    requireMtu(mtu);
    await this.ip(target, ['link', 'set', 'dev', ifname, 'mtu', String(mtu)]);
  }

  /** `iptables` (or `ip6tables`) inside `target`; rules are local to that netns. */
  async iptables(target: LabNetns, args: readonly string[], family: IpFamily = 4): Promise<ExecResult> {
    return this.exec(target, [family === 6 ? 'ip6tables' : 'iptables', '-w', '5', ...args]);
  }

  async tc(target: LabNetns, args: readonly string[]): Promise<ExecResult> {
    return this.exec(target, ['tc', ...args]);
  }

  /** Inserts a rule at the top of `chain`; the returned handle deletes it again. */
  async insertRule(target: LabNetns, family: IpFamily, chain: string, spec: readonly string[]): Promise<LabRule> {
    await this.iptables(target, ['-I', chain, '1', ...spec], family);
    let removed = false;
    return {
      target,
      family,
      chain,
      spec,
      remove: async () => {
        if (removed) return;
        removed = true;
        await this.iptables(target, ['-D', chain, ...spec], family);
      },
    };
  }

  /**
   * A PMTU black hole: drops ICMP "fragmentation needed" (v4) / "packet too big" (v6)
   * that `target` forwards (FORWARD) or generates itself (OUTPUT, the case of the
   * fabric's own lowered MTU). Default target: the fabric; default families: 4 and 6.
   */
  async dropFragNeeded(target?: LabNetns, families: readonly IpFamily[] = [4, 6]): Promise<LabRule> {
    const where = target ?? this.requireFabric();
    const rules: LabRule[] = [];
    try {
      for (const family of families) {
        const match = family === 6 ? ['-p', 'icmpv6', '--icmpv6-type', 'packet-too-big'] : ['-p', 'icmp', '--icmp-type', 'fragmentation-needed'];
        for (const chain of ['FORWARD', 'OUTPUT']) rules.push(await this.insertRule(where, family, chain, [...match, '-j', 'DROP']));
      }
    } catch (err) {
      await combinedRule(where, rules).remove().catch(() => undefined);
      throw err;
    }
    return combinedRule(where, rules);
  }

  /** Forged RSTs: `REJECT --reject-with tcp-reset` for TCP to dst:dport crossing `target` (default: FORWARD of the fabric). */
  async rejectWithTcpReset(
    target: LabNetns | undefined,
    match: { dst?: string; dport?: number; chain?: string } = {},
  ): Promise<LabRule> {
    const where = target ?? this.requireFabric();
    const family: IpFamily = match.dst !== undefined && isIpv6(match.dst) ? 6 : 4;
    const spec = ['-p', 'tcp'];
    if (match.dst !== undefined) spec.push('-d', match.dst);
    if (match.dport !== undefined) spec.push('--dport', String(match.dport));
    spec.push('-j', 'REJECT', '--reject-with', 'tcp-reset');
    return this.insertRule(where, family, match.chain ?? 'FORWARD', spec);
  }

  /** Kills spawned processes, deletes every namespace and the lab directory. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    liveLabs.delete(this);
    const errors: unknown[] = [];
    await Promise.all([...this.children.keys()].map((child) => terminateGroup(child, this.killGraceMs).catch((err: unknown) => errors.push(err))));
    try {
      this.deleteNamespaces([...this.namespaceNames].reverse());
    } catch (err) {
      errors.push(err);
    }
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch (err) {
      errors.push(err);
    }
    if (errors.length > 0) throw new LabError(`lab ${this.prefix}-${this.id} teardown failed: ${errors.map(String).join('; ')}`, { cause: errors[0] });
  }

  /** For exit handlers: nothing asynchronous runs there, so SIGKILL and synchronous commands. */
  destroySync(): void {
    if (this.destroying) return;
    this.destroying = Promise.resolve();
    liveLabs.delete(this);
    for (const child of this.children.keys()) killGroup(child, 'SIGKILL');
    try {
      this.deleteNamespaces([...this.namespaceNames].reverse());
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // ── building blocks ────────────────────────────────────────────────────────

  private async run(argv: readonly string[], options: ExecInOptions = {}): Promise<ExecResult> {
    assertLabCommand(argv, this.scope);
    return execCommand(argv[0]!, argv.slice(1), { timeoutMs: options.timeoutMs ?? this.execTimeoutMs, check: options.check, input: options.input });
  }

  private async ip(target: LabNetns, args: readonly string[]): Promise<ExecResult> {
    return this.run(['ip', '-n', target.netns, ...args]);
  }

  private async sysctl(target: LabNetns, settings: readonly string[]): Promise<ExecResult> {
    return this.exec(target, ['sysctl', '-q', '-w', ...settings]);
  }

  private netnsNames(label: string): { netns: string; netnsPath: string } {
    const netns = `${this.prefix}-${this.id}-${label}`;
    if (!this.scope.namespacePattern.test(netns)) throw new LabError(`bad namespace name ${netns}`);
    if (this.namespaceNames.includes(netns)) throw new LabError(`namespace ${netns} already exists in this lab`);
    return { netns, netnsPath: `/var/run/netns/${netns}` };
  }

  /** Runs `build`; if it throws, deletes `target`'s netns (and with it its veths) and rethrows. */
  private async building(target: LabNetns, build: () => Promise<void>): Promise<void> {
    if (this.destroying) throw new LabError('lab is being destroyed');
    try {
      await build();
    } catch (err) {
      try {
        this.deleteNamespaces([target.netns]);
      } catch (cleanupErr) {
        throw new LabError(`building ${target.kind} ${target.name} failed (${String(err)}) and so did its cleanup (${String(cleanupErr)})`, { cause: err });
      }
      throw new LabError(`building ${target.kind} ${target.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  private async createNamespace(target: LabNetns, options: { router: boolean }): Promise<void> {
    // Recorded before it exists, so a crash in between still leaves a trace for sweepStale.
    this.namespaceNames.push(target.netns);
    this.writeMarker();
    await this.run(['ip', 'netns', 'add', target.netns]);
    // Before any interface exists, so new interfaces inherit the `default` values.
    const settings = [
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv4.conf.all.arp_ignore=0',
      'net.ipv4.conf.default.arp_ignore=0',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ];
    if (options.router) settings.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    await this.sysctl(target, settings);
    await this.ip(target, ['link', 'set', 'dev', 'lo', 'up']);
  }

  /**
   * A veth pair between two lab namespaces: created inside them under fresh temporary
   * names (never in the root namespace), then renamed, sized and raised there.
   */
  private async createVeth(a: LabNetns, nameA: string, b: LabNetns, nameB: string, mtu: number): Promise<void> {
    const serial = ++this.tempIfnameCounter;
    const tmpA = `rp${this.id}${serial}a`;
    const tmpB = `rp${this.id}${serial}b`;
    await this.run(['ip', 'link', 'add', tmpA, 'netns', a.netns, 'type', 'veth', 'peer', 'name', tmpB, 'netns', b.netns]);
    await this.ip(a, ['link', 'set', 'dev', tmpA, 'name', nameA]);
    await this.ip(b, ['link', 'set', 'dev', tmpB, 'name', nameB]);
    for (const [target, name] of [[a, nameA], [b, nameB]] as const) {
      await this.ip(target, ['link', 'set', 'dev', name, 'mtu', String(mtu), 'up']);
    }
  }

  private async macOf(target: LabNetns, ifname: string): Promise<string> {
    const { stdout } = await this.ip(target, ['-j', 'link', 'show', 'dev', ifname]);
    const mac = (JSON.parse(stdout) as { address?: string }[])[0]?.address;
    if (!mac) throw new LabError(`no MAC address for ${ifname} in ${target.netns}`);
    return mac;
  }

  private deleteNamespaces(names: readonly string[]): void {
    deleteNamespacesSync(names, this.scope, this.execTimeoutMs);
    for (const name of names) {
      const index = this.namespaceNames.indexOf(name);
      if (index >= 0) this.namespaceNames.splice(index, 1);
    }
    if (fs.existsSync(this.dir)) this.writeMarker();
  }

  private writeMarker(): void {
    const marker: OwnerMarker = { pid: process.pid, startTime: processStartTime(process.pid), prefix: this.prefix, id: this.id, namespaces: this.namespaceNames };
    const file = path.join(this.dir, MARKER_FILE);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(marker));
    fs.renameSync(`${file}.tmp`, file);
  }

  private uniqueFabricIfname(label: string): string {
    const taken = new Set([...this.nodes.values()].map((node) => node.fabricIfname));
    const preferred = `to-${label}`.slice(0, 15);
    if (!taken.has(preferred)) return preferred;
    return `to-n${this.nodes.size + 1}`;
  }

  private requireFabric(): LabFabric {
    if (!this.fabricNetns) throw new LabError('this lab has no fabric yet: call addFabric() or addNode() first');
    return this.fabricNetns;
  }
}

/** Why lab tests cannot run here, or undefined when they can (root, iproute2 with netns). */
export function labSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the lab needs root (network namespaces, veth, iptables); CI runs it as root';
  try {
    execCommandSync('ip', ['-V'], { timeoutMs: 5_000 });
  } catch {
    return 'the lab needs iproute2 (`ip`): apt-get install iproute2';
  }
  return undefined;
}

/** Resolves with the first stdout/stderr line matching `pattern`; rejects on exit or timeout. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = DEFAULT_EXEC_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      const line = seen.split('\n').find((candidate) => pattern.test(candidate));
      if (line !== undefined) {
        cleanup();
        resolve(line);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new LabError(`process exited (${code ?? signal}) before printing ${pattern}; output: ${seen.trim()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new LabError(`no output matching ${pattern} within ${timeoutMs} ms; output: ${seen.trim()}`));
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

// ── helpers shared by labs, sweepStale and exit handlers ─────────────────────

function guardScope(prefix: string, id: string): GuardScope {
  return {
    namespacePattern: new RegExp(`^${prefix}-${id}-[a-z0-9][a-z0-9-]*$`),
    tempIfnamePattern: new RegExp(`^rp${id}\\d{1,4}[ab]$`),
  };
}

function labDir(tmpRoot: string, prefix: string, id: string): string {
  return path.join(tmpRoot, `${DIR_PREFIX}${prefix}-${id}`);
}

function validatePrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) throw new LabError(`lab prefix ${JSON.stringify(prefix)} must be 1-12 lowercase letters/digits starting with a letter`);
}

function sanitizeLabel(name: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  if (label === '') throw new LabError(`name ${JSON.stringify(name)} has no usable characters`);
  return label;
}

function listNamespacesSync(): string[] {
  // Read-only, so it needs no namespace; `ip netns list` is in the guard's allowed forms.
  const { stdout } = execCommandSync('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/**
 * Kills whatever still runs inside each namespace (a netns lives on while a process
 * holds it), deletes its interfaces, then the namespace. Synchronous so exit handlers can use it. Names that
 * no longer exist are skipped; failures are collected and thrown at the end.
 */
function deleteNamespacesSync(names: readonly string[], scope: GuardScope, timeoutMs: number): void {
  const existing = new Set(listNamespacesSync());
  const failures: string[] = [];
  for (const name of names) {
    if (!existing.has(name)) continue;
    try {
      const pidsArgv = ['ip', 'netns', 'pids', name];
      assertLabCommand(pidsArgv, scope);
      const { stdout } = execCommandSync(pidsArgv[0]!, pidsArgv.slice(1), { timeoutMs, check: false });
      for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
        if (pid > 1 && pid !== process.pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // The kernel frees a deleted netns later (cleanup_net), and its veths' peers live
      // on until then; deleting the veths first frees names, routes and peers at once.
      const linksArgv = ['ip', '-n', name, '-j', 'link', 'show'];
      assertLabCommand(linksArgv, scope);
      const links = execCommandSync(linksArgv[0]!, linksArgv.slice(1), { timeoutMs, check: false });
      const ifnames = links.code === 0 ? (JSON.parse(links.stdout || '[]') as { ifname: string }[]).map((link) => link.ifname) : [];
      for (const ifname of ifnames.filter((candidate) => candidate !== 'lo')) {
        const linkDelArgv = ['ip', '-n', name, 'link', 'del', 'dev', ifname];
        assertLabCommand(linkDelArgv, scope);
        execCommandSync(linkDelArgv[0]!, linkDelArgv.slice(1), { timeoutMs, check: false }); // its peer may be gone already
      }
      const delArgv = ['ip', 'netns', 'del', name];
      assertLabCommand(delArgv, scope);
      execCommandSync(delArgv[0]!, delArgv.slice(1), { timeoutMs });
    } catch (err) {
      // Someone else (a concurrent sweepStale) may have deleted it meanwhile: gone is gone.
      if (listNamespacesSync().includes(name)) failures.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (failures.length > 0) throw new LabError(`could not delete lab namespaces: ${failures.join('; ')}`);
}

function readMarker(dir: string): OwnerMarker | null {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as OwnerMarker;
    return typeof marker.pid === 'number' ? marker : null;
  } catch {
    return null;
  }
}

/** Start time in clock ticks since boot (/proc/PID/stat field 22, proc(5)); guards against PID reuse. */
function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall; fields[0] is field 3 (state)
  } catch {
    return null;
  }
}

function ownerAlive(marker: OwnerMarker): boolean {
  try {
    process.kill(marker.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return marker.startTime === null || processStartTime(marker.pid) === marker.startTime;
}

function requireIp(address: string, family: IpFamily, what: string): void {
  if (net.isIP(address) !== family) throw new LabError(`${what} ${JSON.stringify(address)} is not an IPv${family} address`);
}

function requireCidr(cidr: string, family: IpFamily, what: string): void {
  const [address, bits] = cidr.split('/');
  const max = family === 4 ? 32 : 128;
  if (address === undefined || net.isIP(address) !== family || bits === undefined || !/^\d+$/.test(bits) || Number(bits) > max) {
    throw new LabError(`${what} ${JSON.stringify(cidr)} is not an IPv${family} CIDR`);
  }
}

function requireMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw new LabError(`MTU ${mtu} is out of range (576-65535)`);
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function cidrContains(cidr: string, address: string): boolean {
  const [network, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  const base = Math.floor(ipv4ToNumber(network) / size) * size;
  const value = ipv4ToNumber(address);
  return value >= base && value < base + size;
}

function combinedRule(target: LabNetns, rules: readonly LabRule[]): LabRule {
  const first = rules[0];
  return {
    target,
    family: first?.family ?? 4,
    chain: first?.chain ?? '',
    spec: first?.spec ?? [],
    remove: async () => {
      for (const rule of rules) await rule.remove();
    },
  };
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  const destroyAll = (): void => {
    for (const lab of [...liveLabs]) {
      try {
        lab.destroySync();
      } catch (err) {
        process.stderr.write(`rstprobe lab cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  };
  process.on('exit', destroyAll);
  // The monitor runs before Node reports the error and exits, without swallowing it.
  // When someone handles uncaught exceptions (node:test does), the process lives on
  // and its labs with it; 'exit' cleans up later.
  process.on('uncaughtExceptionMonitor', () => {
    if (process.listenerCount('uncaughtException') === 0) destroyAll();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      destroyAll();
      process.removeListener(signal, onSignal);
      // Keep the signal's meaning: die of it unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
