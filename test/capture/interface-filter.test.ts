import assert from 'node:assert/strict';
import test from 'node:test';
import { assemble, controlFilter } from '../../src/capture/bpf';
import { interfaceMatcher, MAX_FILTERED_INTERFACES, restrictToInterfaces } from '../../src/capture/interface-filter';
import { runCbpf } from '../support/cbpf';
import { buildTcp } from '../support/packet-builder';

const rst = buildTcp({ link: 'raw', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 80, dstPort: 40000, flags: 'RST' });
const ack = buildTcp({ link: 'raw', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 80, dstPort: 40000, flags: 'ACK' });

test('only the listed interfaces pass, and the base filter still decides for them', () => {
  const program = assemble(restrictToInterfaces(controlFilter({ snapBytes: 512 }), [3, 7]));
  const on = (ifindex: number, packet: Uint8Array): number => runCbpf(program, packet, { protocol: 0x0800, ifindex });
  assert.equal(on(3, rst), 512);
  assert.equal(on(7, rst), 512);
  assert.equal(on(5, rst), 0, 'another interface is dropped in the kernel');
  assert.equal(on(3, ack), 0, 'a listed interface still gets the control filter');
});

test('the kernel limit of 8-bit jumps bounds the list', () => {
  const most = Array.from({ length: MAX_FILTERED_INTERFACES }, (_, i) => i + 1);
  const program = assemble(restrictToInterfaces(controlFilter({ snapBytes: 512 }), most));
  assert.equal(runCbpf(program, rst, { protocol: 0x0800, ifindex: MAX_FILTERED_INTERFACES }), 512);
  assert.throws(() => restrictToInterfaces([], [...most, 999]), RangeError);
});

test('--interfaces patterns', () => {
  const matches = interfaceMatcher(['eth0', 'veth*', 'cali?']);
  assert.deepEqual(['eth0', 'eth1', 'veth1a2b', 'calia', 'caliab', 'lo'].filter(matches), ['eth0', 'veth1a2b', 'calia']);
});
