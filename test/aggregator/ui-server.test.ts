import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpServer } from '../../src/agent/http-server';
import { TokenFileAuthenticator } from '../../src/aggregator/auth';
import { defaultStaticDir, loadUiAssets, UiAssetsError } from '../../src/aggregator/ui/assets';
import { inlineScripts } from '../../src/aggregator/ui/content-security-policy';
import { serveUi } from '../../src/aggregator/ui/serve-ui';
import { silentLogger } from '../../src/common/log';

/**
 * The UI's server side over real HTTP: the page and its CSP, every module the browser
 * will import, conditional GETs, and the token gate with a real token file.
 */

async function startServer(options: Parameters<typeof serveUi>[1]): Promise<{ http: HttpServer; base: string }> {
  const http = new HttpServer({ host: '127.0.0.1', port: 0 }, silentLogger());
  serveUi(http, options);
  const address = await http.start();
  return { http, base: `http://127.0.0.1:${address.port}` };
}

/** Module specifiers a served ES module imports (`import … from '…'` and `import '…'`). */
function importedSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /\bimport\s*(?:[\w{}\s,*$]+from\s*)?["']([^"']+)["']/g;
  for (let match = pattern.exec(source); match !== null; match = pattern.exec(source)) specifiers.push(match[1]);
  return specifiers;
}

describe('web UI server', () => {
  let http: HttpServer;
  let base: string;

  before(async () => {
    ({ http, base } = await startServer({ log: silentLogger() }));
  });
  after(async () => {
    await http.stop();
  });

  test('GET / is the page, with a CSP that allows only this server and the import map by its hash', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const html = await response.text();
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/, 'no inline/eval escape hatch and no remote origin');
    const inline = inlineScripts(html);
    assert.equal(inline.length, 1, 'the import map is the only inline script');
    const hash = createHash('sha256').update(inline[0]).digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), `CSP ${csp} lacks the import map's hash`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.doesNotMatch(html, /https?:\/\//, 'the page loads nothing from another origin');
  });

  test('every module the page imports, through the import map and relative imports, is served as JavaScript', async () => {
    const html = await (await fetch(`${base}/`)).text();
    const importMap = JSON.parse(inlineScripts(html)[0]) as { imports: Record<string, string> };
    const entry = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
    assert.ok(entry !== undefined, 'the page has a module entry point');
    const pending = [new URL(entry, `${base}/`).href, ...Object.values(importMap.imports).map((url) => new URL(url, `${base}/`).href)];
    const seen = new Set<string>();
    while (pending.length > 0) {
      const url = pending.pop() as string;
      if (seen.has(url)) continue;
      seen.add(url);
      const response = await fetch(url);
      assert.equal(response.status, 200, url);
      assert.match(response.headers.get('content-type') ?? '', /^text\/javascript/, url);
      for (const specifier of importedSpecifiers(await response.text())) {
        const mapped = importMap.imports[specifier];
        if (mapped !== undefined) pending.push(new URL(mapped, `${base}/`).href);
        else {
          assert.ok(specifier.startsWith('./'), `${url} imports ${specifier}, which the import map does not name`);
          pending.push(new URL(specifier, url).href);
        }
      }
    }
    assert.ok(seen.size >= 10, `walked ${seen.size} modules`);
    const css = await fetch(`${base}/ui/app.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  });

  test('a repeated GET with the ETag is 304; HEAD has no body; POST is 405; an unknown asset is 404', async () => {
    const first = await fetch(`${base}/ui/js/app.js`);
    const etag = first.headers.get('etag');
    assert.ok(etag !== null);
    const again = await fetch(`${base}/ui/js/app.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const head = await fetch(`${base}/ui/js/app.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.text()).length, 0);
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/ui/js/missing.js`)).status, 404);
  });

  test('the static files are found from the compiled module and are in the npm package', () => {
    const staticDir = defaultStaticDir();
    assert.ok(fs.existsSync(path.join(staticDir, 'index.html')), staticDir);
    const packageRoot = path.resolve(__dirname, '../../..');
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { files: string[] };
    const relative = path.relative(packageRoot, staticDir);
    assert.ok(pkg.files.some((entry) => relative === entry || relative.startsWith(`${entry}/`)), `package.json files ${JSON.stringify(pkg.files)} miss ${relative}`);
  });

  test('a missing static directory is one clear error', () => {
    assert.throws(() => loadUiAssets(path.join(os.tmpdir(), 'rstprobe-no-such-ui')), (err: unknown) => {
      assert.ok(err instanceof UiAssetsError);
      assert.equal(err.code, 'RSTPROBE_ERR_UI_ASSETS');
      assert.match(err.message, /reinstall/);
      return true;
    });
  });
});

describe('web UI behind a token', () => {
  let http: HttpServer;
  let base: string;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-ui-token-'));
    const tokenFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokenFile, '# people\ns3cret-token\n');
    ({ http, base } = await startServer({ log: silentLogger(), authenticator: new TokenFileAuthenticator(tokenFile, silentLogger()) }));
  });
  after(async () => {
    await http.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('without a token the page is 401 with a line saying how to give one', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 401);
    assert.match(await response.text(), /\?token=/);
    assert.equal((await fetch(`${base}/?token=wrong`, { redirect: 'manual' })).status, 401);
  });

  test('?token= once sets an HttpOnly cookie and redirects to the same view without the token', async () => {
    const response = await fetch(`${base}/?view=mtu&token=s3cret-token&cause=middlebox`, { redirect: 'manual' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '?view=mtu&cause=middlebox', 'relative, so a proxy path prefix survives');
    const bare = await fetch(`${base}/?token=s3cret-token`, { redirect: 'manual' });
    assert.equal(bare.headers.get('location'), './');
    const cookie = response.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^rstprobe_token=s3cret-token;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const withCookie = await fetch(`${base}/?view=mtu`, { headers: { cookie: cookie.split(';')[0] } });
    assert.equal(withCookie.status, 200);
    assert.equal((await fetch(`${base}/`, { headers: { cookie: 'rstprobe_token=other' } })).status, 401);
  });

  test('Authorization: Bearer works without the cookie', async () => {
    assert.equal((await fetch(`${base}/`, { headers: { authorization: 'Bearer s3cret-token' } })).status, 200);
    assert.equal((await fetch(`${base}/`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  });
});
