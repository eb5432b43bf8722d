/**
 * The classic BPF assembler and the capture filters. Filter semantics are checked
 * against the decoder on random packets with a cBPF interpreter; the root-only test
 * attaches both programs to a real AF_PACKET socket (via python3, since plain Node
 * cannot open one) and captures real loopback traffic through them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  assemble,
  BPF_MAX_INSTRUCTIONS,
  bpf,
  controlFilter,
  decodeProgram,
  encodeProgram,
  headersFilter,
  MAX_IPV6_EXTENSION_HEADERS,
} from '../../src/capture/bpf';
import { findPackageRoot, loadNativeBinding } from '../../src/capture/native';
import { decodeNetwork } from '../../src/decode/decode';
import { TcpFlag, type DecodedPacket } from '../../src/decode/types';
import { runCbpf } from '../support/cbpf';
import {
  buildIcmpError,
  buildIcmpFragNeeded,
  buildIcmpv6PacketTooBig,
  buildTcp,
  buildUdp,
  buildIcmpEcho,
  dgramEtherType,
  isIpv6Text,
  type IpBuildOptions,
} from '../support/packet-builder';
import { echoArb, tcpArb, udpArb } from '../decode/arbitraries';

const SNAP_BYTES = 512;
const MAX_HEADER_BYTES = 192;
const CONTROL = encodeProgram(controlFilter({ snapBytes: SNAP_BYTES }));
const HEADERS = encodeProgram(headersFilter({ maxHeaderBytes: MAX_HEADER_BYTES, snapBytes: SNAP_BYTES }));
/** Room the interface prefix of src/capture/interface-filter.ts needs in front of a program. */
const INTERFACE_PREFIX_INSTRUCTIONS = 256;

function isControlPacket(p: DecodedPacket): boolean {
  if (p.tcp) return (p.tcp.flags & (TcpFlag.FIN | TcpFlag.SYN | TcpFlag.RST)) !== 0;
  return p.icmp?.kind === 'frag-needed' || p.icmp?.kind === 'packet-too-big';
}

describe('cBPF assembler', () => {
  it('resolves labels to forward jt/jf offsets and encodes host-order sock_filter', () => {
    const program = [
      bpf.ldAbs('h', 12),
      bpf.jeq(0x0800, 'yes', 'no'),
      bpf.label('yes'),
      bpf.retK(0xffff),
      bpf.label('no'),
      bpf.retK(0),
    ];
    assert.deepEqual(assemble(program), [
      { code: 0x28, jt: 0, jf: 0, k: 12 },
      { code: 0x15, jt: 0, jf: 1, k: 0x0800 },
      { code: 0x06, jt: 0, jf: 0, k: 0xffff },
      { code: 0x06, jt: 0, jf: 0, k: 0 },
    ]);
    const bytes = encodeProgram(program);
    assert.equal(bytes.length, 32);
    assert.deepEqual(decodeProgram(bytes), assemble(program));
    // x86: u16 code LE, u8 jt, u8 jf, u32 k LE
    assert.equal(bytes.subarray(8, 16).toString('hex'), '1500000100080000');
  });

  it('refuses what the kernel checker refuses', () => {
    assert.throws(() => assemble([bpf.label('top'), bpf.ldImm(1), bpf.ja('top'), bpf.retK(0)]), /backward/);
    assert.throws(() => assemble([bpf.jeq(1, 'nowhere'), bpf.retK(0)]), /unknown label/);
    assert.throws(() => assemble([bpf.label('a'), bpf.label('a'), bpf.retK(0)]), /duplicate/);
    assert.throws(() => assemble([bpf.ldImm(1)]), /ret/);
    const far = [bpf.jeq(1, 'end'), ...Array.from({ length: 256 }, () => bpf.ldImm(0)), bpf.label('end'), bpf.retK(0)];
    assert.throws(() => assemble(far), /max 255/);
    assert.throws(() => assemble(Array.from({ length: BPF_MAX_INSTRUCTIONS + 1 }, () => bpf.retK(0))), /instructions/);
  });

  it('keeps both filters small enough for the kernel and an interface prefix', () => {
    for (const program of [CONTROL, HEADERS]) {
      assert.ok(program.length / 8 + INTERFACE_PREFIX_INSTRUCTIONS <= BPF_MAX_INSTRUCTIONS);
    }
  });
});

/** Random packets as a SOCK_DGRAM socket reads them, with 0–2 VLAN tags left in the data. */
const dgramOptions = <T extends IpBuildOptions>(o: T): T => ({ ...o, link: 'dgram' });
const packetArb = fc.oneof(
  { weight: 4, arbitrary: tcpArb.map((o) => ({ o: dgramOptions(o), frame: buildTcp(dgramOptions(o)) })) },
  { weight: 1, arbitrary: udpArb.map((o) => ({ o: dgramOptions(o), frame: buildUdp(dgramOptions(o)) })) },
  { weight: 1, arbitrary: echoArb.map((o) => ({ o: dgramOptions(o), frame: buildIcmpEcho(dgramOptions(o)) })) },
  {
    weight: 2,
    arbitrary: fc.tuple(tcpArb, fc.integer({ min: 68, max: 9000 }), fc.constantFrom('mtu', 'other')).map(([inner, mtu, kind]) => {
      const quoted = buildTcp({ ...inner, link: 'raw', vlanIds: [] });
      const o = { ...inner, link: 'dgram' as const, src: inner.dst, dst: inner.src, mtu, quoted };
      const v6 = isIpv6Text(inner.src);
      let frame: Uint8Array;
      if (kind === 'mtu') frame = v6 ? buildIcmpv6PacketTooBig(o) : buildIcmpFragNeeded(o);
      else frame = buildIcmpError({ ...o, type: v6 ? 1 : 3, code: v6 ? 4 : 3 }); // port unreachable: not wanted
      return { o: o as IpBuildOptions, frame };
    }),
  },
);

describe('capture filters agree with the decoder', () => {
  it('control filter keeps exactly RST/SYN/FIN segments and frag-needed/packet-too-big', () => {
    fc.assert(
      fc.property(packetArb, fc.boolean(), ({ o, frame }, vlanTagPresent) => {
        const etherType = dgramEtherType(o);
        const decoded = decodeNetwork(etherType, frame);
        assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
        const verdict = runCbpf(CONTROL, frame, { protocol: etherType, vlanTagPresent });
        assert.equal(verdict, isControlPacket(decoded.packet) ? SNAP_BYTES : 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('headers filter keeps every TCP segment cut to exactly its headers, and the same ICMP errors whole', () => {
    fc.assert(
      fc.property(packetArb, ({ o, frame }) => {
        const etherType = dgramEtherType(o);
        const decoded = decodeNetwork(etherType, frame);
        assert.ok(decoded.ok);
        const { link, ip, tcp, icmp } = decoded.packet;
        let expected = 0;
        if (tcp) expected = Math.min(link.networkOffset + ip.headerBytes + tcp.headerBytes, MAX_HEADER_BYTES);
        else if (icmp?.kind === 'frag-needed' || icmp?.kind === 'packet-too-big') expected = SNAP_BYTES;
        assert.equal(runCbpf(HEADERS, frame, { protocol: etherType }), expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves IPv6 chains longer than the kernel walk to the decoder', () => {
    const options = {
      link: 'dgram' as const,
      src: 'fd00::1',
      dst: 'fd00::2',
      flags: 'ACK' as const,
      ipv6ExtensionHeaders: Array.from({ length: MAX_IPV6_EXTENSION_HEADERS + 1 }, () => ({ type: 60 })),
    };
    const frame = buildTcp(options);
    assert.equal(runCbpf(CONTROL, frame, { protocol: 0x86dd }), SNAP_BYTES);
    assert.equal(runCbpf(HEADERS, frame, { protocol: 0x86dd }), MAX_HEADER_BYTES);
    const shorter = buildTcp({ ...options, ipv6ExtensionHeaders: options.ipv6ExtensionHeaders.slice(1) });
    assert.equal(runCbpf(CONTROL, shorter, { protocol: 0x86dd }), 0);
  });

  it('drops truncated, non-IP and non-first-fragment packets', () => {
    const rst = buildTcp({ link: 'dgram', src: '10.0.0.1', dst: '10.0.0.2', flags: 'RST' });
    assert.equal(runCbpf(CONTROL, rst.subarray(0, 30), { protocol: 0x0800 }), 0);
    assert.equal(runCbpf(CONTROL, rst, { protocol: 0x0806 }), 0);
    const fragment = buildTcp({ link: 'dgram', src: '10.0.0.1', dst: '10.0.0.2', flags: 'RST', df: false, fragment: { offsetBytes: 8, moreFragments: false } });
    assert.equal(runCbpf(CONTROL, fragment, { protocol: 0x0800 }), 0);
  });
});

/**
 * python3 helper: opens AF_PACKET/SOCK_DGRAM on lo, attaches the program
 * (SO_ATTACH_FILTER with a struct sock_fprog built by ctypes), makes a SYN to a
 * closed port (answered by RST) and a UDP datagram to a closed port (answered by
 * ICMP port unreachable), and prints "protocol hex" per captured frame.
 */
const ATTACH_AND_CAPTURE_PY = `
import ctypes, socket, struct, sys, time
SO_ATTACH_FILTER = 26  # asm-generic/socket.h
ETH_P_ALL = 0x0003
program = open(sys.argv[1], 'rb').read()
code = ctypes.create_string_buffer(program, len(program))
fprog = struct.pack('HL', len(program) // 8, ctypes.addressof(code))
# Protocol 0 until bind: no frame is queued before the filter is in place (a socket
# opened with ETH_P_ALL receives unfiltered frames from a busy loopback meanwhile).
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
s.bind(('lo', ETH_P_ALL))  # Python converts the protocol to network order
probe = socket.socket(); probe.bind(('127.0.0.1', 0)); port = probe.getsockname()[1]; probe.close()
try: socket.create_connection(('127.0.0.1', port), timeout=1)
except OSError: pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x' * 100, ('127.0.0.1', port))
print(port)
s.settimeout(0.3)
deadline = time.time() + 1.0
while time.time() < deadline:
    try: data, addr = s.recvfrom(65535)
    except socket.timeout: break
    print(addr[1], data.hex())
`;

describe('kernel accepts the filters', { skip: process.getuid?.() !== 0 ? 'needs root (CAP_NET_RAW) for AF_PACKET' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rstprobe-bpf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const capture = (program: Buffer) => {
    const path = join(dir, 'program.bpf');
    writeFileSync(path, program);
    // The script's own loop ends after a second; the margin is for a loaded machine.
    const result = spawnSync('python3', ['-c', ATTACH_AND_CAPTURE_PY, path], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
    assert.equal(result.status, 0, `${result.error?.message ?? ''} ${result.stderr}`);
    const [portLine, ...frameLines] = result.stdout.trim().split('\n');
    const frames = frameLines.map((line) => {
      const [protocol, hex] = line.split(' ');
      return { protocol: Number(protocol), bytes: Uint8Array.from(Buffer.from(hex ?? '', 'hex')) };
    });
    return { port: Number(portLine), frames };
  };

  it('control filter: attaches, lets through the SYN and RST, not the UDP or its ICMP error', () => {
    const { port, frames } = capture(CONTROL);
    const ours = [];
    for (const frame of frames) {
      const decoded = decodeNetwork(frame.protocol, frame.bytes);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.ok(isControlPacket(decoded.packet), 'only control packets pass');
      if (decoded.packet.tcp?.dstPort === port || decoded.packet.tcp?.srcPort === port) ours.push(decoded.packet.tcp.flags);
    }
    assert.ok(ours.some((flags) => flags & TcpFlag.SYN), 'SYN captured');
    assert.ok(ours.some((flags) => flags & TcpFlag.RST), 'RST captured');
  });

  it('headers filter: attaches and cuts TCP segments to their headers', () => {
    const { port, frames } = capture(HEADERS);
    let ours = 0;
    for (const frame of frames) {
      const decoded = decodeNetwork(frame.protocol, frame.bytes);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      const { ip, tcp, udp } = decoded.packet;
      assert.equal(udp, null);
      if (tcp) assert.equal(frame.bytes.length, ip.headerBytes + tcp.headerBytes);
      if (tcp?.dstPort === port || tcp?.srcPort === port) ours++;
    }
    assert.ok(ours >= 2, 'SYN and RST captured');
  });
});

const ADDON_PATH = join(findPackageRoot() ?? '.', 'native/build/Release/rstprobe_native.node');
const nativeSkip = process.getuid?.() !== 0 ? 'needs root (CAP_NET_RAW)' : !existsSync(ADDON_PATH) ? 'native addon not built' : false;

describe('native packet ring accepts the filters', { skip: nativeSkip }, () => {
  it('opens a ring on lo with each filter and closes it', () => {
    const binding = loadNativeBinding();
    for (const filter of [CONTROL, HEADERS]) {
      const ring = binding.openPacketRing({ ifindex: 1, filter, blockBytes: 1 << 16, blockCount: 4, blockTimeoutMs: 10 });
      ring.setFilter(filter);
      ring.close();
    }
  });
});
