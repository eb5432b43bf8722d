/**
 * A small Dockerfile reader for the ship tests: enough of the Dockerfile reference
 * (https://docs.docker.com/reference/dockerfile/) to replay this project's build —
 * line continuations, comments, ARG defaults, FROM … AS, WORKDIR, COPY [--from],
 * RUN, ENTRYPOINT/CMD in exec form, USER, LABEL, ENV, HEALTHCHECK. It is not a
 * general parser: anything it does not know is kept as a raw instruction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Instruction {
  readonly keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  readonly args: string;
  readonly line: number;
}

export interface CopyInstruction {
  readonly from: string | null;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  /** Image or earlier stage name, ARGs substituted. */
  readonly base: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly args: ReadonlyMap<string, string>;
  readonly stages: readonly Stage[];
}

export function readDockerfile(file: string): Dockerfile {
  return parseDockerfile(fs.readFileSync(file, 'utf8'));
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions = logicalLines(text);
  const args = new Map<string, string>();
  const stages: { name: string; base: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = instruction.args.split('=', 2) as [string, string?];
      args.set(name.trim(), value.trim());
      continue;
    }
    if (instruction.keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      const base = substitute(match[1]!, args);
      stages.push({ name: match[2] ?? String(stages.length), base, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
    stage.instructions.push(instruction);
  }
  return { args, stages };
}

/** Instructions with continuation lines joined and comments dropped. */
function logicalLines(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (pending !== '' && trimmed.startsWith('#')) return; // comments inside continuations
    if (pending === '') startLine = index + 1;
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1).trim()} `;
      return;
    }
    const full = (pending + trimmed).trim();
    pending = '';
    const space = full.search(/\s/);
    out.push({ keyword: (space < 0 ? full : full.slice(0, space)).toUpperCase(), args: space < 0 ? '' : full.slice(space + 1).trim(), line: startLine });
  });
  return out;
}

function substitute(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => args.get(braced ?? bare ?? '') ?? whole);
}

export function stage(dockerfile: Dockerfile, name: string): Stage {
  const found = dockerfile.stages.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no stage named ${name}; stages: ${dockerfile.stages.map((s) => s.name).join(', ')}`);
  return found;
}

/** The stage and the stages it is built FROM, base first. */
export function lineage(dockerfile: Dockerfile, name: string): Stage[] {
  const chain: Stage[] = [];
  for (let current: Stage | undefined = stage(dockerfile, name); current !== undefined; ) {
    chain.unshift(current);
    const base: string = current.base;
    current = dockerfile.stages.find((candidate) => candidate.name === base);
  }
  return chain;
}

export function copies(target: Stage): CopyInstruction[] {
  return target.instructions
    .filter((instruction) => instruction.keyword === 'COPY')
    .map((instruction) => {
      const words = instruction.args.split(/\s+/);
      let from: string | null = null;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
      }
      const destination = words.pop();
      if (destination === undefined || words.length === 0) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
      return { from, sources: words, destination, line: instruction.line };
    });
}

/** The exec-form array of ENTRYPOINT or CMD (JSON, per the Dockerfile reference). */
export function execForm(target: Stage, keyword: 'ENTRYPOINT' | 'CMD'): string[] | null {
  const instruction = target.instructions.filter((candidate) => candidate.keyword === keyword).at(-1);
  if (instruction === undefined) return null;
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error(`line ${instruction.line}: ${keyword} is not in exec form`);
  return parsed as string[];
}

/** LABEL key="value" pairs of a stage. */
export function labels(target: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const instruction of target.instructions.filter((candidate) => candidate.keyword === 'LABEL')) {
    for (const match of instruction.args.matchAll(/([\w.-]+)="([^"]*)"/g)) out.set(match[1]!, match[2]!);
  }
  return out;
}

/** The stage's last WORKDIR, inherited through its lineage. */
export function workdir(dockerfile: Dockerfile, name: string): string {
  let dir = '/';
  for (const ancestor of lineage(dockerfile, name)) {
    for (const instruction of ancestor.instructions) {
      if (instruction.keyword === 'WORKDIR') dir = path.posix.resolve(dir, instruction.args);
    }
  }
  return dir;
}

/** .dockerignore patterns (one per line, `#` comments), as anchored regular expressions. */
export function readDockerignore(file: string): RegExp[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('!'))
    .map((pattern) => {
      const body = pattern
        .replace(/^\/+|\/+$/g, '')
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*');
      // A pattern matches the path itself and everything under it.
      return new RegExp(`^${body}(?:/.*)?$`);
    });
}

export function isIgnored(relativePath: string, patterns: readonly RegExp[]): boolean {
  return patterns.some((pattern) => pattern.test(relativePath));
}
