/**
 * The native addon against the real kernel. Unprivileged tests cover argument
 * checks, clocks, interface lookup and the poll reader (on a FIFO); tests that
 * open AF_PACKET sockets need root (CAP_NET_RAW) and skip without it. Traffic is
 * loopback only (127.0.0.1 on `lo`) and bounded.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, writeSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureError } from '../../src/common/errors';
import { findPackageRoot, forEachFrame, loadNativeBinding, type CapturedFrame } from '../../src/capture/native';
import type { PacketRing, PacketRingOptions } from '../../src/capture/native-binding';
import { resetClassKey } from '../../src/capture/storm-guard';

const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = isRoot ? false : 'needs root (CAP_NET_RAW) to open AF_PACKET sockets';
const HPING3 = '/usr/sbin/hping3';

// linux/if_packet.h, linux/if_arp.h
const PACKET_HOST = 0;
const PACKET_OUTGOING = 4;
const ARPHRD_LOOPBACK = 772;
const ETH_P_IP = 0x0800;
const IPPROTO_TCP = 6;
const TCP_FLAG_SYN = 0x02;
const TCP_FLAG_RST = 0x04;

// Classic BPF (include/uapi/linux/filter.h, bpf_common.h). Instructions are in
// host byte order: u16 code, u8 jt, u8 jf, u32 k.
const BPF_LD_H_ABS = 0x28;
const BPF_LD_B_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
const SKF_AD_PROTOCOL = 0xfffff000; // SKF_AD_OFF (-0x1000) + SKF_AD_PROTOCOL (0)

function bpf(...instructions: Array<[code: number, jt: number, jf: number, k: number]>): Buffer {
  const program = Buffer.alloc(instructions.length * 8);
  const le = endianness() === 'LE';
  instructions.forEach(([code, jt, jf, k], i) => {
    if (le) program.writeUInt16LE(code, i * 8);
    else program.writeUInt16BE(code, i * 8);
    program.writeUInt8(jt, i * 8 + 2);
    program.writeUInt8(jf, i * 8 + 3);
    if (le) program.writeUInt32LE(k >>> 0, i * 8 + 4);
    else program.writeUInt32BE(k >>> 0, i * 8 + 4);
  });
  return program;
}

/** IPv4 TCP only. With SOCK_DGRAM, absolute offsets start at the IP header. */
const TCP_ONLY = bpf(
  [BPF_LD_H_ABS, 0, 0, SKF_AD_PROTOCOL],
  [BPF_JEQ_K, 0, 3, ETH_P_IP],
  [BPF_LD_B_ABS, 0, 0, 9], // IPv4 protocol
  [BPF_JEQ_K, 0, 1, IPPROTO_TCP],
  [BPF_RET_K, 0, 0, 0xffff],
  [BPF_RET_K, 0, 0, 0],
);
const ACCEPT_NOTHING = bpf([BPF_RET_K, 0, 0, 0]);

interface TcpSegment {
  pktType: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: number;
}

/** Hand-written IPv4 + TCP parse, independent of src/decode. */
function parseTcp(frame: CapturedFrame): TcpSegment | undefined {
  const b = frame.bytes;
  if (frame.protocol !== ETH_P_IP || b.length < 20 || b[0] >> 4 !== 4 || b[9] !== IPPROTO_TCP) return undefined;
  const ihl = (b[0] & 0x0f) * 4;
  if (b.length < ihl + 14) return undefined;
  return {
    pktType: frame.pktType,
    src: `${b[12]}.${b[13]}.${b[14]}.${b[15]}`,
    dst: `${b[16]}.${b[17]}.${b[18]}.${b[19]}`,
    srcPort: b.readUInt16BE(ihl),
    dstPort: b.readUInt16BE(ihl + 2),
    flags: b[ihl + 13],
  };
}

function ringOptions(filter: Buffer, overrides: Partial<PacketRingOptions> = {}): PacketRingOptions {
  const binding = loadNativeBinding();
  return { ifindex: binding.interfaceIndex('lo'), filter, blockBytes: 1 << 16, blockCount: 8, blockTimeoutMs: 5, ...overrides };
}

/** Starts `ring` and collects every frame (and error) it delivers. */
function collect(ring: PacketRing): { frames: CapturedFrame[]; errors: Error[]; batches: number } {
  const sink = { frames: [] as CapturedFrame[], errors: [] as Error[], batches: 0 };
  ring.start(
    (batch, frameCount) => {
      sink.batches++;
      forEachFrame(batch, frameCount, (frame) => sink.frames.push(frame));
    },
    (err) => sink.errors.push(err),
  );
  return sink;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A TCP port on 127.0.0.1 with no listener (bound once, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Connects to a closed port: the kernel answers the SYN with RST|ACK. */
function connectRefused(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
  });
}

test('loadNativeBinding loads the addon once and finds the package root from the compiled tree', () => {
  const binding = loadNativeBinding();
  assert.equal(loadNativeBinding(), binding);
  const root = findPackageRoot();
  assert.ok(root !== undefined && existsSync(join(root, 'native', 'binding.gyp')));
  assert.equal(findPackageRoot('/'), undefined);
});

test('forEachFrame reads the documented record layout and rejects truncated batches', () => {
  const payload = Buffer.from('4500', 'hex');
  const record = Buffer.alloc(48);
  record.writeUInt32LE(48, 0); // recordBytes: 40 + 2, padded to 8
  record.writeUInt32LE(payload.length, 4);
  record.writeUInt32LE(60, 8);
  record.writeUInt32LE(1_700_000_000, 12);
  record.writeUInt32LE(123_456_789, 16);
  record.writeInt32LE(7, 20);
  record.writeUInt16LE(0x86dd, 24);
  record.writeUInt8(PACKET_OUTGOING, 26);
  record.writeUInt8(1, 27);
  record.writeUInt16LE(0x2064, 28);
  record.writeUInt16LE(1, 32);
  payload.copy(record, 40);
  const batch = Buffer.concat([record, record]);
  const frames: CapturedFrame[] = [];
  forEachFrame(batch, 2, (frame) => frames.push(frame));
  assert.equal(frames.length, 2);
  assert.deepEqual({ ...frames[1], bytes: frames[1].bytes.toString('hex') }, {
    timeMs: 1_700_000_000_123.456789,
    ifindex: 7,
    protocol: 0x86dd,
    pktType: PACKET_OUTGOING,
    vlanTci: 0x2064,
    hatype: 1,
    wireBytes: 60,
    bytes: '4500',
  });
  assert.equal(frames[0].bytes.buffer, batch.buffer, 'bytes is a view, not a copy');
  assert.throws(() => forEachFrame(batch, 3, () => {}), CaptureError);
  assert.throws(() => forEachFrame(batch.subarray(0, 44), 1, () => {}), CaptureError);
});

test('sampleClocks returns three sane BigInt clocks read back to back', () => {
  const { sampleClocks } = loadNativeBinding();
  const first = sampleClocks();
  const second = sampleClocks();
  for (const key of ['realtimeNs', 'monotonicNs', 'boottimeNs'] as const) {
    assert.equal(typeof first[key], 'bigint');
    assert.ok(second[key] >= first[key], `${key} does not go backwards`);
  }
  const wallNs = BigInt(Date.now()) * 1_000_000n;
  assert.ok(first.realtimeNs > wallNs - 1_000_000_000n && first.realtimeNs < wallNs + 1_000_000_000n);
  assert.ok(first.boottimeNs >= first.monotonicNs, 'boot time includes suspend, monotonic does not');
  assert.ok(second.monotonicNs - first.monotonicNs < 100_000_000n);
});

test('interfaceIndex finds lo and throws ENODEV for unknown names', () => {
  const { interfaceIndex } = loadNativeBinding();
  const lo = interfaceIndex('lo');
  assert.ok(Number.isInteger(lo) && lo > 0);
  assert.throws(() => interfaceIndex('rstprobe-none'), { code: 'ENODEV', syscall: 'if_nametoindex', message: /^if_nametoindex: / });
  assert.throws(() => interfaceIndex('a-name-longer-than-ifnamsiz'), { code: 'ENODEV' });
  assert.throws(() => interfaceIndex(''), TypeError);
  assert.throws(() => interfaceIndex(1 as unknown as string), TypeError);
});

test('openPacketRing rejects bad options with a TypeError naming the option, before any syscall', () => {
  const { openPacketRing } = loadNativeBinding();
  const good: PacketRingOptions = { ifindex: 1, filter: TCP_ONLY, blockBytes: 1 << 16, blockCount: 4, blockTimeoutMs: 10 };
  const cases: Array<[Partial<Record<keyof PacketRingOptions, unknown>>, RegExp]> = [
    [{ ifindex: -1 }, /^ifindex must be an integer/],
    [{ ifindex: 1.5 }, /^ifindex must be an integer/],
    [{ filter: 'ret 0' }, /^filter must be a Buffer/],
    [{ filter: Buffer.alloc(7) }, /^filter must hold 1 to 4096 classic BPF instructions/],
    [{ filter: Buffer.alloc(0) }, /^filter must hold/],
    [{ filter: Buffer.alloc(4097 * 8) }, /^filter must hold/],
    [{ blockBytes: 5000 }, /^blockBytes must be a power of two multiple of the page size/],
    [{ blockBytes: 1024 }, /^blockBytes must be a power of two/],
    [{ blockBytes: 3 * 4096 }, /^blockBytes must be a power of two/],
    [{ blockCount: 0 }, /^blockCount must be an integer from 1/],
    [{ blockCount: '4' }, /^blockCount must be an integer/],
    [{ blockTimeoutMs: 0 }, /^blockTimeoutMs must be an integer from 1/],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => openPacketRing({ ...good, ...override } as PacketRingOptions), { name: 'TypeError', message }, JSON.stringify(override));
  }
  assert.throws(() => openPacketRing(undefined as unknown as PacketRingOptions), { name: 'TypeError', message: /^options must be an object/ });
});

test('a ring on lo with a TCP-only filter sees the SYN and the RST of a refused connection', { skip: NEEDS_ROOT }, async () => {
  const binding = loadNativeBinding();
  const lo = binding.interfaceIndex('lo');
  const ring = binding.openPacketRing(ringOptions(TCP_ONLY));
  try {
    const sink = collect(ring);
    const port = await closedPort();
    const before = Date.now();
    assert.equal(await connectRefused(port), 'ECONNREFUSED');
    const ours = () => sink.frames.map(parseTcp).filter((s) => s !== undefined && (s.dstPort === port || s.srcPort === port)) as TcpSegment[];
    await waitFor('SYN and RST on lo', () => {
      const segments = ours();
      return segments.some((s) => s.flags & TCP_FLAG_SYN) && segments.some((s) => s.flags & TCP_FLAG_RST && s.pktType === PACKET_HOST);
    });
    assert.deepEqual(sink.errors, []);
    for (const frame of sink.frames) {
      assert.equal(frame.protocol, ETH_P_IP, 'the filter passes IPv4 only');
      assert.equal(frame.bytes[9], IPPROTO_TCP, 'the filter passes TCP only');
      assert.equal(frame.ifindex, lo);
      assert.equal(frame.hatype, ARPHRD_LOOPBACK);
      assert.equal(frame.vlanTci, null);
      assert.equal(frame.wireBytes, frame.bytes.length, 'snap length 65535 keeps whole packets');
      assert.equal(frame.bytes.readUInt16BE(2), frame.wireBytes, 'the frame starts at the IP header');
    }
    const segments = ours();
    const syn = segments.find((s) => s.flags === TCP_FLAG_SYN && s.dstPort === port);
    assert.ok(syn, 'SYN to the closed port');
    assert.equal(syn.src, '127.0.0.1');
    assert.equal(syn.dst, '127.0.0.1');
    const rst = segments.find((s) => s.flags & TCP_FLAG_RST && s.srcPort === port);
    assert.ok(rst, 'RST from the closed port');
    assert.equal(rst.dstPort, syn.srcPort, 'the RST answers the SYN');
    assert.equal(rst.flags & 0x3f, TCP_FLAG_RST | 0x10, 'RST|ACK');
    // lo shows each packet twice: once leaving (OUTGOING), once arriving (HOST).
    assert.deepEqual(
      new Set(segments.filter((s) => s.flags === TCP_FLAG_SYN).map((s) => s.pktType)),
      new Set([PACKET_OUTGOING, PACKET_HOST]),
    );
    for (const frame of sink.frames.filter((f) => parseTcp(f)?.dstPort === port)) {
      assert.ok(frame.timeMs >= before - 50 && frame.timeMs <= Date.now() + 50, `timestamp ${frame.timeMs} near ${before}`);
    }
    const stats = ring.stats();
    assert.ok(stats.packets >= segments.length, `stats.packets ${stats.packets} >= ${segments.length}`);
    assert.equal(stats.drops, 0);
    assert.ok(ring.stats().packets >= stats.packets, 'stats accumulate across reads');
  } finally {
    ring.close();
  }
});

test('a reject-all filter passes nothing, and setFilter swaps in a new program', { skip: NEEDS_ROOT }, async () => {
  const binding = loadNativeBinding();
  const ring = binding.openPacketRing(ringOptions(ACCEPT_NOTHING));
  try {
    const sink = collect(ring);
    const port = await closedPort();
    for (let i = 0; i < 20; i++) assert.equal(await connectRefused(port), 'ECONNREFUSED');
    await sleep(100); // 20 block timeouts
    assert.equal(sink.frames.length, 0, 'nothing passes ret #0');
    assert.equal(ring.stats().packets, 0);

    ring.setFilter(TCP_ONLY);
    assert.equal(await connectRefused(port), 'ECONNREFUSED');
    await waitFor('the RST after setFilter', () => sink.frames.some((f) => {
      const s = parseTcp(f);
      return s !== undefined && s.srcPort === port && (s.flags & TCP_FLAG_RST) !== 0;
    }));
    assert.deepEqual(sink.errors, []);
  } finally {
    ring.close();
  }
});

test('setFilter checks its argument; the kernel rejects invalid programs with EINVAL', { skip: NEEDS_ROOT }, () => {
  const ring = loadNativeBinding().openPacketRing(ringOptions(TCP_ONLY));
  try {
    assert.throws(() => ring.setFilter(Buffer.alloc(12)), { name: 'TypeError', message: /^filter must hold/ });
    assert.throws(() => ring.setFilter('x' as unknown as Buffer), { name: 'TypeError', message: /^filter must be a Buffer/ });
    // A load without a return: sk_chk_filter refuses it.
    assert.throws(() => ring.setFilter(bpf([BPF_LD_B_ABS, 0, 0, 9])), { code: 'EINVAL', syscall: 'setsockopt' });
    assert.throws(() => ring.start(null as unknown as () => void, () => {}), { name: 'TypeError', message: /^onBatch must be a function/ });
  } finally {
    ring.close();
  }
});

test('close is idempotent; a closed ring refuses work and keeps its final stats', { skip: NEEDS_ROOT }, () => {
  const ring = loadNativeBinding().openPacketRing(ringOptions(TCP_ONLY));
  ring.start(() => {}, () => {});
  assert.throws(() => ring.start(() => {}, () => {}), { code: 'EBUSY' });
  ring.close();
  ring.close();
  assert.throws(() => ring.setFilter(TCP_ONLY), { code: 'EBADF', syscall: 'setsockopt' });
  assert.throws(() => ring.start(() => {}, () => {}), { code: 'EBADF' });
  const stats = ring.stats();
  assert.equal(typeof stats.packets, 'number');
  assert.equal(stats.drops, 0);
});

test('an unknown ifindex fails with ENODEV from bind, an invalid program with EINVAL', { skip: NEEDS_ROOT }, () => {
  const { openPacketRing } = loadNativeBinding();
  assert.throws(() => openPacketRing(ringOptions(TCP_ONLY, { ifindex: 0x7ffffff0 })), { code: 'ENODEV', syscall: 'bind', message: /^bind: No such device$/ });
  const bad = bpf([BPF_JEQ_K, 5, 5, 0], [BPF_RET_K, 0, 0, 0]); // jumps past the end
  assert.throws(() => openPacketRing(ringOptions(bad)), { code: 'EINVAL', syscall: 'setsockopt' });
});

test('rings dropped without close() are closed by the garbage collector', { skip: NEEDS_ROOT }, async () => {
  const script = `
    const { readdirSync } = require('node:fs');
    const b = require(${JSON.stringify(join(findPackageRoot()!, 'native/build/Release/rstprobe_native.node'))});
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) b.openPacketRing({ ifindex: 1, filter: Buffer.from(${JSON.stringify([...ACCEPT_NOTHING])}), blockBytes: 65536, blockCount: 2, blockTimeoutMs: 10 });
    const opened = fds();
    (async () => {
      for (let i = 0; i < 20 && fds() > before; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(JSON.stringify({ opened: opened - before, leaked: fds() - before }));
    })();`;
  const result = await run(process.execPath, ['--expose-gc', '-e', script]);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { opened: 50, leaked: 0 });
});

test('a ring bound to a down interface reports ENETDOWN through onError and closes', { skip: NEEDS_ROOT }, async (t) => {
  // A fresh network namespace (unshare -n) has only `lo`, and it is down: the
  // kernel sets ENETDOWN on the socket at bind (af_packet.c, packet_do_bind).
  const script = `
    const b = require(${JSON.stringify(join(findPackageRoot()!, 'native/build/Release/rstprobe_native.node'))});
    const ring = b.openPacketRing({ ifindex: b.interfaceIndex('lo'), filter: Buffer.from(${JSON.stringify([...ACCEPT_NOTHING])}), blockBytes: 65536, blockCount: 2, blockTimeoutMs: 10 });
    const timer = setTimeout(() => { console.log(JSON.stringify({ timeout: true })); ring.close(); }, 2000);
    ring.start(() => {}, (err) => {
      clearTimeout(timer);
      let again = null;
      try { ring.setFilter(Buffer.from(${JSON.stringify([...ACCEPT_NOTHING])})); } catch (e) { again = e.code; }
      console.log(JSON.stringify({ code: err.code, syscall: err.syscall, message: err.message, afterError: again }));
    });`;
  const result = await run('unshare', ['-n', process.execPath, '-e', script]);
  if (result.exitCode !== 0 && /unshare/.test(result.stderr)) return t.skip(`unshare -n is not permitted here: ${result.stderr.trim()}`);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { code: 'ENETDOWN', syscall: 'poll', message: 'poll: Network is down', afterError: 'EBADF' });
});

test('openPacketRing without CAP_NET_RAW fails with EPERM from socket()', { skip: NEEDS_ROOT }, async (t) => {
  const script = `
    const b = require(${JSON.stringify(join(findPackageRoot()!, 'native/build/Release/rstprobe_native.node'))});
    try { b.openPacketRing({ ifindex: 1, filter: Buffer.from(${JSON.stringify([...TCP_ONLY])}), blockBytes: 65536, blockCount: 2, blockTimeoutMs: 10 }).close(); console.log('{"opened":true}'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })); }`;
  // setpriv drops CAP_NET_RAW from the bounding set, so even uid 0 lacks it after exec.
  const attempts: Array<[string, string[]]> = [
    ['setpriv', ['--inh-caps=-all', '--bounding-set=-net_raw', '--', process.execPath, '-e', script]],
    ['capsh', ['--drop=cap_net_raw', '--', '-c', `exec "$0" -e "$1"`, process.execPath, script]],
  ];
  const failures: string[] = [];
  for (const [command, args] of attempts) {
    const result = await run(command, args);
    if (result.exitCode !== 0 || result.stdout.trim() === '') {
      failures.push(`${command}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
      continue;
    }
    assert.deepEqual(JSON.parse(result.stdout), { code: 'EPERM', syscall: 'socket', message: 'socket: Operation not permitted' });
    return;
  }
  t.skip(`cannot drop CAP_NET_RAW here (${failures.join('; ')})`);
});

test('the ring keeps up with 20000 RSTs from hping3 on lo without drops', { skip: NEEDS_ROOT || (!existsSync(HPING3) && `${HPING3} is not installed`), timeout: 60_000 }, async (t) => {
  const binding = loadNativeBinding();
  // The live capture's geometry (packet-capture.ts): 32 blocks of 1 MiB.
  const ring = binding.openPacketRing(ringOptions(TCP_ONLY, { blockBytes: 1 << 20, blockCount: 32, blockTimeoutMs: 10 }));
  const sent = 20_000;
  let received = 0;
  let batches = 0;
  let maxBatchFrames = 0;
  try {
    ring.start(
      (batch, frameCount) => {
        batches++;
        maxBatchFrames = Math.max(maxBatchFrames, frameCount);
        forEachFrame(batch, frameCount, (frame) => {
          const s = parseTcp(frame);
          if (s !== undefined && s.pktType === PACKET_HOST && s.dstPort === 9 && s.flags & TCP_FLAG_RST) received++;
        });
      },
      (err) => assert.fail(err),
    );
    const started = Date.now();
    // Asynchronous on purpose: the ring is drained by this process's event loop.
    const result = await run(HPING3, ['-q', '-c', String(sent), '-i', 'u10', '-R', '-p', '9', '127.0.0.1']);
    const sendMs = Date.now() - started;
    // hping3 exits 1 when nothing answers, as nothing answers a RST.
    assert.match(result.stdout + result.stderr, new RegExp(`\\b${sent} packets transmitted`), result.stderr);
    await waitFor(`${sent} RSTs`, () => received >= sent, 2000).catch(() => {});
    const stats = ring.stats();
    t.diagnostic(`hping3: sent ${sent} in ${sendMs} ms; ring saw ${received} (${((100 * received) / sent).toFixed(2)}%) in ${batches} batches (max ${maxBatchFrames} frames); stats ${JSON.stringify(stats)}`);
    assert.ok(received >= sent * 0.999, `saw ${received} of ${sent}`);
    assert.equal(stats.drops, 0);
    assert.ok(batches < received, 'frames arrive in batches, not one call per packet');
  } finally {
    ring.close();
  }
});

test('a poll reader delivers what is written to a FIFO, in chunks of at most chunkBytes, and reports EOF', async () => {
  const { openPollReader } = loadNativeBinding();
  const dir = mkdtempSync(join(tmpdir(), 'rstprobe-native-'));
  try {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const chunks: Buffer[] = [];
    const errors: Error[] = [];
    const reader = openPollReader(fifo, 4096, (chunk) => chunks.push(chunk), (err) => errors.push(err));
    try {
      // The reader is already open, so opening the write end does not block.
      const writer = await openFile(fifo, 'w');
      await writer.write('hello ');
      await waitFor('first write', () => Buffer.concat(chunks).toString() === 'hello ');
      await writer.write('world');
      await waitFor('second write', () => Buffer.concat(chunks).toString() === 'hello world');
      // More than a pipe buffer (64 KiB): the write waits for our reads on the pool.
      const pattern = Buffer.alloc(300_000);
      for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + (i >> 10)) & 0xff;
      chunks.length = 0;
      await writer.write(pattern);
      await waitFor('300000 bytes', () => chunks.reduce((n, c) => n + c.length, 0) >= pattern.length);
      assert.ok(chunks.every((c) => c.length > 0 && c.length <= 4096), 'chunks never exceed chunkBytes');
      assert.ok(Buffer.concat(chunks).equals(pattern), 'bytes arrive complete and in order');
      assert.deepEqual(errors, []);
      await writer.close();
      await waitFor('EOF', () => errors.length > 0);
      assert.equal(errors.length, 1);
      assert.deepEqual({ code: (errors[0] as NodeJS.ErrnoException).code, syscall: (errors[0] as NodeJS.ErrnoException).syscall }, { code: 'EOF', syscall: 'read' });
    } finally {
      reader.close();
      reader.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('closing a poll reader closes the file at once and stops delivery', async () => {
  const { openPollReader } = loadNativeBinding();
  const dir = mkdtempSync(join(tmpdir(), 'rstprobe-native-'));
  try {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const chunks: Buffer[] = [];
    const reader = openPollReader(fifo, 64, (chunk) => chunks.push(chunk), (err) => assert.fail(err));
    const writer = openSync(fifo, 'w');
    try {
      writeSync(writer, 'one');
      await waitFor('data', () => chunks.length > 0);
      writeSync(writer, 'two'); // readable again, but closed before the loop can poll
      reader.close();
      // The read end is closed when close() returns, so a write has no reader (pipe(7)).
      assert.throws(() => writeSync(writer, 'three'), { code: 'EPIPE' });
      await sleep(20);
      assert.equal(Buffer.concat(chunks).toString(), 'one', 'nothing delivered after close()');
      reader.close();
    } finally {
      closeSync(writer);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('openPollReader checks arguments and reports open and poll failures with errno codes', () => {
  const { openPollReader } = loadNativeBinding();
  const noop = () => {};
  assert.throws(() => openPollReader('', 4096, noop, noop), { name: 'TypeError', message: /^path must be a non-empty string/ });
  assert.throws(() => openPollReader('/tmp/x', 0, noop, noop), { name: 'TypeError', message: /^chunkBytes must be an integer from 1/ });
  assert.throws(() => openPollReader('/tmp/x', 4096, 'f' as unknown as () => void, noop), { name: 'TypeError', message: /^onData must be a function/ });
  assert.throws(() => openPollReader('/tmp/x', 4096, noop, undefined as unknown as () => void), { name: 'TypeError', message: /^onError must be a function/ });
  assert.throws(() => openPollReader('/nonexistent/rstprobe', 4096, noop, noop), { code: 'ENOENT', syscall: 'open', message: 'open: No such file or directory' });
  const dir = mkdtempSync(join(tmpdir(), 'rstprobe-native-'));
  try {
    const file = join(dir, 'regular');
    writeFileSync(file, 'x');
    // epoll refuses regular files (they are always ready).
    assert.throws(() => openPollReader(file, 4096, noop, noop), { code: 'EPERM', syscall: 'uv_poll_init' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => resolve({ exitCode: null, stdout, stderr: String(err) }));
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

test('with reuseBatchBuffer every batch arrives in the same Buffer; without it each is new', { skip: NEEDS_ROOT }, async () => {
  const binding = loadNativeBinding();
  for (const reuse of [true, false]) {
    const ring = binding.openPacketRing(ringOptions(TCP_ONLY, { reuseBatchBuffer: reuse }));
    const buffers: Buffer[] = [];
    ring.start(
      (batch) => buffers.push(batch),
      () => {},
    );
    try {
      for (let i = 0; i < 3 && buffers.length < 2; i++) {
        await connectRefused(await closedPort());
        await waitFor('a batch', () => buffers.length > i, 3000).catch(() => undefined);
      }
      await waitFor('two batches', () => buffers.length >= 2);
      assert.equal(buffers[0] === buffers[1], reuse);
    } finally {
      ring.close();
    }
  }
  assert.throws(() => binding.openPacketRing(ringOptions(TCP_ONLY, { reuseBatchBuffer: 'yes' as unknown as boolean })), /reuseBatchBuffer must be a boolean/);
});

test('the storm guard counts RSTs past its budget in the addon, under the key resetClassKey computes', { skip: NEEDS_ROOT || (!existsSync(HPING3) && `${HPING3} is not installed`), timeout: 60_000 }, async () => {
  const binding = loadNativeBinding();
  const ring = binding.openPacketRing(
    ringOptions(TCP_ONLY, { blockBytes: 1 << 20, blockCount: 8, blockTimeoutMs: 10, stormGuard: { ratePerSecond: 1, burst: 10, maxClasses: 100 } }),
  );
  // A spoofed source gives this test a class of its own among other loopback traffic.
  const source = '127.0.0.77';
  const sent = 2_000;
  const delivered: number[] = [];
  try {
    ring.start(
      (batch, frameCount) => {
        forEachFrame(batch, frameCount, (frame) => {
          const s = parseTcp(frame);
          if (s?.src === source && s.flags & TCP_FLAG_RST) delivered.push(resetClassKey(frame.bytes, 0, frame.bytes.length));
        });
      },
      (err) => assert.fail(err),
    );
    const started = Date.now();
    const result = await run(HPING3, ['-q', '-c', String(sent), '-i', 'u100', '-R', '-a', source, '-p', '9', '127.0.0.1']);
    assert.match(result.stdout + result.stderr, new RegExp(`\\b${sent} packets transmitted`), result.stderr);
    await sleep(100); // the last block retires after blockTimeoutMs
    const elapsedS = (Date.now() - started) / 1000;
    const flat = ring.stormCounts();
    const classKey = delivered[0];
    assert.ok(classKey >= 0 && delivered.every((key) => key === classKey), 'one class for one address pair');
    let counted = 0;
    for (let i = 0; i < flat.length; i += 4) if (flat[i] === classKey) counted += flat[i + 1];
    // On lo every packet is captured twice (outgoing and incoming).
    assert.equal(delivered.length + counted, 2 * sent - ring.stats().drops, `delivered ${delivered.length}, counted ${counted}`);
    assert.ok(delivered.length >= 10 && delivered.length <= 10 + Math.ceil(elapsedS) + 1, `delivered ${delivered.length} in ${elapsedS} s with burst 10 at 1/s`);
    const again = ring.stormCounts();
    for (let i = 0; i < again.length; i += 4) assert.notEqual(again[i], classKey, 'counts are handed over once');
  } finally {
    ring.close();
  }
});

test('stormGuard options are checked like the others', () => {
  const binding = loadNativeBinding();
  const bad = (stormGuard: unknown): PacketRingOptions => ({ ...ringOptions(TCP_ONLY), stormGuard } as unknown as PacketRingOptions);
  assert.throws(() => binding.openPacketRing(bad('x')), { name: 'TypeError', message: /^stormGuard must be an object/ });
  assert.throws(() => binding.openPacketRing(bad({ ratePerSecond: 0, burst: 1, maxClasses: 1 })), { name: 'TypeError', message: /^stormGuard\.ratePerSecond must be/ });
  assert.throws(() => binding.openPacketRing(bad({ ratePerSecond: 1, burst: 1 })), { name: 'TypeError', message: /^stormGuard\.maxClasses must be/ });
});
