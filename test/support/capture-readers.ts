import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { readCaptureFile } from '../../src/capture-file/capture-file-reader';

/**
 * Independent readers of a capture file for cross-checks: rstprobe's own reader
 * (collected into plain records), pcap-parser (the project's original pcap
 * library, µs pcap only) and tshark's fields.
 */
export interface PacketRecord {
  timeMs: number;
  capturedBytes: number;
  originalBytes: number;
  linkType: number;
  hex: string;
}

export async function readAllPackets(path: string, bufferBytes?: number) {
  const packets: PacketRecord[] = [];
  const summary = await readCaptureFile(
    path,
    (packet) =>
      void packets.push({
        timeMs: packet.timeMs,
        capturedBytes: packet.bytes.length,
        originalBytes: packet.originalBytes,
        linkType: packet.linkType,
        hex: packet.bytes.toString('hex'),
      }),
    { bufferBytes },
  );
  return { packets, summary };
}

/** Packets as pcap-parser 0.2.1 reads them (µs-magic pcap files only). */
export function readWithPcapParser(path: string): Promise<PacketRecord[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pcapParser = require('pcap-parser') as { parse(path: string): NodeJS.EventEmitter };
  return new Promise((resolve, reject) => {
    const packets: PacketRecord[] = [];
    let linkType = -1;
    const parser = pcapParser.parse(path);
    parser.on('globalHeader', (header: { linkLayerType: number }) => (linkType = header.linkLayerType));
    parser.on('packet', (packet: { header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number }; data: Buffer }) => {
      packets.push({
        timeMs: packet.header.timestampSeconds * 1000 + packet.header.timestampMicroseconds / 1000,
        capturedBytes: packet.header.capturedLength,
        originalBytes: packet.header.originalLength,
        linkType,
        hex: packet.data.toString('hex'),
      });
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(packets));
  });
}

export const tsharkSkipReason = (): string | undefined => (existsSync('/usr/bin/tshark') ? undefined : 'tshark is not installed (apt-get install tshark)');

/** tshark -T fields lines (tab-separated) of a file, optionally filtered. */
export async function tsharkFields(path: string, fields: readonly string[], displayFilter?: string): Promise<string[][]> {
  const args = ['-r', path, '-T', 'fields', ...fields.flatMap((field) => ['-e', field])];
  if (displayFilter !== undefined) args.push('-Y', displayFilter);
  const { stdout } = await promisify(execFile)('tshark', args, { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}
