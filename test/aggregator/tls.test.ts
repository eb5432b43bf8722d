import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { hello, killHard, removeDir, spawnAggregator, tempDir } from './fixtures';

/** `--tls-cert`/`--tls-key`: the aggregator speaks https and wss; a client trusting the certificate streams. */
let dir: string;
before(() => (dir = tempDir('tls')));
after(() => removeDir(dir));

test('wss with a certificate: welcome over TLS, and plain ws is not served', { timeout: 60_000 }, async () => {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  // A throw-away self-signed certificate for 127.0.0.1 (openssl req(1)).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'tls-token\n');
  const aggregator = await spawnAggregator(['--db', path.join(dir, 'tls.db'), '--token-file', tokens, '--tls-cert', cert, '--tls-key', key]);
  try {
    const socket = new WebSocket(`wss://127.0.0.1:${aggregator.port}/api/v1/agents`, { ca: readFileSync(cert), headers: { authorization: 'Bearer tls-token' } });
    const welcome = await new Promise<{ type: string }>((resolve, reject) => {
      socket.on('open', () => socket.send(hello('tls-agent', 'node-tls')));
      socket.on('message', (data) => resolve(JSON.parse(data.toString())));
      socket.on('error', reject);
    });
    assert.equal(welcome.type, 'welcome');
    socket.close();
    const healthz = await new Promise<number>((resolve, reject) => {
      https.get(`https://127.0.0.1:${aggregator.port}/healthz`, { ca: readFileSync(cert) }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(healthz, 200);
    const plain = new WebSocket(`ws://127.0.0.1:${aggregator.port}/api/v1/agents`, { headers: { authorization: 'Bearer tls-token' } });
    const opened = await new Promise<boolean>((resolve) => {
      plain.on('open', () => resolve(true));
      plain.on('error', () => resolve(false));
      plain.on('unexpected-response', () => resolve(false));
    });
    plain.terminate();
    assert.equal(opened, false);
  } finally {
    await killHard(aggregator.child);
  }
});
