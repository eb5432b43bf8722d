import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { analyzeCaptureFile } from '../../src/analyze/capture-analysis';
import { OfflineAttributor } from '../../src/analyze/offline-attributor';
import { IpOwnershipMap } from '../../src/attribution/ip-map';
import { writePcap, type FixturePacket } from '../support/capture-writer';
import type { TcpFlagName } from '../support/packet-builder';
import { seededRandom, TcpConversation } from './scan-fixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-coalesce-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Many interleaved connections with what changes verdicts: idle gaps longer and
 * shorter than a burst boundary, FINs then data (keep-alive races), RSTs with the
 * endpoint's TTL or a forged one, bare ACKs after data, and second copies of
 * packets one TTL lower (a capture on two interfaces).
 */
function scenario(seed: number): FixturePacket[] {
  const next = seededRandom(seed);
  const events: Array<{ timeMs: number; frame: Uint8Array }> = [];
  for (let connection = 0; connection < 60; connection++) {
    const client = `10.1.0.${1 + (connection % 20)}`;
    const server = `10.2.0.${1 + (connection % 5)}`;
    const clientPort = 30000 + connection;
    const serverPort = connection % 2 === 0 ? 80 : 8080;
    let timeMs = next() * 3000;
    const conversation = new TcpConversation({ client, server, clientPort, serverPort }, next);
    const send = (fromClient: boolean, flags: TcpFlagName[], payloadBytes: number, ttl?: number): void => {
      const frame = conversation.frame(fromClient, flags, payloadBytes, ttl);
      events.push({ timeMs, frame });
      if (next() < 0.15) {
        // The same packet again on a second interface, one hop later.
        const copy = Uint8Array.from(frame);
        copy[22] -= 1; // IPv4 TTL in an Ethernet frame
        events.push({ timeMs: timeMs + 0.2, frame: copy });
      }
    };
    send(true, ['SYN'], 0);
    timeMs += 1;
    send(false, ['SYN', 'ACK'], 0);
    timeMs += 1;
    const exchanges = 5 + Math.floor(next() * 60);
    for (let exchange = 0; exchange < exchanges; exchange++) {
      timeMs += next() < 0.1 ? 400 + next() * 1500 : next() * 60;
      send(true, ['PSH', 'ACK'], 100 + Math.floor(next() * 200));
      timeMs += next() * 5;
      send(false, ['PSH', 'ACK'], next() < 0.3 ? 0 : 500);
      if (next() < 0.4) {
        timeMs += next() * 3;
        send(true, ['ACK'], 0);
      }
    }
    const ending = next();
    timeMs += next() < 0.5 ? next() * 30 : 600 + next() * 4000;
    if (ending < 0.3) {
      send(false, ['FIN', 'ACK'], 0); // the server closes an idle connection …
      timeMs += next() * 20;
      send(true, ['PSH', 'ACK'], 150); // … the client reuses it …
      timeMs += 1;
      send(false, ['RST'], 0); // … and the server resets it
    } else if (ending < 0.5) {
      send(false, ['RST', 'ACK'], 0, 64); // forged: the server's packets arrive with TTL 62
    } else if (ending < 0.8) {
      send(false, ['RST', 'ACK'], 0);
    } else {
      send(true, ['FIN', 'ACK'], 0);
      timeMs += 1;
      send(false, ['FIN', 'ACK'], 0);
    }
  }
  events.sort((a, b) => a.timeMs - b.timeMs);
  const startNs = 1_795_000_000_000_000_000n;
  return events.map(({ timeMs, frame }) => ({ frame, timeNs: startNs + BigInt(Math.round(timeMs * 1e6)) }));
}

const withoutId = (finding: object): string => JSON.stringify({ ...finding, id: undefined });

describe('segment coalescing', () => {
  for (const seed of Array.from({ length: 16 }, (_, index) => index + 1)) {
    test(`seed ${seed}: the same findings as decoding every packet`, async () => {
      const file = path.join(dir, `scenario-${seed}.pcap`);
      writeFileSync(file, writePcap(scenario(seed), { linkType: 1 }));
      const analyse = (coalesce: boolean) => analyzeCaptureFile(file, { attributor: new OfflineAttributor(new IpOwnershipMap()), coalesce });
      const [coalesced, everyPacket] = await Promise.all([analyse(true), analyse(false)]);
      assert.ok(everyPacket.findings.length >= 20, `${everyPacket.findings.length} findings`);
      assert.ok(new Set(everyPacket.findings.map((finding) => finding.cause)).size >= 3, 'several causes');
      assert.deepEqual(coalesced.findings.map(withoutId).sort(), everyPacket.findings.map(withoutId).sort());
      assert.equal(coalesced.duplicates + coalesced.tcpPackets > 0, true);
    });
  }
});
