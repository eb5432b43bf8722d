import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { PacketObservation } from '../../src/capture/observation';
import { silentLogger } from '../../src/common/log';
import { decodeFrame } from '../../src/decode/decode';
import { LinkType } from '../../src/decode/types';
import { EvidenceRecorder } from '../../src/evidence/evidence-recorder';
import { EvidenceStore } from '../../src/evidence/evidence-store';
import { FlowPacketRing, SNAP_BYTES } from '../../src/evidence/flow-packet-ring';
import { encodeTcpHeaders } from '../../src/evidence/header-encoder';
import type { ResetFinding } from '../../src/protocol/finding';
import { readAllPackets, tsharkFields, tsharkSkipReason } from '../support/capture-readers';
import { buildTcp, type TcpBuildOptions } from '../support/packet-builder';

const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-evidence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Ethernet header bytes before the IP header. */
const ETHERNET_BYTES = 14;

/**
 * A packet as the live capture hands it over: decoded, with the frame's bytes in a
 * buffer the capture reuses (`scribble` overwrites it, as the next batch would).
 */
function observe(options: TcpBuildOptions, timeMs: number, frames: Uint8Array[] = []): PacketObservation {
  const frame = buildTcp(options);
  const decoded = decodeFrame(LinkType.ETHERNET, frame);
  assert.ok(decoded.ok);
  frames.push(frame);
  return { timeMs, ifindex: null, pktType: null, packet: decoded.packet, frame: frame.slice(), frameIpOffset: ETHERNET_BYTES };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const client = { src: '10.244.1.10', dst: '10.244.2.20', srcPort: 41000, dstPort: 8080 };
const server = { src: '10.244.2.20', dst: '10.244.1.10', srcPort: 8080, dstPort: 41000, ttl: 62 };

describe('header encoder', () => {
  const cases: Array<[string, TcpBuildOptions]> = [
    ['IPv4 SYN with every option', { ...client, flags: 'SYN', seq: 4_000_000_000, mss: 1460, windowScale: 7, sackPermitted: true, timestamp: { value: 123456, echo: 0 }, ipId: 4242, ttl: 63 }],
    ['IPv4 data with SACK blocks', { ...server, flags: ['PSH', 'ACK'], seq: 9, ack: 77, payload: new Uint8Array(300), sack: [[1, 2], [5, 9]], timestamp: { value: 1, echo: 2 } }],
    ['IPv6 RST', { src: 'fd00::1', dst: 'fd00::2', srcPort: 80, dstPort: 50000, flags: ['RST', 'ACK'], seq: 1, ack: 2, window: 0, ttl: 58 }],
  ];
  for (const [name, options] of cases) {
    test(`${name}: rebuilt headers decode to the same fields`, () => {
      const original = decodeFrame(LinkType.ETHERNET, buildTcp(options));
      assert.ok(original.ok);
      const encoded = encodeTcpHeaders(original.packet);
      assert.ok(encoded !== null);
      const again = decodeFrame(LinkType.RAW, encoded.bytes);
      assert.ok(again.ok, JSON.stringify(again));
      const a = original.packet;
      const b = again.packet;
      assert.deepEqual(b.tcp, a.tcp);
      for (const field of ['version', 'src', 'dst', 'ttl', 'ipId', 'dontFragment', 'protocol', 'totalBytes'] as const) assert.deepEqual(b.ip[field], a.ip[field], field);
      assert.equal(encoded.originalBytes, a.ip.totalBytes);
    });
  }
});

describe('flow packet ring', () => {
  test('keeps the last packets of each flow, oldest first, both directions in one flow', () => {
    const ring = new FlowPacketRing({ packetsPerFlow: 4 });
    for (let index = 0; index < 10; index++) ring.record(observe({ ...(index % 2 === 0 ? client : server), seq: index }, 1000 + index));
    const kept = ring.packetsOf({ ip: client.src, port: client.srcPort }, { ip: client.dst, port: client.dstPort });
    assert.deepEqual(kept.map((o) => o.observation.packet.tcp?.seq), [6, 7, 8, 9]);
    assert.equal(ring.packets, 4);
  });

  test("keeps each packet's bytes from the IP header on, copied before the capture's buffer is reused", () => {
    const ring = new FlowPacketRing({ packetsPerFlow: 2 });
    const frames: Uint8Array[] = [];
    const observations = [0, 1, 2].map((index) => observe({ ...client, seq: index, timestamp: { value: 7 + index, echo: 3 }, payload: new Uint8Array(200).fill(index + 1) }, 1000 + index, frames));
    for (const observation of observations) {
      ring.record(observation);
      observation.frame?.fill(0xee); // the next batch lands in the same buffer
    }
    const kept = ring.packetsOf({ ip: client.src, port: client.srcPort }, { ip: client.dst, port: client.dstPort });
    assert.deepEqual(kept.map(({ ipBytes }) => ipBytes?.length), [SNAP_BYTES, SNAP_BYTES], 'cut at the snap length');
    assert.deepEqual(kept.map(({ ipBytes }) => hex(ipBytes!)), [1, 2].map((index) => hex(frames[index].subarray(ETHERNET_BYTES, ETHERNET_BYTES + SNAP_BYTES))));
    const bare = { ...observe(client, 2000), frame: undefined };
    ring.record(bare);
    assert.equal(ring.packetsOf({ ip: client.src, port: client.srcPort }, { ip: client.dst, port: client.dstPort }).at(-1)?.ipBytes, null, 'no bytes when the capture gave none');
  });

  test('evicts the least recently active flow past the flow and packet bounds', () => {
    const ring = new FlowPacketRing({ packetsPerFlow: 4, maxFlows: 3, maxPackets: 10 });
    for (let flow = 0; flow < 5; flow++) ring.record(observe({ ...client, srcPort: 40000 + flow }, flow));
    assert.equal(ring.flowCount, 3);
    assert.equal(ring.packetsOf({ ip: client.src, port: 40000 }, { ip: client.dst, port: client.dstPort }).length, 0);
    assert.equal(ring.packetsOf({ ip: client.src, port: 40004 }, { ip: client.dst, port: client.dstPort }).length, 1);
    for (let index = 0; index < 4; index++) for (let flow = 2; flow < 5; flow++) ring.record(observe({ ...client, srcPort: 40000 + flow, seq: index }, 10 + index));
    assert.ok(ring.packets <= 10, `${ring.packets} packets`);
    assert.equal(ring.evictedFlows >= 3, true);
  });
});

describe('evidence store', () => {
  test('bounded by files and bytes, oldest deleted, files of an earlier run counted', () => {
    const where = path.join(dir, 'store');
    const store = new EvidenceStore({ dir: where, maxFiles: 3, maxBytes: 1000 });
    for (const id of ['a', 'b', 'c', 'd']) store.save(id, Buffer.alloc(100));
    assert.deepEqual(readdirSync(where).sort(), ['b.pcapng', 'c.pcapng', 'd.pcapng']);
    store.save('big', Buffer.alloc(800));
    assert.ok(store.bytes <= 1000, `${store.bytes} bytes`);
    assert.equal(existsSync(path.join(where, 'b.pcapng')), false);
    assert.equal(store.read('big')?.length, 800);
    const reopened = new EvidenceStore({ dir: where, maxFiles: 1, maxBytes: 10_000 });
    assert.equal(reopened.fileCount, 1);
    assert.equal(readdirSync(where).length, 1);
    assert.throws(() => store.save('../escape', Buffer.alloc(1)), /unsafe finding id/);
    assert.equal(store.read('../escape'), null);
  });
});

describe('evidence recorder', () => {
  test('a new reset finding gets a pcapng of its flow that tshark reads, with the RST commented', { skip: tsharkSkipReason() }, async () => {
    const recorder = new EvidenceRecorder({ nodeName: 'node-b', log: silentLogger(), dir: path.join(dir, 'recorder') });
    const baseMs = 1_795_000_000_000.5;
    const frames: Uint8Array[] = [];
    const record = (observation: PacketObservation) => {
      recorder.record(observation);
      observation.frame = undefined; // as the capture does once its listeners ran
    };
    record(observe({ ...client, flags: 'SYN', seq: 100, mss: 1460 }, baseMs, frames));
    record(observe({ ...server, flags: ['SYN', 'ACK'], seq: 900, ack: 101 }, baseMs + 0.25, frames));
    record(observe({ ...client, flags: ['PSH', 'ACK'], seq: 101, ack: 901, payload: new Uint8Array(18) }, baseMs + 1, frames));
    record(observe({ ...server, flags: ['RST', 'ACK'], seq: 901, ack: 119, window: 0 }, baseMs + 301, frames));
    record(observe({ ...client, srcPort: 41001, flags: 'SYN' }, baseMs + 302, frames)); // another flow
    const finding: ResetFinding = {
      kind: 'reset',
      id: '0b7c6f5e-1111-4222-8333-944445555666',
      node: 'node-b',
      time: new Date(baseMs + 301).toISOString(),
      lastSeen: new Date(baseMs + 301).toISOString(),
      count: 1,
      src: { ip: server.src, port: server.srcPort, kind: 'pod', pod: null, node: 'node-b', process: null },
      dst: { ip: client.src, port: client.srcPort, kind: 'pod', pod: null, node: 'node-a', process: null },
      sentBy: 'endpoint',
      cause: 'abort-on-close',
      kernelReason: 'TCP_ABORT_ON_CLOSE',
      state: 'TCP_CLOSE',
      ttl: 62,
      expectedTtl: 62,
      idleMs: 300,
      evidence: ['the sender closed the socket with unread data'],
      advice: '…',
    };
    const pcapng = recorder.captureFinding(finding);
    assert.ok(pcapng !== null);
    const file = path.join(recorder.store.dir, `${finding.id}.pcapng`);
    assert.deepEqual(recorder.store.read(finding.id), pcapng);

    const rows = await tsharkFields(file, ['frame.time_epoch', 'ip.src', 'tcp.srcport', 'tcp.flags.reset', 'tcp.seq_raw', 'frame.comment']);
    assert.equal(rows.length, 4, 'the flow\'s four packets, not the other flow');
    assert.deepEqual(rows.map((row) => row[2]), ['41000', '8080', '41000', '8080']);
    const resets = await tsharkFields(file, ['ip.src', 'tcp.seq_raw', 'frame.comment'], 'tcp.flags.reset==1');
    assert.equal(resets.length, 1);
    assert.equal(resets[0][0], server.src);
    assert.equal(resets[0][1], '901');
    assert.match(resets[0][2], /rstprobe finding 0b7c6f5e-1111-4222-8333-944445555666: abort-on-close, sent by endpoint/);
    assert.ok(Math.abs(Number(rows[0][0]) * 1000 - baseMs) < 0.001, `ns timestamps: ${rows[0][0]}`);
    const { packets } = await readAllPackets(file);
    assert.equal(packets.length, 4);
    assert.equal(packets[3].linkType, LinkType.RAW);
    // The bytes as captured, checksums and all, not headers rebuilt from decoded fields.
    assert.deepEqual(packets.map((packet) => packet.hex), frames.slice(0, 4).map((frame) => hex(frame.subarray(ETHERNET_BYTES))));
    const [checksum] = await tsharkFields(file, ['tcp.checksum'], 'tcp.flags.reset==1');
    assert.equal(Number(checksum[0]), Buffer.from(frames[3]).readUInt16BE(ETHERNET_BYTES + 20 + 16), 'the RST keeps its TCP checksum');
  });

  test('no capture for a flow the ring never saw', () => {
    const recorder = new EvidenceRecorder({ nodeName: 'n', log: silentLogger(), dir: path.join(dir, 'empty') });
    const finding = { src: { ip: '10.0.0.1', port: 1 }, dst: { ip: '10.0.0.2', port: 2 } } as unknown as ResetFinding;
    assert.equal(recorder.captureFinding(finding), null);
  });
});

