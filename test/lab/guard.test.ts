import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertLabCommand, LabGuardError, type GuardScope } from './guard';

const NS_A = 'rst-0123abcd-node-a';
const NS_B = 'rst-0123abcd-fabric';
const scope: GuardScope = {
  namespacePattern: /^rst-0123abcd-[a-z0-9][a-z0-9-]*$/,
  tempIfnamePattern: /^rp0123abcd\d{1,4}[ab]$/,
};

function refused(argv: string[]): void {
  assert.throws(() => assertLabCommand(argv, scope), LabGuardError, `should refuse: ${argv.join(' ')}`);
}

function allowed(argv: string[]): void {
  assert.doesNotThrow(() => assertLabCommand(argv, scope), `should allow: ${argv.join(' ')}`);
}

describe('lab command guard', () => {
  it('refuses root-namespace ip link commands on the machine uplink', () => {
    refused(['ip', 'link', 'set', 'eth0', 'up']);
    refused(['ip', 'link', 'set', 'eth0', 'netns', NS_A]);
    refused(['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1400']);
    refused(['ip', 'link', 'del', 'eth0']);
    refused(['ip', 'addr', 'flush', 'dev', 'eth0']);
    refused(['ip', 'route', 'add', 'default', 'via', '10.0.0.1']);
  });

  it('refuses veth creation in the root namespace or under real names', () => {
    refused(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'rp0123abcd1b']);
    refused(['ip', 'link', 'add', 'rp0123abcd1a', 'type', 'veth', 'peer', 'name', 'rp0123abcd1b']);
    refused(['ip', 'link', 'add', 'eth0', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rp0123abcd1b', 'netns', NS_B]);
    refused(['ip', 'link', 'add', 'rp0123abcd1a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_B]);
    refused(['ip', 'link', 'add', 'rp0123abcd1a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rp0123abcd1a', 'netns', NS_B]);
    refused(['ip', 'link', 'add', 'rp0123abcd1a', 'netns', 'other-lab', 'type', 'veth', 'peer', 'name', 'rp0123abcd1b', 'netns', NS_B]);
    refused(['ip', 'link', 'add', 'rpffffffff1a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rp0123abcd1b', 'netns', NS_B]);
    refused(['ip', 'link', 'add', 'rp0123abcd1a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rp0123abcd1b', 'netns', NS_B, 'mtu', '9000']);
  });

  it('refuses tools other than ip outside a namespace', () => {
    refused(['iptables', '-F']);
    refused(['sysctl', '-w', 'net.ipv4.ip_forward=1']);
    refused(['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'loss', '100%']);
    refused(['sh', '-c', `ip -n ${NS_A} link`]);
  });

  it('refuses namespaces that are not this lab\'s, and ip options that escape -n', () => {
    refused(['ip', '-n', 'rst-ffffffff-node-a', 'link', 'set', 'eth0', 'up']);
    refused(['ip', '-n', 'default', 'link']);
    refused(['ip', 'netns', 'del', 'rst-ffffffff-node-a']);
    refused(['ip', 'netns', 'exec', 'someone-else', 'iptables', '-F']);
    refused(['ip', '-all', 'netns', 'exec', 'iptables', '-F']);
    refused(['ip', '-b', '/tmp/batch']);
    refused(['ip', '-n', NS_A]);
    refused(['ip', '-n', NS_A, '-n', NS_B, 'link']);
    refused(['ip', 'link', 'set', 'eth0', 'up', '-n', NS_A]);
    refused(['ip', 'netns', 'add']);
    refused(['ip', 'netns', 'exec', NS_A]);
  });

  it('allows namespace management, commands inside lab namespaces, and the in-namespace veth form', () => {
    allowed(['ip', 'netns', 'add', NS_A]);
    allowed(['ip', 'netns', 'del', NS_A]);
    allowed(['ip', 'netns', 'delete', NS_A]);
    allowed(['ip', 'netns', 'pids', NS_A]);
    allowed(['ip', 'netns', 'list']);
    allowed(['ip', 'netns', 'exec', NS_A, 'iptables', '-F']);
    allowed(['ip', '-n', NS_A, 'link', 'set', 'eth0', 'up']);
    allowed(['ip', '-6', '-n', NS_A, 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
    allowed(['ip', '-n', NS_A, '-j', 'link', 'show', 'dev', 'eth0']);
    allowed(['ip', 'link', 'add', 'rp0123abcd1a', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rp0123abcd1b', 'netns', NS_B]);
  });

  it('names the refused command in the error', () => {
    assert.throws(() => assertLabCommand(['ip', 'link', 'set', 'eth0', 'down'], scope), /refused `ip link set eth0 down`/);
  });
});
