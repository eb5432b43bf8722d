/**
 * Screenshots of the web UI for the README, taken from `rstprobe demo`: every failure
 * mode reproduced in a throw-away lab, watched by a real agent, the UI opened in
 * headless Chromium through the demo's relay on this machine's loopback.
 *
 *   sudo npm run ui-screenshot            # → test-artifacts/ui-resets.png, ui-mtu.png, ui-senders.png
 *   sudo RSTPROBE_UI_SCREENSHOT_DIR=docs node --test dist/test/aggregator/ui-screenshot.lab.test.js
 *
 * A test file, so that `npm test` (which runs every *.test.js file under dist/test/) never
 * starts the minute-long demo by accident: it skips unless RSTPROBE_UI_SCREENSHOT_DIR
 * names where the pictures go. Needs root (the demo's network namespaces) and
 * Debian's chromium. The demo is stopped with SIGINT, so it removes its lab.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { labSkipReason } from '../lab/lab';
import { CLI_PATH } from '../support/agent-process';
import { chromiumSkipReason, launchChromium, watchPageErrors, type LaunchedBrowser } from './ui-browser';

const OUT_DIR = process.env.RSTPROBE_UI_SCREENSHOT_DIR;
const skip =
  OUT_DIR === undefined
    ? 'README screenshots are taken on request: npm run ui-screenshot (or set RSTPROBE_UI_SCREENSHOT_DIR=DIR)'
    : (labSkipReason() ?? chromiumSkipReason());

/** A demo pass reproduces eight scenarios in about a minute; give it three. */
const DEMO_PASS_TIMEOUT_MS = 180_000;
const VIEWPORT = { width: 1360, height: 900 };

/** Starts `rstprobe demo` and resolves with the UI's URL once its first pass is done. */
function startDemo(): { child: ChildProcess; exited: Promise<void>; ready: Promise<string> } {
  const child = spawn(process.execPath, [CLI_PATH, 'demo', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not finish a pass within ${DEMO_PASS_TIMEOUT_MS} ms:\n${stderr.slice(-2000)}`)), DEMO_PASS_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const url = /rstprobe UI: (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url !== undefined && /pass done/.test(stderr)) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the demo exited early:\n${stderr.slice(-2000)}`));
    });
  });
  return { child, exited, ready };
}

describe('README screenshots of the UI on rstprobe demo', { skip, timeout: DEMO_PASS_TIMEOUT_MS + 60_000 }, () => {
  let demo: ReturnType<typeof startDemo>;
  let launched: LaunchedBrowser;
  let page: Page;
  let pageErrors: string[];
  let url: string;
  const out = (name: string): string => path.join(path.resolve(OUT_DIR ?? '.'), name);

  before(async () => {
    fs.mkdirSync(path.resolve(OUT_DIR ?? '.'), { recursive: true });
    demo = startDemo();
    url = await demo.ready;
    launched = await launchChromium();
    page = await launched.browser.newPage({ viewport: VIEWPORT });
    pageErrors = watchPageErrors(page);
  });

  after(async () => {
    await launched?.close();
    if (demo !== undefined) {
      if (demo.child.exitCode === null) demo.child.kill('SIGINT');
      await demo.exited;
    }
  });

  test('resets, with the forged one opened', async () => {
    await page.goto(url);
    await page.locator('tr.finding').first().waitFor({ timeout: 10_000 });
    const causes = (await page.locator('tr.finding td.cause').allInnerTexts()).join(' | ');
    for (const cause of ['not listening', 'middlebox', 'sidecar', 'keep-alive race', 'SYN unanswered']) assert.ok(causes.includes(cause), `${cause} missing from ${causes}`);
    // Open the row that shows the point of the tool best: a reset forged by a middlebox.
    await page.locator('tr.finding', { hasText: 'a middlebox' }).first().locator('button.expand').click();
    await page.screenshot({ path: out('ui-resets.png'), fullPage: true });
  });

  test('path MTU, with the black hole opened', async () => {
    await page.getByRole('link', { name: 'Path MTU' }).click();
    const hole = page.locator('table.mtu td.cell.black-hole button').first();
    await hole.click({ timeout: 10_000 });
    await page.screenshot({ path: out('ui-mtu.png'), fullPage: true });
  });

  test('top senders', async () => {
    await page.getByRole('link', { name: 'Top senders' }).click();
    await page.locator('table.senders tbody tr').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: out('ui-senders.png'), fullPage: true });
    assert.deepEqual(pageErrors.filter((line) => !/Failed to load resource/.test(line)), []);
  });
});
