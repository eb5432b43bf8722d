import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadKubeConfig } from '../../../src/attribution/kubernetes/kube-config';
import { KubeApiError, listAll } from '../../../src/attribution/kubernetes/kube-list';
import { KubeApiServer, podJson } from '../../support/kube-api-server';

/** The paged list through the client's HTTP options, and the test server's protocol details other engineers rely on. */
describe('listAll and the test API server', () => {
  let server: KubeApiServer;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-kube-list-'));
    server = new KubeApiServer({ token: 't0ken' });
    await server.start();
    for (let index = 0; index < 12; index++) server.upsert('pods', podJson({ namespace: index % 2 === 0 ? 'even' : 'odd', name: `p-${index}`, nodeName: index < 4 ? 'node-a' : 'node-b', ips: [`10.244.9.${index + 1}`] }));
  });

  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function get(pathAndQuery: string, token = 't0ken'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      http
        .get(`${server.url}${pathAndQuery}`, { headers: { Authorization: `Bearer ${token}` } }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
  }

  test('pages of `limit` items add up to the whole collection at one resourceVersion', async () => {
    const config = loadKubeConfig(server.writeKubeconfig(dir));
    const pages: number[] = [];
    const names: string[] = [];
    const version = await listAll({ config, path: '/api/v1/pods', query: {}, signal: new AbortController().signal, pageSize: 5, onItems: (items) => {
      pages.push(items.length);
      for (const item of items) names.push((item as { metadata: { name: string } }).metadata.name);
    } });
    assert.deepEqual(pages, [5, 5, 2]);
    assert.equal(new Set(names).size, 12);
    assert.equal(version, String(server.resourceVersion));
  });

  test('a continue token that expired between pages → KubeApiError 410 (the reflector re-lists)', async () => {
    const config = loadKubeConfig(server.writeKubeconfig(dir));
    let pages = 0;
    await assert.rejects(
      listAll({ config, path: '/api/v1/pods', query: {}, signal: new AbortController().signal, pageSize: 5, onItems: () => {
        if (++pages === 1) server.expireHistory();
      } }),
      (err: unknown) => err instanceof KubeApiError && err.statusCode === 410,
    );
  });

  test('field and label selectors, namespaced paths, 400 on an unsupported field', async () => {
    const byNode = JSON.parse((await get('/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a')).body) as { items: unknown[] };
    assert.equal(byNode.items.length, 4);
    const inNamespace = JSON.parse((await get('/api/v1/namespaces/odd/pods')).body) as { items: unknown[] };
    assert.equal(inNamespace.items.length, 6);
    const notOnA = JSON.parse((await get('/api/v1/namespaces/odd/pods?fieldSelector=spec.nodeName!%3Dnode-a')).body) as { items: unknown[] };
    assert.equal(notOnA.items.length, 4);
    assert.equal((await get('/api/v1/pods?fieldSelector=status.phase%3DRunning')).status, 400);
    assert.equal((await get('/api/v1/pods', 'wrong')).status, 401);
    assert.equal((await get('/api/v1/secrets')).status, 404);
  });

  test('a watch from an old version replays; one leaving its field selector gets DELETED; timeoutSeconds ends it', async () => {
    const from = server.resourceVersion;
    server.upsert('pods', podJson({ name: 'mover', nodeName: 'node-a', ips: ['10.244.9.100'] }));
    server.upsert('pods', podJson({ name: 'mover', nodeName: 'node-b', ips: ['10.244.9.100'] }));
    const { status, body } = await get(`/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dnode-a&resourceVersion=${from}&timeoutSeconds=1`);
    assert.equal(status, 200);
    const events = body.trim().split('\n').map((line) => JSON.parse(line) as { type: string; object: { metadata: { name: string } } });
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED mover', 'DELETED mover']);
  });

  test('TokenReview answers from the table; unknown tokens are not authenticated', async () => {
    server.tokenReviews.set('agent-token', { authenticated: true, user: { username: 'system:serviceaccount:rstprobe:agent', uid: 'sa-1', groups: ['system:serviceaccounts'] }, audiences: ['rstprobe'] });
    const review = (token: string): Promise<{ status: { authenticated: boolean; user?: { username: string }; audiences?: string[] } }> =>
      new Promise((resolve, reject) => {
        const request = http.request(`${server.url}/apis/authentication.k8s.io/v1/tokenreviews`, { method: 'POST', headers: { Authorization: 'Bearer t0ken', 'Content-Type': 'application/json' } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          response.on('end', () => resolve(JSON.parse(body)));
        });
        request.on('error', reject);
        request.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['rstprobe'] } }));
      });
    const good = await review('agent-token');
    assert.equal(good.status.authenticated, true);
    assert.equal(good.status.user?.username, 'system:serviceaccount:rstprobe:agent');
    assert.deepEqual(good.status.audiences, ['rstprobe']);
    assert.equal((await review('nope')).status.authenticated, false);
  });
});
