import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { HttpServer } from '../../src/agent/http-server';
import { Aggregator } from '../../src/aggregator/aggregator';
import { TokenFileAuthenticator } from '../../src/aggregator/auth';
import { FindingStore } from '../../src/aggregator/store';
import { silentLogger } from '../../src/common/log';
import { createAggregatorMetrics } from '../../src/common/metrics';
import type { Endpoint, PmtuFinding, ResetFinding } from '../../src/protocol/finding';
import { artifactPath, chromiumSkipReason, launchChromium, watchPageErrors, type LaunchedBrowser } from './ui-browser';

/**
 * The UI in headless Chromium against a real Aggregator (real SQLite file, real
 * HTTP API, real /api/v1/stream WebSocket). Findings enter the way the standalone
 * agent hands them over (publishLocal), while the page is open: what the page shows
 * can only come from the API and the stream.
 */
const skip = chromiumSkipReason();

function endpoint(ip: string, port: number, pod: [string, string, string | null] | null): Endpoint {
  return {
    ip,
    port,
    kind: pod === null ? 'external' : 'pod',
    pod: pod === null ? null : { namespace: pod[0], name: pod[1], uid: `uid-${pod[1]}`, container: pod[2] },
    node: null,
    process: null,
  };
}

let sequence = 0;
function reset(overrides: Partial<ResetFinding>): ResetFinding {
  const now = new Date().toISOString();
  sequence += 1;
  return {
    kind: 'reset',
    id: `ui-live-${sequence}`,
    node: 'node-b',
    time: now,
    lastSeen: now,
    count: 1,
    src: endpoint('10.244.2.20', 9999, ['default', 'reviews-0', 'app']),
    dst: endpoint('10.244.1.10', 41230, ['istio-system', 'gateway-0', 'istio-proxy']),
    sentBy: 'endpoint',
    cause: 'not-listening',
    kernelReason: 'NO_SOCKET',
    state: null,
    ttl: 62,
    expectedTtl: 62,
    idleMs: 0,
    evidence: ['RST answered a SYN', "the sender's kernel logged tcp_send_reset for 10.244.2.20:9999"],
    advice: 'Nothing listens on 10.244.2.20:9999: make the Service targetPort match the port the container listens on.',
    ...overrides,
  };
}

function pmtu(from: string, to: string, pmtuBytes: number, blackHole: boolean): PmtuFinding {
  const now = new Date().toISOString();
  sequence += 1;
  return {
    kind: 'pmtu',
    id: `ui-live-pmtu-${sequence}`,
    node: from,
    time: now,
    lastSeen: now,
    count: 1,
    from: { node: from, ip: from === 'node-a' ? '10.210.0.11' : '10.210.0.12' },
    to: { ip: to === 'node-a' ? '10.210.0.11' : '10.210.0.12', node: to, pod: null },
    pmtu: pmtuBytes,
    localMtu: 1500,
    mismatch: pmtuBytes < 1500,
    blackHole,
    icmpSeen: !blackHole,
    probes: 11,
    durationMs: 180,
    advice: blackHole ? `ICMP fragmentation-needed is dropped between ${from} and ${to}: allow ICMP type 3 code 4` : '',
  };
}

/** A port free right now, so the server can stop and start again on the same one. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Polls from the test side: playwright's waitForFunction would evaluate a string in
 * the page, which the page's CSP (no 'unsafe-eval') rightly refuses.
 */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const rowCount = (page: Page): Promise<number> => page.locator('tr.finding').count();

describe('web UI against a real aggregator, in Chromium', { skip }, () => {
  let dir: string;
  let dbPath: string;
  let store: FindingStore | null = null;
  let http: HttpServer | null = null;
  let aggregator: Aggregator;
  let base: string;
  let port: number;
  let launched: LaunchedBrowser;
  let page: Page;
  let pageErrors: string[];

  /** The aggregator as the standalone agent runs it: store file, HTTP server, API, stream, UI. */
  async function startAggregator(): Promise<void> {
    store = FindingStore.open(dbPath);
    http = new HttpServer({ host: '127.0.0.1', port }, silentLogger());
    aggregator = new Aggregator({ http, store, metrics: createAggregatorMetrics(), log: silentLogger(), ingest: false, agentAuth: null, apiAuth: null });
    aggregator.start(new AbortController().signal);
    await http.start();
  }

  async function stopAggregator(): Promise<void> {
    await aggregator?.stop(); // closes the stream's WebSockets, which the HTTP server cannot
    await http?.stop();
    store?.close();
    http = null;
    store = null;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-ui-live-'));
    dbPath = path.join(dir, 'findings.db');
    port = await freePort();
    await startAggregator();
    base = `http://127.0.0.1:${port}`;
    launched = await launchChromium();
    page = await launched.browser.newPage({ viewport: { width: 1280, height: 800 } });
    pageErrors = watchPageErrors(page);
  });

  after(async () => {
    await launched?.close();
    await stopAggregator();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an empty store shows what to do, and the stream goes live', async () => {
    await page.goto(`${base}/`);
    await page.locator('.stream.live').waitFor({ timeout: 10_000 });
    const empty = await page.locator('.empty').innerText();
    assert.match(empty, /No resets seen yet/);
    assert.match(empty, /healthz/);
  });

  test('the Content-Security-Policy stops an injected inline script', async () => {
    await page.addScriptTag({ content: 'window.rstprobeInjected = true;' }).catch(() => undefined);
    assert.equal(await page.evaluate('window.rstprobeInjected === true'), false);
    assert.ok(pageErrors.some((line) => /Content Security Policy/.test(line)), 'the browser reported the refusal');
    pageErrors.length = 0;
  });

  test('a new finding arrives over the stream without a reload, and an update changes its row in place', async () => {
    await page.evaluate('window.rstprobeNoReload = true'); // gone if the page reloads
    const first = reset({});
    aggregator.publishLocal(first, false);
    const row = page.locator(`tr[data-id="${first.id}"]`);
    await row.waitFor({ timeout: 5_000 });
    assert.match((await row.getAttribute('class')) ?? '', /\barrived\b/, 'a row that came over the stream is highlighted');
    assert.match(await row.innerText(), /default\/reviews-0 \(app\)[\s\S]*10\.244\.2\.20:9999[\s\S]*istio-system\/gateway-0[\s\S]*not listening[\s\S]*the endpoint[\s\S]*NO_SOCKET/);
    aggregator.publishLocal({ ...first, count: 7, lastSeen: new Date(Date.now() + 1000).toISOString() }, true);
    await until(async () => (await row.locator('td.num').textContent()) === '7', 'the count becomes 7');
    assert.equal(await rowCount(page), 1, 'the update did not add a row');
    assert.equal(await page.evaluate('window.rstprobeNoReload'), true, 'the page was not reloaded');
  });

  test('a row opens to its evidence, advice, TTL, idle time and pcap link', async () => {
    const keepalive = reset({
      cause: 'keepalive-race',
      kernelReason: 'TCP_TIMEWAIT_SOCKET',
      state: 'TCP_TIME_WAIT',
      src: endpoint('10.244.2.30', 8080, ['shop', 'cart-0', 'app']),
      ttl: 62,
      expectedTtl: 63,
      idleMs: 5012,
      evidence: ['the upstream closed the idle connection (FIN) 5.0 s before', 'the gateway reused it 2 ms later', 'comm <img src=x onerror=alert(1)>'],
      advice: "Make the gateway's idle timeout shorter than the upstream's keep-alive timeout (5 s).",
    });
    aggregator.publishLocal(keepalive, false);
    const row = page.locator(`tr[data-id="${keepalive.id}"]`);
    await row.waitFor({ timeout: 5_000 });
    const button = row.locator('button.expand');
    assert.equal(await button.getAttribute('aria-expanded'), 'false');
    await button.click();
    assert.equal(await button.getAttribute('aria-expanded'), 'true');
    const details = page.locator(`[id="details-${keepalive.id}"]`);
    await details.locator('.details').waitFor();
    const text = await details.innerText();
    assert.match(text, /the upstream closed the idle connection/);
    assert.match(text, /idle timeout shorter/);
    assert.match(text, /62 \(expected 63\)/);
    assert.match(text, /5\.0 s/);
    assert.match(text, /TCP_TIME_WAIT/);
    assert.match(text, /comm <img src=x onerror=alert\(1\)>/, 'text from the wire is shown as text');
    assert.equal(await details.locator('img').count(), 0, 'and never becomes markup');
    // No capture was attached to this finding: the page asks and says so instead of offering a dead link.
    await details.locator('.pcap-missing').waitFor({ timeout: 5_000 });
    assert.equal(await details.locator('a.pcap').count(), 0);
  });

  test('cause and namespace filters narrow the rows and live in the URL; back restores them', async () => {
    aggregator.publishLocal(reset({ cause: 'middlebox', sentBy: 'middlebox', kernelReason: null, src: endpoint('10.244.2.21', 8081, null), ttl: 64 }), false);
    await until(async () => (await rowCount(page)) === 3, 'three rows');
    await page.selectOption('#filter-cause', 'middlebox');
    await until(async () => (await rowCount(page)) === 1, '1 rows');
    assert.match(await page.locator('tr.finding').innerText(), /a middlebox/);
    assert.equal(new URL(page.url()).searchParams.get('cause'), 'middlebox');
    await page.selectOption('#filter-cause', '');
    await page.selectOption('#filter-namespace', 'shop');
    await until(async () => (await rowCount(page)) === 1, '1 rows');
    assert.match(await page.locator('tr.finding').innerText(), /shop\/cart-0/);
    assert.equal(new URL(page.url()).searchParams.get('namespace'), 'shop');
    assert.equal(new URL(page.url()).searchParams.get('cause'), null);
    await page.goBack();
    await until(async () => (await rowCount(page)) === 3, 'three rows');
    // A shared link opens filtered, with the select showing the filter.
    await page.goto(`${base}/?namespace=shop`);
    await page.locator('tr.finding').first().waitFor();
    await until(async () => (await rowCount(page)) === 1, '1 rows');
    assert.equal(await page.locator('#filter-namespace').inputValue(), 'shop');
    await page.locator('button.clear').click();
    await until(async () => (await rowCount(page)) === 3, '3 rows');
    assert.equal(new URL(page.url()).search, '');
  });

  test('accessible: labelled filters, named table headers, and a row opens from the keyboard', async () => {
    for (const label of ['Namespace', 'Node', 'Cause']) assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, label);
    for (const header of ['From (RST source)', 'To', 'Cause', 'Sent by', 'Kernel reason', 'Count', 'Last seen']) {
      assert.equal(await page.getByRole('columnheader', { name: header, exact: true }).count(), 1, header);
    }
    const toggle = page.getByRole('button', { name: 'Show evidence' }).first();
    await toggle.focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.getByRole('button', { name: 'Hide evidence' }).count(), 1);
    await page.keyboard.press('Enter');
    assert.equal(await page.getByRole('button', { name: 'Hide evidence' }).count(), 0);
  });

  test('unanswered SYNs are listed with their own badge', async () => {
    const syn = reset({ kind: 'syn-timeout', cause: 'unknown', sentBy: 'unknown', kernelReason: null, src: endpoint('10.244.2.40', 5432, ['db', 'postgres-0', null]) });
    aggregator.publishLocal(syn, false);
    const row = page.locator(`tr[data-id="${syn.id}"]`);
    await row.waitFor({ timeout: 5_000 });
    assert.match(await row.innerText(), /SYN unanswered/);
  });

  test('top senders ranks the pod that sent the most resets', async () => {
    await page.getByRole('link', { name: 'Top senders' }).click();
    assert.equal(new URL(page.url()).searchParams.get('view'), 'senders');
    const firstRow = page.locator('table.senders tbody tr').first();
    await firstRow.waitFor({ timeout: 5_000 });
    const text = await firstRow.innerText();
    assert.match(text, /default\/reviews-0/, 'count 7 beats every other sender');
    assert.match(text, /\b7\b/);
  });

  test('the MTU matrix marks a black hole and a healthy path, with advice on the cell', async () => {
    aggregator.publishLocal(pmtu('node-a', 'node-b', 1400, true), false);
    aggregator.publishLocal(pmtu('node-b', 'node-a', 1500, false), false);
    await page.getByRole('link', { name: 'Path MTU' }).click();
    const hole = page.locator('td.cell.black-hole button');
    await hole.waitFor({ timeout: 5_000 });
    assert.match(await hole.innerText(), /1400[\s\S]*black hole/);
    assert.match((await hole.getAttribute('title')) ?? '', /ICMP fragmentation-needed is dropped/);
    assert.match(await page.locator('td.cell.ok button').innerText(), /1500/);
    await hole.click();
    assert.match(await page.locator('.pair-details').innerText(), /node-a[\s\S]*node-b[\s\S]*allow ICMP type 3 code 4[\s\S]*1400 bytes/);
    await page.screenshot({ path: artifactPath('ui-live-mtu.png'), fullPage: true });
  });

  test('when the aggregator restarts the page says so, reconnects, and catches up on what it missed', async () => {
    await page.getByRole('link', { name: 'Resets' }).click();
    await page.locator('.stream.live').waitFor();
    await stopAggregator();
    await page.locator('.stream.reconnecting').waitFor({ timeout: 10_000 });
    // Stored while no server runs: the page can only learn of it by fetching again after it reconnects.
    const missed = reset({ cause: 'abort-on-close', kernelReason: 'TCP_ABORT_ON_CLOSE', src: endpoint('10.244.2.50', 8443, ['shop', 'payments-0', 'app']) });
    const offline = FindingStore.open(dbPath);
    offline.mergeFinding(missed);
    offline.close();
    await startAggregator();
    await page.locator('.stream.live').waitFor({ timeout: 20_000 });
    await page.locator(`tr[data-id="${missed.id}"]`).waitFor({ timeout: 5_000 });
    const after = reset({ cause: 'process-exit', src: endpoint('10.244.2.51', 8080, ['shop', 'orders-0', 'app']) });
    aggregator.publishLocal(after, false);
    await page.locator(`tr[data-id="${after.id}"]`).waitFor({ timeout: 5_000 });
    await page.screenshot({ path: artifactPath('ui-live-resets.png'), fullPage: true });
  });

  test('a burst of 600 new findings reaches the page; the table draws the newest 500 and says so', async (t) => {
    const before = await rowCount(page);
    const startedMs = Date.now();
    let last: ResetFinding | null = null;
    for (let index = 0; index < 600; index += 1) {
      last = reset({ src: endpoint('10.244.3.1', 10_000 + index, ['burst', `pod-${index}`, 'app']), lastSeen: new Date(Date.now() + 5_000).toISOString() });
      aggregator.publishLocal(last, false);
    }
    assert.ok(last !== null);
    await page.locator(`tr[data-id="${last.id}"]`).waitFor({ timeout: 15_000 });
    t.diagnostic(`600 findings published → the last one drawn after ${Date.now() - startedMs} ms`);
    await until(async () => (await rowCount(page)) === 500, '500 rows');
    assert.match(await page.locator('.summary').innerText(), new RegExp(`newest 500 of ${before + 600} matching`));
  });

  test('no CSP violation or script error happened on the way', () => {
    const relevant = pageErrors.filter((line) => !/WebSocket connection|Failed to load resource|ERR_CONNECTION_REFUSED/.test(line));
    assert.deepEqual(relevant, []);
  });
});

describe('web UI behind an API token, in Chromium', { skip }, () => {
  let dir: string;
  let store: FindingStore;
  let http: HttpServer;
  let aggregator: Aggregator;
  let base: string;
  let launched: LaunchedBrowser;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-ui-token-'));
    const tokenFile = path.join(dir, 'api-tokens');
    fs.writeFileSync(tokenFile, 'people-token\n');
    store = FindingStore.open(path.join(dir, 'findings.db'));
    http = new HttpServer({ host: '127.0.0.1', port: 0 }, silentLogger());
    aggregator = new Aggregator({
      http,
      store,
      metrics: createAggregatorMetrics(),
      log: silentLogger(),
      ingest: false,
      agentAuth: null,
      apiAuth: new TokenFileAuthenticator(tokenFile, silentLogger()),
    });
    aggregator.start(new AbortController().signal);
    base = `http://127.0.0.1:${(await http.start()).port}`;
    launched = await launchChromium();
  });

  after(async () => {
    await launched?.close();
    await aggregator?.stop();
    await http?.stop();
    store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('without the token the page is refused; ?token= once lets the page, its API calls and its stream in', async () => {
    const page = await launched.browser.newPage();
    const refused = await page.goto(`${base}/`);
    assert.equal(refused?.status(), 401);
    assert.match(await page.innerText('body'), /\?token=/);

    await page.goto(`${base}/?token=people-token&cause=not-listening`);
    assert.equal(new URL(page.url()).searchParams.get('token'), null, 'the token left the address bar');
    assert.equal(new URL(page.url()).searchParams.get('cause'), 'not-listening');
    await page.locator('.stream.live').waitFor({ timeout: 10_000 });
    const finding = reset({});
    aggregator.publishLocal(finding, false);
    await page.locator(`tr[data-id="${finding.id}"]`).waitFor({ timeout: 5_000 });
    await page.reload();
    await page.locator(`tr[data-id="${finding.id}"]`).waitFor({ timeout: 5_000 }); // loaded over the API with the cookie
    assert.equal(await page.locator('.error').count(), 0);
    await page.close();
  });
});
