import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { analyzeCaptureFile } from '../../src/analyze/capture-analysis';
import { scanCaptureFile, type ScanSink } from '../../src/analyze/capture-scan';
import { OfflineAttributor } from '../../src/analyze/offline-attributor';
import { prestartScanWorker, scanInWorker } from '../../src/analyze/scan-thread';
import { IpOwnershipMap } from '../../src/attribution/ip-map';
import { CaptureFileError } from '../../src/common/errors';
import { writePcap, writePcapng, type FixturePacket } from '../support/capture-writer';
import { buildTcp } from '../support/packet-builder';
import { CAPTURE_FIXTURES, captureDir, recordingSink } from './scan-fixtures';

const { dir, file } = captureDir('rstprobe-scan-thread-');

/** 300 connections of 40 segments each, ending in RSTs, over ~30 s of capture: many batches, ticks and held frames. */
function busyCapture(): FixturePacket[] {
  const packets: FixturePacket[] = [];
  const startNs = 1_795_000_000_000_000_000n;
  for (let step = 0; step < 40; step++) {
    for (let connection = 0; connection < 300; connection++) {
      const fromClient = step % 2 === 0;
      const [client, server] = [`10.1.${connection >> 8}.${connection & 0xff}`, `10.2.0.${1 + (connection % 7)}`];
      const flags = step === 0 ? (['SYN'] as const) : step === 39 ? (['RST', 'ACK'] as const) : (['ACK'] as const);
      packets.push({
        frame: buildTcp({
          src: fromClient ? client : server,
          dst: fromClient ? server : client,
          srcPort: fromClient ? 30000 + connection : 8080,
          dstPort: fromClient ? 8080 : 30000 + connection,
          flags: [...flags],
          seq: step * 100,
          payload: new Uint8Array(step % 3 === 0 ? 0 : 300),
          ttl: fromClient ? 64 : 62,
        }),
        timeNs: startNs + BigInt(step * 300 + connection) * 2_500_000n,
      });
    }
  }
  return packets;
}

describe('scan on a worker thread', () => {
  const busy = busyCapture();
  const cases: Array<[string, () => string]> = [
    ['pcap', () => file('busy.pcap', writePcap(busy, { linkType: 1 }))],
    ['pcapng', () => file('busy.pcapng', writePcapng([{ interfaces: [{ linkType: 1 }], packets: busy }]))],
    ['gzip pcap', () => file('busy.pcap.gz', gzipSync(writePcap(busy, { linkType: 1 })))],
    ['tcpdump recording (SLL2)', () => path.join(CAPTURE_FIXTURES, 'node-b-any-tcpdump.pcap')],
    ['dumpcap recording', () => path.join(CAPTURE_FIXTURES, 'node-a-any-dumpcap.pcapng')],
  ];
  for (const [name, where] of cases) {
    test(`${name}: the sink sees the same calls, in the same order, as on this thread; the same result`, async () => {
      const capture = where();
      const onThread: string[] = [];
      const onWorker: string[] = [];
      const here = await scanCaptureFile(capture, recordingSink(onThread));
      const there = await scanInWorker(capture, recordingSink(onWorker));
      assert.ok(onThread.length > 10, `${onThread.length} calls`);
      assert.deepEqual(onWorker, onThread);
      assert.deepEqual(there, here);
    });
  }

  test('the same findings and counts through analyzeCaptureFile on either thread, with and without coalescing', async () => {
    const capture = file('busy-findings.pcap', writePcap(busy, { linkType: 1 }));
    for (const coalesce of [true, false]) {
      const analyse = (scanThread: 'main' | 'worker') => analyzeCaptureFile(capture, { attributor: new OfflineAttributor(new IpOwnershipMap()), coalesce, scanThread });
      const [main, worker] = [await analyse('main'), await analyse('worker')];
      assert.ok(main.findings.length > 0);
      const withoutIds = (result: typeof main) => ({ ...result, findings: result.findings.map((finding) => ({ ...finding, id: undefined })) });
      assert.deepEqual(withoutIds(worker), withoutIds(main));
    }
  });

  test('a worker started ahead of time takes the next job (the same calls), the one after gets a worker of its own', async () => {
    const capture = file('prestarted.pcap', writePcap(busy, { linkType: 1 }));
    const onThread: string[] = [];
    await scanCaptureFile(capture, recordingSink(onThread));
    prestartScanWorker();
    await new Promise((resolve) => setTimeout(resolve, 200)); // let it start and wait for its job
    for (let run = 0; run < 2; run++) {
      const onWorker: string[] = [];
      await scanInWorker(capture, recordingSink(onWorker));
      assert.deepEqual(onWorker, onThread, `run ${run}`);
    }
  });

  test('a worker started ahead of time and never used does not keep the process alive', () => {
    const script = `require(${JSON.stringify(path.resolve(__dirname, '../../src/analyze/scan-thread.js'))}).prestartScanWorker(); console.log('started');`;
    const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(output.trim(), 'started');
  });

  test('a cut-off file: the problem with its byte offset comes back from the worker, with the packets before it', async () => {
    const bytes = writePcap(busy, { linkType: 1 });
    const capture = file('cut.pcap', bytes.subarray(0, bytes.length - 5));
    const here = await scanCaptureFile(capture, recordingSink([]));
    const there = await scanInWorker(capture, recordingSink([]));
    assert.equal(there.read.problem?.offset, bytes.length - 16 - busy[busy.length - 1].frame.length);
    assert.deepEqual(there, here);
  });

  test('a file that is not a capture: the worker\'s CaptureFileError, same message', async () => {
    const capture = file('text.pcap', Buffer.from('not a capture file'));
    await assert.rejects(scanInWorker(capture, recordingSink([])), (err: unknown) => {
      assert.ok(err instanceof CaptureFileError);
      assert.match(err.message, /byte 0: not a pcap or pcapng file \(magic 6e6f7420\)/);
      return true;
    });
    await assert.rejects(scanInWorker(path.join(dir, 'missing.pcap'), recordingSink([])), (err: unknown) => err instanceof CaptureFileError && /cannot open/.test(err.message));
  });

  test('an error in the sink stops the worker and rejects with that error', async () => {
    const capture = file('throwing.pcap', writePcap(busy, { linkType: 1 }));
    let frames = 0;
    const sink: ScanSink = {
      frame: () => {
        if (++frames === 50) throw new Error('sink failed');
      },
      tick: () => {},
    };
    await assert.rejects(scanInWorker(capture, sink), /sink failed/);
    assert.equal(frames, 50, 'no frame after the failure');
  });

  test('a sink that fails while the worker waits for room (back-pressure): the worker is woken and stopped, the process lives on', async () => {
    // 40 MB of data segments, each a connection's first (decoded at once): far more batches than may be in flight.
    const payload = new Uint8Array(1400);
    const packets: FixturePacket[] = [];
    for (let index = 0; index < 28_000; index++) {
      packets.push({
        frame: buildTcp({ src: `10.1.${(index >> 8) & 0xff}.${index & 0xff}`, dst: '10.2.0.1', srcPort: 20000 + (index % 40000), dstPort: 80, flags: ['PSH', 'ACK'], payload }),
        timeNs: 1_795_000_000_000_000_000n + BigInt(index) * 1_000_000n,
      });
    }
    const capture = file('back-pressure.pcap', writePcap(packets, { linkType: 1 }));
    let frames = 0;
    const sink: ScanSink = {
      frame: () => {
        if (frames++ > 0) return;
        // The first replay takes long enough for the worker to fill the queue and wait.
        const untilMs = Date.now() + 300;
        while (Date.now() < untilMs);
        throw new Error('sink failed while the worker waited');
      },
      tick: () => {},
    };
    await assert.rejects(scanInWorker(capture, sink), /sink failed while the worker waited/);
    assert.equal(frames, 1);
  });
});
