import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { ScanSink } from '../../src/analyze/capture-scan';
import { buildTcp, type LinkKind, type TcpFlagName } from '../support/packet-builder';

/** Helpers shared by the scan tests (native scanner, scan thread, coalescing). */

/** The recorded lab captures and link-type fixtures. */
export const CAPTURE_FIXTURES = path.resolve(__dirname, '../../../test/fixtures/captures');

/** A temporary directory removed after the test file; `file` writes a capture into it and returns its path. */
export function captureDir(prefix: string): { dir: string; file: (name: string, bytes: Buffer) => string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file: (name, bytes) => {
      const where = path.join(dir, name);
      writeFileSync(where, bytes);
      return where;
    },
  };
}

/** A sink that writes every call it gets into `calls`, frames as hex. */
export function recordingSink(calls: string[]): ScanSink {
  return {
    frame: (linkType, buffer, start, length, timeMs, checkDuplicate) => void calls.push(`${linkType} ${timeMs} ${checkDuplicate} ${buffer.subarray(start, start + length).toString('hex')}`),
    tick: (nowMs) => void calls.push(`tick ${nowMs}`),
  };
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One TCP connection of a generated capture: each frame either side sends, with the
 * sequence numbers advancing by what it sent and a random IP ID per frame.
 */
export class TcpConversation {
  private clientSeq = 1000;
  private serverSeq = 5000;

  constructor(
    private readonly ends: { client: string; server: string; clientPort: number; serverPort: number },
    private readonly next: () => number,
    /** Link framing (default Ethernet), VLAN tags, and the byte payloads are filled with. */
    private readonly framing: { link?: LinkKind; vlanIds?: number[]; fill?: number } = {},
  ) {}

  /** The next frame from the client or the server; TTL 64 from the client and 62 from the server unless given. */
  frame(fromClient: boolean, flags: TcpFlagName[], payloadBytes: number, ttl?: number): Uint8Array {
    const { client, server, clientPort, serverPort } = this.ends;
    const { fill = 0, ...link } = this.framing;
    const frame = buildTcp({
      ...link,
      src: fromClient ? client : server,
      dst: fromClient ? server : client,
      srcPort: fromClient ? clientPort : serverPort,
      dstPort: fromClient ? serverPort : clientPort,
      flags,
      seq: fromClient ? this.clientSeq : this.serverSeq,
      ack: fromClient ? this.serverSeq : this.clientSeq,
      ttl: ttl ?? (fromClient ? 64 : 62),
      ipId: Math.floor(this.next() * 65536),
      payload: new Uint8Array(payloadBytes).fill(fill),
    });
    if (fromClient) this.clientSeq += payloadBytes;
    else this.serverSeq += payloadBytes;
    return frame;
  }
}
