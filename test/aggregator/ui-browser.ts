import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Headless Chromium for the UI tests: Debian's /usr/bin/chromium driven by
 * playwright-core over its pipe (no downloaded browser, no network). `netns` runs
 * the browser inside a lab network namespace (through `ip netns exec`), so it reaches
 * an agent listening on that namespace's loopback while playwright stays outside.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumSkipReason(): string | undefined {
  if (!fs.existsSync(CHROMIUM_PATH)) return `the UI test needs Debian's chromium at ${CHROMIUM_PATH}: apt-get install chromium`;
  return undefined;
}

/** Where tests leave files for people to look at (git-ignored). */
export function artifactPath(name: string): string {
  const dir = path.resolve(__dirname, '../../../test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile (playwright makes a temporary user-data-dir per launch). */
export async function launchChromium(options: { netns?: string } = {}): Promise<LaunchedBrowser> {
  let wrapperDir: string | null = null;
  let executablePath = CHROMIUM_PATH;
  if (options.netns !== undefined) {
    if (!/^[A-Za-z0-9_.-]+$/.test(options.netns)) throw new Error(`not a namespace name: ${options.netns}`);
    wrapperDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-chromium-'));
    executablePath = path.join(wrapperDir, 'chromium-in-netns');
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${options.netns} ${CHROMIUM_PATH} "$@"\n`, { mode: 0o755 });
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      if (wrapperDir !== null) fs.rmSync(wrapperDir, { recursive: true, force: true });
    },
  };
}

/** Collects the page's console errors and uncaught exceptions (CSP violations land here). */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return errors;
}
