import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { analyzeCaptureFile } from '../../src/analyze/capture-analysis';
import { OfflineAttributor } from '../../src/analyze/offline-attributor';
import { IpOwnershipMap } from '../../src/attribution/ip-map';
import { LinkType } from '../../src/decode/types';
import { readAllPackets, readWithPcapParser, tsharkFields, tsharkSkipReason } from '../support/capture-readers';

/**
 * Real recordings, small enough to keep: the agent lab's three scenarios (a server
 * that aborts with unread data on 8080, a closed port 9999, a fabric REJECT on 8081)
 * recorded by `tcpdump -i any -s 128` on node-b (pcap, Linux cooked v2) and
 * `dumpcap -i any -s 128` on node-a (pcapng), through the lab of src/lab/lab.ts.
 * Unlike the lab test they need no root, so every run checks real tools' files.
 */
const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/captures');
const nodeB = path.join(FIXTURES, 'node-b-any-tcpdump.pcap');
const nodeA = path.join(FIXTURES, 'node-a-any-dumpcap.pcapng');

const analyse = (file: string) => analyzeCaptureFile(file, { attributor: new OfflineAttributor(new IpOwnershipMap()) });
const verdicts = (findings: Awaited<ReturnType<typeof analyse>>['findings']) =>
  findings.map((f) => `${f.src.ip}:${f.src.port} -> ${f.dst.ip} ${f.cause} ${f.sentBy} x${f.count}`).sort();

describe('recorded captures (tcpdump pcap, dumpcap pcapng)', () => {
  test('tcpdump\'s pcap: read as pcap-parser reads it, SLL2 frames', async () => {
    const { packets, summary } = await readAllPackets(nodeB);
    assert.equal(summary.problem, null);
    assert.equal(packets[0].linkType, LinkType.LINUX_SLL2);
    assert.deepEqual(packets, (await readWithPcapParser(nodeB)).map((packet) => ({ ...packet, linkType: LinkType.LINUX_SLL2 })));
  });

  test('dumpcap\'s pcapng: as many packets as tshark, same lengths and times', { skip: tsharkSkipReason() }, async () => {
    const { packets, summary } = await readAllPackets(nodeA);
    assert.equal(summary.format, 'pcapng');
    assert.equal(summary.problem, null);
    const rows = await tsharkFields(nodeA, ['frame.time_epoch', 'frame.cap_len']);
    assert.equal(rows.length, packets.length);
    rows.forEach(([epoch, caplen], index) => {
      assert.equal(Number(caplen), packets[index].capturedBytes);
      assert.ok(Math.abs(Number(epoch) * 1000 - packets[index].timeMs) < 0.001);
    });
  });

  test('node-b: the closed port is not-listening, each RST counted once though the any-capture saw it twice', async () => {
    const result = await analyse(nodeB);
    assert.ok(result.duplicates > 0, 'the pod veth and uplink copies were seen');
    assert.deepEqual(verdicts(result.findings), ['10.244.2.20:8080 -> 10.244.1.10 unknown endpoint x1', '10.244.2.20:9999 -> 10.244.1.10 not-listening endpoint x1']);
  });

  test('node-a: the fabric\'s REJECT is a middlebox (TTL 64 where the upstream\'s packets arrive with 62)', async () => {
    const result = await analyse(nodeA);
    assert.deepEqual(verdicts(result.findings), [
      '10.244.2.20:8080 -> 10.244.1.10 unknown endpoint x1',
      '10.244.2.20:8081 -> 10.244.1.10 middlebox middlebox x1',
      '10.244.2.20:9999 -> 10.244.1.10 not-listening endpoint x1',
    ]);
    const forged = result.findings.find((f) => f.src.port === 8081)!;
    assert.deepEqual([forged.ttl, forged.expectedTtl], [64, 62]);
  });
});
