/**
 * The lab's command guard: the one place that decides whether a command may run.
 *
 * Why it exists (DESIGN.md, "Lab"): `ip link add eth0 …` fails when the machine's
 * own eth0 exists, and a following `ip link set eth0 netns …` then moves the real
 * uplink into the lab; deleting the namespace hands it back down, unaddressed, and
 * the machine is offline. So every lab command must name one of *this lab's*
 * namespaces, and the only commands that may run without one are:
 *   - `ip netns add|del|delete|pids NS` and `ip netns list`;
 *   - `ip netns exec NS cmd…` (cmd runs inside NS);
 *   - `ip [opts] -n NS …`;
 *   - the veth form that creates both ends directly inside lab namespaces under
 *     fresh temporary names: `ip link add TMP_A netns NS_A type veth peer name TMP_B netns NS_B`
 *     (nothing of it ever exists in the root namespace, so no name can collide with
 *     a real interface there).
 * Anything else — `iptables`, `sysctl`, `tc`, `ip link set eth0 …` — is refused.
 */
import { RstprobeError } from '../../src/common/errors';
import { formatArgv } from './exec';

export class LabGuardError extends RstprobeError {
  constructor(argv: readonly string[], why: string) {
    super('RSTPROBE_ERR_LAB_GUARD', `lab guard refused \`${formatArgv(argv)}\`: ${why}`);
  }
}

export interface GuardScope {
  /** Names of namespaces this lab may touch (tested with `.test(name)`). */
  readonly namespacePattern: RegExp;
  /** Temporary veth names this lab may create (tested with `.test(name)`). */
  readonly tempIfnamePattern: RegExp;
}

/** ip's global options that take no value and cannot change the target namespace. */
const IP_FLAGS = new Set(['-4', '-6', '-j', '-json', '-o', '-oneline', '-d', '-details', '-s', '-stats', '-br', '-brief', '-p', '-pretty']);

/** Throws LabGuardError unless `argv` is one of the forms the lab may run. */
export function assertLabCommand(argv: readonly string[], scope: GuardScope): void {
  const refuse = (why: string): never => {
    throw new LabGuardError(argv, why);
  };
  const labNamespace = (name: string | undefined): string => {
    if (name === undefined || !scope.namespacePattern.test(name)) refuse(`namespace ${JSON.stringify(name)} is not one of this lab's`);
    return name as string;
  };
  if (argv[0] !== 'ip') refuse('only `ip` may run outside a namespace; run other tools via `ip netns exec NS`');
  const args = argv.slice(1);

  if (args[0] === 'netns') {
    const verb = args[1];
    if (verb === 'list' && args.length === 2) return;
    if ((verb === 'add' || verb === 'del' || verb === 'delete' || verb === 'pids') && args.length === 3) {
      labNamespace(args[2]);
      return;
    }
    if (verb === 'exec' && args.length >= 4) {
      labNamespace(args[2]);
      return;
    }
    refuse('allowed `ip netns` forms are add/del/pids NS, list, exec NS CMD…');
  }

  if (args[0] === 'link' && args[1] === 'add') {
    const [, , tmpA, kwNetnsA, nsA, kwType, kind, kwPeer, kwName, tmpB, kwNetnsB, nsB, ...rest] = args;
    const shapeOk =
      kwNetnsA === 'netns' && kwType === 'type' && kind === 'veth' && kwPeer === 'peer' && kwName === 'name' && kwNetnsB === 'netns' && rest.length === 0;
    if (!shapeOk) refuse('the only root-namespace `ip link add` is `link add TMP_A netns NS_A type veth peer name TMP_B netns NS_B`');
    for (const name of [tmpA, tmpB]) {
      if (name === undefined || !scope.tempIfnamePattern.test(name) || name.length > 15) refuse(`${JSON.stringify(name)} is not a fresh temporary interface name of this lab`);
    }
    if (tmpA === tmpB) refuse('both veth ends need distinct temporary names');
    labNamespace(nsA);
    labNamespace(nsB);
    return;
  }

  // `ip [flags] -n NS object …`: the namespace option must come before the object.
  let index = 0;
  let namespace: string | undefined;
  while (index < args.length && args[index]!.startsWith('-')) {
    const option = args[index]!;
    if (option === '-n' || option === '-netns') {
      if (namespace !== undefined) refuse('more than one -n');
      namespace = labNamespace(args[index + 1]);
      index += 2;
    } else if (IP_FLAGS.has(option)) {
      index += 1;
    } else {
      refuse(`ip option ${option} is not allowed in the lab`);
    }
  }
  if (namespace === undefined) refuse('ip commands must name a lab namespace with -n NS (or run via `ip netns exec NS`)');
  if (index >= args.length) refuse('ip -n NS needs an object (link, addr, route, …)');
}
