import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ResetFinding } from '../../src/protocol/finding';
import { CLI_PATH } from '../support/agent-process';
import { KubeApiServer, nodeJson, podJson, serviceJson } from '../support/kube-api-server';
import { writePcap, writePcapng, type FixturePacket } from '../support/capture-writer';
import { buildTcp } from '../support/packet-builder';

const dir = mkdtempSync(path.join(tmpdir(), 'rstprobe-analyze-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, bytes: Buffer | string): string => {
  const where = path.join(dir, name);
  writeFileSync(where, bytes);
  return where;
};

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_PATH, 'analyze', ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

const gateway = '10.244.1.10';
const upstream = '10.244.2.20';
const startNs = 1_795_000_000_000_000_000n;
const at = (ms: number): bigint => startNs + BigInt(ms) * 1_000_000n;

/** A refused connect (SYN, RST-ACK), then a forged RST mid-connection (TTL 64 where the upstream's packets have 62). */
function packets(): FixturePacket[] {
  return [
    { frame: buildTcp({ src: gateway, dst: upstream, srcPort: 40001, dstPort: 9999, flags: 'SYN', seq: 10 }), timeNs: at(0) },
    { frame: buildTcp({ src: upstream, dst: gateway, srcPort: 9999, dstPort: 40001, flags: ['RST', 'ACK'], seq: 0, ack: 11, ttl: 62, window: 0, ipId: 4321 }), timeNs: at(1) },
    { frame: buildTcp({ src: gateway, dst: upstream, srcPort: 40002, dstPort: 8080, flags: 'SYN', seq: 100 }), timeNs: at(10) },
    { frame: buildTcp({ src: upstream, dst: gateway, srcPort: 8080, dstPort: 40002, flags: ['SYN', 'ACK'], seq: 500, ack: 101, ttl: 62 }), timeNs: at(11) },
    { frame: buildTcp({ src: gateway, dst: upstream, srcPort: 40002, dstPort: 8080, flags: 'ACK', seq: 101, ack: 501 }), timeNs: at(12) },
    { frame: buildTcp({ src: upstream, dst: gateway, srcPort: 8080, dstPort: 40002, flags: ['RST', 'ACK'], seq: 501, ack: 101, ttl: 64, window: 0 }), timeNs: at(2000) },
  ];
}

describe('rstprobe analyze', () => {
  test('NDJSON: one finding per line in the DESIGN.md shape, kernelReason null, capture times', async () => {
    const { code, stdout, stderr } = await run(['--json', file('two.pcap', writePcap(packets(), { linkType: 1 }))]);
    assert.equal(code, 0, stderr);
    const findings = stdout.trim().split('\n').map((line) => JSON.parse(line) as ResetFinding);
    assert.equal(findings.length, 2);
    const refused = findings.find((f) => f.src.port === 9999)!;
    assert.equal(refused.kind, 'reset');
    assert.equal(refused.cause, 'not-listening');
    assert.equal(refused.kernelReason, null);
    assert.equal(refused.time, new Date(Number(at(1) / 1_000_000n)).toISOString(), 'the capture\'s clock, not the analysis time');
    assert.equal(refused.node, 'two.pcap');
    const forged = findings.find((f) => f.src.port === 8080)!;
    assert.equal(forged.sentBy, 'middlebox');
    assert.equal(forged.expectedTtl, 62);
    for (const key of ['id', 'node', 'time', 'lastSeen', 'count', 'src', 'dst', 'sentBy', 'cause', 'kernelReason', 'state', 'ttl', 'expectedTtl', 'idleMs', 'evidence', 'advice']) {
      assert.ok(key in refused, key);
    }
  });

  test('the default table groups by sender, receiver and cause, with counts, first/last seen and advice', async () => {
    const repeated = [...packets()];
    for (let index = 1; index <= 3; index++) {
      repeated.push({ frame: buildTcp({ src: gateway, dst: upstream, srcPort: 41000 + index, dstPort: 9999, flags: 'SYN', seq: index }), timeNs: at(3000 + index * 10) });
      repeated.push({ frame: buildTcp({ src: upstream, dst: gateway, srcPort: 9999, dstPort: 41000 + index, flags: ['RST', 'ACK'], ack: index + 1, ttl: 62, ipId: 7 + index }), timeNs: at(3001 + index * 10) });
    }
    const { code, stdout } = await run([file('table.pcap', writePcap(repeated, { linkType: 1 }))]);
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0], /^SENDER\s+RECEIVER\s+CAUSE\s+SENT BY\s+COUNT\s+FIRST SEEN\s+LAST SEEN$/);
    // The three refused connects after the upstream's TTL is known are one row (the first, before it, is judged apart).
    assert.match(lines[1], new RegExp(`^${upstream}:9999\\s+${gateway}\\s+not-listening\\s+endpoint\\s+3\\s+\\S+T\\S+Z\\s+\\S+T\\S+Z$`));
    assert.match(lines[2], /^ {2}advice: Nothing listens on/);
    assert.equal(lines.filter((line) => line.startsWith('  advice:')).length, 3);
  });

  test('--ip-map (CSV and JSON) names pods and nodes; a bad row is one line with its line number and exit 2', async () => {
    const capture = file('map.pcap', writePcap(packets(), { linkType: 1 }));
    const csv = file('map.csv', `ip,namespace,pod,node\n# the upstream\n${upstream},default,reviews-0,node-b\n${gateway},istio-system,gateway-0,node-a\n`);
    const fromCsv = await run(['--json', '--ip-map', csv, capture]);
    const finding = JSON.parse(fromCsv.stdout.split('\n')[0]) as ResetFinding;
    assert.deepEqual([finding.src.kind, finding.src.pod?.name, finding.src.node], ['pod', 'reviews-0', 'node-b']);
    assert.equal(finding.dst.pod?.namespace, 'istio-system');
    const json = file('map.json', JSON.stringify({ [upstream]: { namespace: 'default', pod: 'reviews-0', node: 'node-b' } }, null, 2));
    const fromJson = await run(['--json', '--ip-map', json, capture]);
    assert.equal((JSON.parse(fromJson.stdout.split('\n')[0]) as ResetFinding).src.pod?.name, 'reviews-0');
    const bad = await run(['--ip-map', file('bad.csv', `${upstream},default,reviews-0,node-b\n10.1.2,default,x,node-a\n`), capture]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /bad\.csv:2: "10\.1\.2" is not an IPv4 or IPv6 address/);
  });

  test('a cut-off file: the warning with its byte offset on stderr, what came before analysed, exit 0', async () => {
    const bytes = writePcap(packets(), { linkType: 1 });
    const { code, stdout, stderr } = await run(['--json', file('cut.pcap', bytes.subarray(0, bytes.length - 20))]);
    assert.equal(code, 0);
    assert.equal(stdout.trim().split('\n').length, 1, 'the refused connect before the cut is reported');
    assert.match(stderr, /cut\.pcap: byte \d+: the last packet record is cut off .* the 5 packets before it were analysed/);
  });

  test('a file that is not a capture: one line, exit 2; other files are still analysed', async () => {
    const good = file('good.pcapng', writePcapng([{ interfaces: [{ linkType: 1 }], packets: packets() }]));
    const { code, stdout, stderr } = await run(['--json', file('notes.txt', 'hello'), good]);
    assert.equal(code, 2);
    assert.match(stderr, /^rstprobe: .*notes\.txt: byte 0: not a pcap or pcapng file \(magic 68656c6c\)/);
    assert.equal(stdout.trim().split('\n').length, 2);
  });

  test('gzip-compressed pcapng reads like the plain file', async () => {
    const { code, stdout } = await run(['--json', file('z.pcapng.gz', gzipSync(writePcapng([{ interfaces: [{ linkType: 1 }], packets: packets() }])))]);
    assert.equal(code, 0);
    assert.equal(stdout.trim().split('\n').length, 2);
  });

  test('--kubeconfig names pods, nodes and services from the API server (list/watch protocol)', async () => {
    const server = new KubeApiServer();
    await server.start();
    try {
      server.upsert('nodes', nodeJson({ name: 'node-b', internalIp: '10.210.0.12', podCidr: '10.244.2.0/24' }));
      server.upsert('pods', podJson({ namespace: 'default', name: 'reviews-0', nodeName: 'node-b', ips: [upstream] }));
      server.upsert('services', serviceJson({ namespace: 'default', name: 'reviews', clusterIp: gateway, ports: [{ port: 40001 }] }));
      const kubeconfig = server.writeKubeconfig(dir);
      const { code, stdout, stderr } = await run(['--json', '--log-level', 'warn', '--kubeconfig', kubeconfig, file('k.pcap', writePcap(packets(), { linkType: 1 }))]);
      assert.equal(code, 0, stderr);
      const finding = JSON.parse(stdout.split('\n')[0]) as ResetFinding;
      assert.deepEqual([finding.src.kind, finding.src.pod?.namespace, finding.src.pod?.name, finding.src.node], ['pod', 'default', 'reviews-0', 'node-b']);
      assert.equal(finding.dst.kind, 'service');
    } finally {
      await server.stop();
    }
  });

  test('--kubeconfig that cannot be read: one line, exit 2', async () => {
    const { code, stderr } = await run(['--kubeconfig', path.join(dir, 'missing-kubeconfig'), file('k2.pcap', writePcap(packets(), { linkType: 1 }))]);
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /^rstprobe: --kubeconfig /);
  });

  test('loads only the analyze path: no agent, aggregator, pino, prom-client, SQLite or Kubernetes client modules', async () => {
    const capture = file('modules.pcap', writePcap(packets(), { linkType: 1 }));
    // The program as main.js builds it for `rstprobe analyze`, in a fresh process that then lists its modules.
    const script = `const { buildProgram } = require(${JSON.stringify(CLI_PATH)});
      buildProgram('analyze').parseAsync(['node', 'rstprobe', 'analyze', '--json', ${JSON.stringify(capture)}])
        .then(() => process.stderr.write(JSON.stringify(Object.keys(require.cache))));`;
    const loaded = await new Promise<string[]>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], (err, stdout, stderr) => (err === null ? resolve(JSON.parse(stderr) as string[]) : reject(err)));
    });
    assert.ok(loaded.some((module) => module.endsWith('analyze-command.js')), 'the analyze command was loaded');
    const heavy = loaded.filter((module) => /agent-command|aggregator|pmtu-command|demo-command|[/]pino[/]|prom-client|better-sqlite3|@kubernetes|[/]ajv[/]|[/]ws[/]/.test(module));
    assert.deepEqual(heavy, []);
  });
});
