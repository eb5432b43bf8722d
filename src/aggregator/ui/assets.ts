import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RstprobeError } from '../../common/errors';

/** The UI's files are missing or unreadable: the installation is incomplete. */
export class UiAssetsError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_UI_ASSETS', message, options);
  }
}

/** One file the UI serves, held in memory (the whole UI is a few dozen kB). */
export interface UiAsset {
  readonly urlPath: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** Strong validator for conditional GETs (RFC 9110 §8.8.3). */
  readonly etag: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Where the browser finds the vendored ESM builds; index.html's import map names these URLs. */
export const VENDOR_URL_PREFIX = '/ui/vendor/';
/** Where the project's own front-end files are served (static/js, static/app.css). */
export const STATIC_URL_PREFIX = '/ui/';

/**
 * The ESM builds of Preact, its hooks and htm, taken from node_modules as installed:
 * no bundler and no CDN, so the UI works on an air-gapped node. Each module
 * resolves through the package's own entry point, so a hoisted or nested install works.
 */
const VENDOR_MODULES: ReadonlyArray<{ specifier: string; moduleFile: string }> = [
  { specifier: 'preact', moduleFile: 'preact.module.js' },
  { specifier: 'preact/hooks', moduleFile: 'hooks.module.js' },
  { specifier: 'htm', moduleFile: 'htm.module.js' },
];

/**
 * The front-end files ship as source in the repository and the npm package
 * (package.json `files`), not in dist/: from dist/src/aggregator/ui/ four levels up is
 * the package root in both the repository and an installed package.
 */
export function defaultStaticDir(): string {
  return path.resolve(__dirname, '../../../../src/aggregator/ui/static');
}

/** Reads index.html, the static files and the vendored modules; throws UiAssetsError if any is missing. */
export function loadUiAssets(staticDir: string = defaultStaticDir()): Map<string, UiAsset> {
  const assets = new Map<string, UiAsset>();
  const indexFile = path.join(staticDir, 'index.html');
  if (!fs.existsSync(indexFile)) {
    throw new UiAssetsError(`the web UI's files are missing (no ${indexFile}); reinstall rstprobe or run it from the repository`);
  }
  for (const file of listFiles(staticDir)) {
    const relative = path.relative(staticDir, file).split(path.sep).join('/');
    const urlPath = relative === 'index.html' ? '/' : `${STATIC_URL_PREFIX}${relative}`;
    assets.set(urlPath, makeAsset(urlPath, file));
  }
  for (const vendor of VENDOR_MODULES) {
    const file = vendorFile(vendor.specifier, vendor.moduleFile);
    const urlPath = `${VENDOR_URL_PREFIX}${vendor.moduleFile}`;
    assets.set(urlPath, makeAsset(urlPath, file));
  }
  return assets;
}

function vendorFile(specifier: string, moduleFile: string): string {
  let entry: string;
  try {
    entry = require.resolve(specifier);
  } catch (err) {
    throw new UiAssetsError(`the web UI needs the package ${JSON.stringify(specifier)}; run npm install`, { cause: err });
  }
  const file = path.join(path.dirname(entry), moduleFile);
  if (!fs.existsSync(file)) {
    throw new UiAssetsError(`${file} is missing: the installed ${specifier} has no ESM build; reinstall it with npm install`);
  }
  return file;
}

function makeAsset(urlPath: string, file: string): UiAsset {
  const body = fs.readFileSync(file);
  const contentType = CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { urlPath, contentType, body, etag };
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(full));
    else if (entry.isFile() && CONTENT_TYPES[path.extname(entry.name)] !== undefined) files.push(full);
  }
  return files.sort();
}
