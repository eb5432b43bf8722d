import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { commandNames, renderCliReference } from './cli-reference';

/** The docs promise things the code must keep: they are checked here, not trusted. */
const REPO = path.resolve(__dirname, '../../..');
const read = (file: string): string => fs.readFileSync(path.join(REPO, file), 'utf8');

describe('docs', () => {
  test('docs/cli.md is the CLI’s own --help output (regenerate: node dist/test/ship/cli-reference.js > docs/cli.md)', () => {
    assert.equal(read('docs/cli.md'), renderCliReference());
  });

  test('the README starts with the two commands, then names every command', () => {
    const readme = read('README.md');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = firstBlock.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean);
    assert.deepEqual(commands.slice(0, 2), ['npm install && npm start', 'npm install && npm test']);
    for (const name of commandNames()) assert.ok(readme.includes(`rstprobe ${name}`), `README mentions rstprobe ${name}`);
  });

  test('every relative link and image in README.md, deploy/README.md and docs/ resolves', () => {
    for (const file of ['README.md', 'deploy/README.md', 'docs/troubleshooting.md']) {
      const text = read(file);
      for (const match of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        assert.ok(fs.existsSync(path.join(REPO, path.dirname(file), target)), `${file} links ${target}, which does not exist`);
      }
    }
  });

  test('troubleshooting.md has a section per failure mode and explains every cause and the gateway messages', () => {
    const text = read('docs/troubleshooting.md');
    for (const mode of [1, 2, 3, 4, 5, 6]) assert.match(text, new RegExp(`^## ${mode}\\. `, 'm'), `section for failure mode ${mode}`);
    const finding = read('src/protocol/finding.ts');
    const causeUnion = /export type ResetCause =([^;]+);/.exec(finding)?.[1] ?? '';
    const causes = [...causeUnion.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!);
    assert.ok(causes.length >= 10, `causes read from finding.ts: ${causes.join(', ')}`);
    for (const cause of causes.filter((c) => c !== 'unknown')) assert.ok(text.includes(`\`${cause}\``) || text.includes(`cause: ${cause}`), `explains cause ${cause}`);
    for (const flag of ['UC', 'UF', 'UR', 'URX', 'UH']) assert.ok(text.includes(`**${flag}**`), `explains Envoy flag ${flag}`);
    for (const message of [
      'upstream connect error or disconnect/reset before headers',
      'connection termination',
      'connection failure',
      'connection reset by foreign host',
      'upstream prematurely closed connection',
      'recv() failed (104: Connection reset by peer)',
    ]) assert.ok(text.includes(message), `quotes "${message}"`);
    for (const state of ['SD', 'SH', 'CD', 'SC']) assert.ok(text.includes(`\`${state}\``), `explains HAProxy ${state}`);
  });
});
