/**
 * docs/cli.md is generated from the CLI's own `--help` output, so it cannot drift:
 * test/ship/docs.test.ts compares the file with a fresh rendering. Regenerate with
 *   npx tsc -p tsconfig.json && node dist/test/ship/cli-reference.js > docs/cli.md
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const CLI_PATH = path.resolve(__dirname, '../../src/cli/main.js');

function help(args: readonly string[]): string {
  // Not a terminal: commander wraps at 80 columns, the same everywhere.
  const result = spawnSync(process.execPath, [CLI_PATH, ...args, '--help'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, COLUMNS: '80' } });
  if (result.status !== 0) throw new Error(`rstprobe ${args.join(' ')} --help exited ${result.status}: ${result.stderr}`);
  return result.stdout.trimEnd();
}

/** Command names as `rstprobe --help` lists them (help itself excluded). */
export function commandNames(): string[] {
  const text = help([]);
  const section = text.split(/^Commands:$/m)[1] ?? '';
  return section
    .split('\n')
    .map((line) => /^ {2}([a-z][a-z-]*)\b/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

export function renderCliReference(): string {
  const parts = [
    '# rstprobe command-line reference',
    '',
    '<!-- Generated from `rstprobe … --help` by test/ship/cli-reference.ts; test/ship/docs.test.ts keeps it in sync. Do not edit by hand. -->',
    '',
    '```text',
    help([]),
    '```',
  ];
  for (const name of commandNames()) parts.push('', `## rstprobe ${name}`, '', '```text', help([name]), '```');
  return `${parts.join('\n')}\n`;
}

if (require.main === module) process.stdout.write(renderCliReference());
