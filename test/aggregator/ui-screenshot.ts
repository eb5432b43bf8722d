/**
 * Screenshots of the web UI for the README, taken from `rstprobe demo`: every failure
 * mode reproduced in a throw-away lab, watched by a real agent, the UI opened in
 * headless Chromium through the demo's relay on this machine's loopback.
 *
 *   sudo npm run ui-screenshot                      # → test-artifacts/ui-resets.png, ui-mtu.png
 *   sudo node dist/test/aggregator/ui-screenshot.js DIR
 *
 * Needs root (the demo's network namespaces) and Debian's chromium. The demo is
 * stopped with SIGINT, so it removes its lab, whatever happens here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { labSkipReason } from '../lab/lab';
import { CLI_PATH } from '../support/agent-process';
import { artifactPath, chromiumSkipReason, launchChromium } from './ui-browser';

/** A demo pass reproduces eight scenarios in about a minute; give it three. */
const DEMO_PASS_TIMEOUT_MS = 180_000;
const VIEWPORT = { width: 1360, height: 900 };

async function main(): Promise<void> {
  const missing = labSkipReason() ?? chromiumSkipReason();
  if (missing !== undefined) {
    process.stderr.write(`ui-screenshot: ${missing}\n`);
    process.exitCode = 2;
    return;
  }
  const outDir = process.argv[2] === undefined ? path.dirname(artifactPath('ui-resets.png')) : path.resolve(process.argv[2]);
  fs.mkdirSync(outDir, { recursive: true });
  const demo = spawn(process.execPath, [CLI_PATH, 'demo', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
  const passDone = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not finish a pass within ${DEMO_PASS_TIMEOUT_MS} ms:\n${stderr.slice(-2000)}`)), DEMO_PASS_TIMEOUT_MS);
    demo.stderr.on('data', (chunk: Buffer) => {
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
  try {
    const url = await passDone;
    const launched = await launchChromium();
    try {
      const page = await launched.browser.newPage({ viewport: VIEWPORT });
      await page.goto(url);
      await page.locator('tr.finding').first().waitFor({ timeout: 10_000 });
      // Open the row that shows the point of the tool best: a reset forged by a middlebox.
      const forged = page.locator('tr.finding', { hasText: 'a middlebox' }).first();
      if ((await forged.count()) > 0) await forged.locator('button.expand').click();
      await page.screenshot({ path: path.join(outDir, 'ui-resets.png'), fullPage: true });
      await page.getByRole('link', { name: 'Path MTU' }).click();
      await page.locator('table.mtu td.cell button').first().click({ timeout: 10_000 });
      await page.screenshot({ path: path.join(outDir, 'ui-mtu.png'), fullPage: true });
      await page.getByRole('link', { name: 'Top senders' }).click();
      await page.locator('table.senders tbody tr').first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: path.join(outDir, 'ui-senders.png'), fullPage: true });
      process.stdout.write(`${['ui-resets.png', 'ui-mtu.png', 'ui-senders.png'].map((name) => path.join(outDir, name)).join('\n')}\n`);
    } finally {
      await launched.close();
    }
  } finally {
    if (demo.exitCode === null) demo.kill('SIGINT');
    await exited;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`ui-screenshot: ${err.message}\n`);
  process.exitCode = 1;
});
