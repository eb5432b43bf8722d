import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { ResetFinding } from '../../src/protocol/finding';
import { addGatewayCluster, Lab, labSkipReason, type LabNode, type LabPod } from '../lab/lab';
import { AgentProcess } from '../support/agent-process';
import { artifactPath, chromiumSkipReason, launchChromium, watchPageErrors, type LaunchedBrowser } from './ui-browser';

/**
 * The web UI end to end on a real kernel: a standalone `rstprobe agent` (embedded
 * aggregator, SQLite store, API, stream and UI) in node-b's namespace, real resets
 * between lab pods, and headless Chromium reading the page.
 *
 * Where the browser runs: the agent listens on node-b's loopback, which the root
 * namespace cannot reach, and the lab never adds routes or interfaces to the root
 * namespace (DESIGN.md, "Lab"). So Chromium itself runs inside node-b's namespace
 * (`ip netns exec`, see ui-browser.ts) while playwright drives it over its pipe from
 * the test process.
 */
const skip = labSkipReason() ?? chromiumSkipReason();

/** Connects, optionally writes, prints how the connection ended (as in test/agent). */
function clientScript(ip: string, port: number, payload: string | null): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('connect', () => { ${payload === null ? '' : `s.write(${JSON.stringify(payload)});`} });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 5000);`;
}

const isReset = (finding: { kind: string }): finding is ResetFinding => finding.kind === 'reset';

/** Texts of the visible rows of the resets table. */
async function rowTexts(page: Page): Promise<string[]> {
  return page.locator('tr.finding').allInnerTexts();
}

/** The rows once `accept` holds for them (a filter re-renders asynchronously), or the last seen after timeoutMs. */
async function rowsWhen(page: Page, accept: (rows: string[]) => boolean, timeoutMs = 5_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let rows = await rowTexts(page);
  while (!accept(rows) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    rows = await rowTexts(page);
  }
  return rows;
}

describe('web UI of a standalone agent in the lab', { skip }, () => {
  let lab: Lab;
  let nodeB: LabNode;
  let gateway: LabPod;
  let reviews: LabPod;
  let cart: LabPod;
  let agent: AgentProcess;
  let launched: LaunchedBrowser;
  let page: Page;
  let pageErrors: string[];
  let base: string;

  before(async () => {
    lab = await Lab.create({ prefix: 'uilab' });
    const cluster = await addGatewayCluster(lab);
    ({ nodeB, gateway, upstream: reviews } = cluster);
    cart = await lab.addPod(nodeB, { namespace: 'shop', name: 'cart-0', ip: '10.244.2.30' });
    agent = await AgentProcess.startInLab(lab, nodeB, [
      '--node-name', 'node-b',
      '--listen', '127.0.0.1:7070',
      // Both nodes' CNI state, as a cluster-wide view would give: the gateway on node-a is named too.
      '--cni-cache-dir', lab.cniDir(cluster.nodeA),
      '--cni-cache-dir', lab.cniDir(nodeB),
      '--db', path.join(lab.dir, 'findings.db'),
    ]);
    base = 'http://127.0.0.1:7070';
    launched = await launchChromium({ netns: nodeB.netns });
    page = await launched.browser.newPage({ viewport: { width: 1280, height: 720 } });
    pageErrors = watchPageErrors(page);
  });

  after(async () => {
    await launched?.close();
    await lab?.destroy();
  });

  test('the page loads from the agent and its stream goes live', async () => {
    await page.goto(`${base}/`);
    await page.locator('.stream.live').waitFor({ timeout: 15_000 });
    assert.equal(await page.title(), 'rstprobe — who sent each TCP reset, and why');
  });

  test('a reset produced in the lab shows up within seconds, without a reload', async (t) => {
    await page.evaluate('window.rstprobeNoReload = true');
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(reviews.ip, 9999, null)]);
    assert.equal(stdout.trim(), 'ECONNREFUSED');
    const refusedAtMs = Date.now();
    const row = page.locator('tr.finding', { hasText: `${reviews.ip}:9999` });
    await row.waitFor({ timeout: 5_000 });
    const shownAfterMs = Date.now() - refusedAtMs;
    const text = await row.innerText();
    assert.match(text, /not listening/);
    assert.match(text, /NO_SOCKET/);
    assert.match(text, /default\/reviews-0/, `the sender is named by its pod: ${text}`);
    assert.match(text, /istio-system\/gateway-0/);
    assert.equal(await page.evaluate('window.rstprobeNoReload'), true);
    const finding = await agent.waitFor((f) => isReset(f) && f.src.port === 9999);
    assert.equal(await row.getAttribute('data-id'), finding.id, 'the row is the finding the agent printed');
    t.diagnostic(`reset on the wire → row in the browser: ${shownAfterMs} ms`);
    assert.ok(shownAfterMs < 5_000, `${shownAfterMs} ms`);
  });

  test('a second cause in another namespace; the cause and namespace filters narrow the rows and set the URL', async () => {
    // pauseOnConnect leaves the request unread; destroy() then aborts (RFC 2525 §2.17).
    const server = lab.spawn(cart, process.execPath, [
      '-e',
      `require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 300)).listen(8080, () => console.log('listening'));`,
    ]);
    await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    const { stdout } = await lab.exec(gateway, [process.execPath, '-e', clientScript(cart.ip, 8080, 'GET / HTTP/1.1\r\n\r\n')]);
    assert.equal(stdout.trim(), 'ECONNRESET');
    await page.locator('tr.finding', { hasText: `${cart.ip}:8080` }).waitFor({ timeout: 5_000 });

    await page.selectOption('#filter-cause', 'abort-on-close');
    assert.equal(new URL(page.url()).searchParams.get('cause'), 'abort-on-close');
    let rows = await rowsWhen(page, (texts) => !texts.some((row) => row.includes(`${reviews.ip}:9999`)));
    assert.ok(rows.some((row) => row.includes(`${cart.ip}:8080`)), rows.join('\n'));
    assert.ok(rows.every((row) => row.includes('closed with unread data')), rows.join('\n'));
    assert.ok(!rows.some((row) => row.includes(`${reviews.ip}:9999`)));

    await page.selectOption('#filter-cause', '');
    await page.selectOption('#filter-namespace', 'shop');
    assert.equal(new URL(page.url()).searchParams.get('namespace'), 'shop');
    assert.equal(new URL(page.url()).searchParams.get('cause'), null);
    rows = await rowsWhen(page, (texts) => texts.length >= 1 && texts.every((row) => row.includes('shop/')));
    assert.ok(rows.length >= 1 && rows.every((row) => row.includes('shop/')), rows.join('\n'));
    assert.ok(!rows.some((row) => row.includes('default/reviews-0')));

    // The filtered URL, opened afresh, loads the same view from the API.
    await page.goto(`${base}/?namespace=shop`);
    await page.locator('tr.finding').first().waitFor({ timeout: 5_000 });
    rows = await rowsWhen(page, (texts) => texts.every((row) => row.includes('shop/')));
    assert.ok(rows.every((row) => row.includes('shop/')), rows.join('\n'));
    await page.locator('button.clear').click();
    assert.equal(new URL(page.url()).search, '');
  });

  test('expanding a row shows its evidence and advice', async () => {
    const row = page.locator('tr.finding', { hasText: `${reviews.ip}:9999` });
    await row.waitFor({ timeout: 5_000 });
    await row.locator('button.expand').click();
    const id = await row.getAttribute('data-id');
    const details = page.locator(`[id="details-${id}"] .details`);
    await details.waitFor();
    const text = await details.innerText();
    assert.match(text, /RST answered a SYN/);
    assert.match(text, /Advice/);
    assert.match(text, /TTL on arrival/);
    // The agent keeps the packets around each new reset; the link downloads them as pcapng.
    const link = details.locator('a.pcap');
    await link.waitFor({ timeout: 5_000 });
    const href = await link.getAttribute('href');
    const magic = await page.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.arrayBuffer()).then((b) => Array.from(new Uint8Array(b).slice(0, 4)))`);
    assert.deepEqual(magic, [0x0a, 0x0d, 0x0d, 0x0a], 'a pcapng Section Header Block');
    await page.screenshot({ path: artifactPath('ui.png'), fullPage: true });
  });

  test('no CSP violation or script error in the page', () => {
    assert.deepEqual(pageErrors.filter((line) => !/Failed to load resource/.test(line)), []);
  });
});
