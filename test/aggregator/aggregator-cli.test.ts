import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CLI_PATH } from '../support/agent-process';
import { killHard, removeDir, resetFinding, spawnAggregator, startClient, tempDir, waitUntil } from './fixtures';

/** `rstprobe aggregator` as users run it: bad input, the API token, evidence, metrics. */
describe('rstprobe aggregator (CLI process)', () => {
  let dir: string;
  before(() => (dir = tempDir('agg-cli')));
  after(() => removeDir(dir));

  const run = (args: readonly string[]) => spawnSync(process.execPath, [CLI_PATH, 'aggregator', '--listen', '127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 20_000 });

  test('a corrupt --db is one line, exit 2, and the file is left as it was', () => {
    const db = path.join(dir, 'corrupt.db');
    const content = 'not a database at all\n'.repeat(500);
    writeFileSync(db, content);
    const result = run(['--db', db, '--insecure-no-auth']);
    assert.equal(result.status, 2);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^rstprobe: cannot use the database .*corrupt\.db.*--db/);
    assert.equal(readFileSync(db, 'utf8'), content);
  });

  test('no way to authenticate agents, an unreadable token file, half a TLS pair: one line, exit 2', () => {
    for (const [args, pattern] of [
      [['--db', path.join(dir, 'x.db')], /--token-file/],
      [['--db', path.join(dir, 'x.db'), '--token-file', path.join(dir, 'missing')], /cannot read the token file/],
      [['--db', path.join(dir, 'x.db'), '--insecure-no-auth', '--tls-cert', path.join(dir, 'cert.pem')], /--tls-cert and --tls-key go together/],
      [['--db', path.join(dir, 'x.db'), '--insecure-no-auth', '--max-db-mb', 'lots'], /--max-db-mb/],
    ] as const) {
      const result = run(args);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, pattern);
    }
  });

  test('--api-token-file guards the API and the stream; evidence is served as pcapng; metrics are exported', { timeout: 60_000 }, async () => {
    const tokens = path.join(dir, 'tokens');
    writeFileSync(tokens, 'agent-token\n');
    const apiTokens = path.join(dir, 'api-tokens');
    writeFileSync(apiTokens, 'reader-token\n');
    const aggregator = await spawnAggregator(['--db', path.join(dir, 'api.db'), '--token-file', tokens, '--api-token-file', apiTokens, '--log-level', 'warn']);
    const base = `http://127.0.0.1:${aggregator.port}`;
    const { client } = startClient(`ws://127.0.0.1:${aggregator.port}/api/v1/agents`, path.join(dir, 'spool'), { agentId: 'cli-agent', tokenFile: tokens });
    try {
      assert.equal((await fetch(`${base}/api/v1/findings`)).status, 401);
      assert.equal((await fetch(`${base}/api/v1/findings`, { headers: { authorization: 'Bearer agent-token' } })).status, 401, 'the agents\' token is not the readers\'');
      const refused = new WebSocket(`ws://127.0.0.1:${aggregator.port}/api/v1/stream`);
      const refusedStatus = await new Promise<number | undefined>((resolve) => {
        refused.on('unexpected-response', (_request, response) => resolve(response.statusCode));
        refused.on('open', () => resolve(101));
        refused.on('error', () => undefined);
      });
      refused.terminate();
      assert.equal(refusedStatus, 401);

      const finding = resetFinding();
      const pcapng = Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), Buffer.alloc(60, 7)]);
      client.publish(finding, false);
      client.attachEvidence(finding.id, pcapng);
      await waitUntil('acked', () => client.connected && client.queued.memory === 0);
      const auth = { authorization: 'Bearer reader-token' };
      const listed = (await (await fetch(`${base}/api/v1/findings?kind=reset`, { headers: auth })).json()) as { items: Array<{ id: string }> };
      assert.deepEqual(listed.items.map((item) => item.id), [finding.id]);
      const pcap = await fetch(`${base}/api/v1/findings/${finding.id}/pcap`, { headers: auth });
      assert.equal(pcap.status, 200);
      assert.equal(pcap.headers.get('content-type'), 'application/x-pcapng');
      assert.match(pcap.headers.get('content-disposition') ?? '', /filename="rstprobe-.*\.pcapng"/);
      assert.deepEqual(Buffer.from(await pcap.arrayBuffer()), pcapng);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      for (const name of ['rstprobe_resets_total', 'rstprobe_syn_timeouts_total', 'rstprobe_pmtu_black_holes', 'rstprobe_agent_connections 1', 'rstprobe_ingest_lag_seconds_bucket', 'rstprobe_findings_dropped_total']) {
        assert.ok(metrics.includes(name), `metrics include ${name}`);
      }
      assert.match(metrics, /rstprobe_resets_total\{cause="unknown",namespace="shop",sent_by="unknown"\} 1/);
    } finally {
      await client.stop();
      await killHard(aggregator.child);
    }
  });
});
