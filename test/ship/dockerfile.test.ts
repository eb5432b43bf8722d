import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/main';
import {
  copies,
  execForm,
  isIgnored,
  labels,
  lineage,
  readDockerfile,
  readDockerignore,
  stage,
  workdir,
  type Dockerfile,
  type Stage,
} from './dockerfile';

/**
 * No Docker engine runs here, so the Dockerfile is checked against the repository:
 * its static shape (stages, user, labels, entrypoint, COPY sources), and then its
 * commands are replayed — the build and deps stages' RUN lines run in temporary
 * directories that stand in for the stages' filesystems, the runtime tree is
 * assembled from the runtime stage's COPY lines, and the result must start.
 */
const REPO = path.resolve(__dirname, '../../..');
const dockerfile: Dockerfile = readDockerfile(path.join(REPO, 'Dockerfile'));
const ignore = readDockerignore(path.join(REPO, '.dockerignore'));
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  description: string;
  license: string;
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
  allowScripts?: Record<string, boolean>;
  devDependencies: Record<string, string>;
};
const runtime: Stage = dockerfile.stages.at(-1)!;

function nodeMajorOf(image: string): number {
  const match = /^node:(\d+)/.exec(image);
  assert.ok(match, `${image} is not an official node image`);
  return Number(match[1]);
}

/** True when `major` satisfies an engines range made of `A.x`, `>=A` and `||` alternatives. */
function majorSatisfies(major: number, range: string): boolean {
  return range.split('||').some((alternative) => {
    const part = alternative.trim();
    const atLeast = /^>=\s*(\d+)/.exec(part);
    if (atLeast) return major >= Number(atLeast[1]);
    const exact = /^\^?(\d+)(?:\.x)?/.exec(part);
    return exact !== null && Number(exact[1]) === major;
  });
}

describe('Dockerfile shape', () => {
  test('has build, deps and runtime stages; the runtime is last and slim', () => {
    const names = dockerfile.stages.map((s) => s.name);
    for (const name of ['build', 'deps', 'runtime']) assert.ok(names.includes(name), `stages: ${names.join(', ')}`);
    assert.equal(runtime.name, 'runtime');
    assert.match(runtime.base, /^node:\d+-[a-z]+-slim$/);
  });

  test('every stage runs one Node major, inside package.json engines and better-sqlite3 engines', () => {
    const images = dockerfile.stages.map((s) => lineage(dockerfile, s.name)[0]!.base);
    const majors = new Set(images.map(nodeMajorOf));
    assert.equal(majors.size, 1, `mixed Node images: ${images.join(', ')}`);
    const [major] = [...majors] as [number];
    assert.ok(majorSatisfies(major, pkg.engines.node), `node ${major} vs engines ${pkg.engines.node}`);
    const sqlite = JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { engines: { node: string } };
    assert.ok(majorSatisfies(major, sqlite.engines.node), `node ${major} vs better-sqlite3 engines ${sqlite.engines.node}`);
  });

  test('the build stages have python3, make and g++ for node-gyp', () => {
    for (const name of ['build', 'deps']) {
      const runs = lineage(dockerfile, name).flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
      const apt = runs.find((run) => run.includes('apt-get install'));
      assert.ok(apt, `${name} installs no toolchain`);
      for (const tool of ['python3', 'make', 'g++']) assert.ok(apt.split(/\s+/).includes(tool), `${name} lacks ${tool}`);
    }
  });

  test('the runtime installs the commands the code runs (ip for src/pmtu) and no compiler', () => {
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
        else if (entry.name.endsWith('.ts')) sources.push(fs.readFileSync(path.join(dir, entry.name), 'utf8'));
      }
    };
    walk(path.join(REPO, 'src/pmtu'));
    const apt = runtime.instructions.filter((i) => i.keyword === 'RUN' && i.args.includes('apt-get install')).map((i) => i.args.split(/\s+/));
    const installed = new Set(apt.flat());
    if (sources.some((text) => /ipJson\(|execFile\('ip'/.test(text))) assert.ok(installed.has('iproute2'), 'src/pmtu runs `ip`: the runtime needs iproute2');
    for (const tool of ['g++', 'make', 'python3']) assert.ok(!installed.has(tool), `the runtime must not carry ${tool}`);
  });

  test('the runtime runs as a non-root numeric user and has no HEALTHCHECK', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1);
    assert.ok(user, 'no USER in the runtime stage');
    const uid = Number(user.args.split(':')[0]);
    assert.ok(Number.isInteger(uid) && uid > 0, `USER ${user.args} must be a numeric non-root uid`);
    const healthchecks = dockerfile.stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'HEALTHCHECK'));
    assert.deepEqual(healthchecks, [], 'Kubernetes probes /healthz; the image has no HEALTHCHECK');
  });

  test('OCI labels name the image, its description and license as package.json does', () => {
    const found = labels(runtime);
    assert.equal(found.get('org.opencontainers.image.title'), 'rstprobe');
    assert.equal(found.get('org.opencontainers.image.description'), pkg.description);
    assert.equal(found.get('org.opencontainers.image.licenses'), pkg.license);
    assert.ok(found.has('org.opencontainers.image.version'));
  });

  test('the entrypoint is the package bin with the CLI\'s node flags, and the default command exists in the CLI', () => {
    const entrypoint = execForm(runtime, 'ENTRYPOINT');
    assert.ok(entrypoint);
    assert.equal(entrypoint[0], 'node');
    assert.deepEqual(entrypoint.slice(1, -1), NODE_FLAGS);
    const appDir = workdir(dockerfile, runtime.name);
    assert.equal(path.posix.relative(appDir, entrypoint.at(-1)!), path.posix.normalize(pkg.bin.rstprobe!));
    const cmd = execForm(runtime, 'CMD') ?? [];
    assert.ok(fs.existsSync(path.join(REPO, 'dist/src/cli/main.js')), 'run `npx tsc -p tsconfig.json` first');
    const help = spawnSync(process.execPath, [path.join(REPO, 'dist/src/cli/main.js'), ...cmd, '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(help.status, 0, help.stderr);
  });

  test('every COPY from the build context exists and is not excluded by .dockerignore', () => {
    const fromContext = dockerfile.stages.flatMap((s) => copies(s)).filter((c) => c.from === null);
    assert.ok(fromContext.length > 0);
    for (const copy of fromContext) {
      for (const source of copy.sources) {
        assert.ok(fs.existsSync(path.join(REPO, source)), `line ${copy.line}: ${source} does not exist`);
        assert.ok(!isIgnored(path.posix.normalize(source), ignore), `line ${copy.line}: ${source} is excluded by .dockerignore`);
      }
    }
  });

  test('the deps stage rebuilds exactly the dependencies allowed to run install scripts', () => {
    const runs = stage(dockerfile, 'deps').instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(runs.some((run) => /npm ci\b.*--omit=dev/.test(run)), 'deps installs production dependencies with npm ci --omit=dev');
    const rebuild = runs.find((run) => run.startsWith('npm rebuild'));
    assert.ok(rebuild, 'no npm rebuild of the native dependencies');
    const rebuilt = rebuild.split(/\s+/).slice(2).sort();
    const allowed = Object.entries(pkg.allowScripts ?? {}).filter(([, on]) => on).map(([name]) => name).sort();
    assert.deepEqual(rebuilt, allowed);
  });
});

// ── replay ───────────────────────────────────────────────────────────────────

const REPLAY_TIMEOUT_MS = 12 * 60_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-dockerfile-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Where a path inside a stage's image lives in the replay. */
const stageRoot = (name: string): string => path.join(tmp, 'stages', name);
const inStage = (name: string, imagePath: string): string => path.join(stageRoot(name), imagePath);

function copyFromContext(source: string, destination: string): void {
  fs.cpSync(path.join(REPO, source), destination, {
    recursive: true,
    filter: (from) => !isIgnored(path.relative(REPO, from).split(path.sep).join('/'), ignore),
  });
}

/** COPY semantics for the cases used here: a directory's contents into DEST, a file into DEST (or DEST/ for a dir). */
function copyInto(sourceAbs: string, destinationAbs: string, destinationIsDir: boolean, copySource: (from: string, to: string) => void): void {
  const target = fs.statSync(sourceAbs).isDirectory() || !destinationIsDir ? destinationAbs : path.join(destinationAbs, path.basename(sourceAbs));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  copySource(sourceAbs, target);
}

function replayStage(name: string, env: NodeJS.ProcessEnv): string[] {
  const log: string[] = [];
  let dir = '/';
  for (const ancestor of lineage(dockerfile, name)) {
    for (const instruction of ancestor.instructions) {
      if (instruction.keyword === 'WORKDIR') {
        dir = path.posix.resolve(dir, instruction.args);
        fs.mkdirSync(inStage(name, dir), { recursive: true });
      } else if (instruction.keyword === 'COPY') {
        const [copy] = copies({ ...ancestor, instructions: [instruction] });
        const destination = path.posix.resolve(dir, copy!.destination);
        const destinationIsDir = copy!.destination.endsWith('/') || copy!.sources.length > 1 || copy!.destination === '.' || copy!.destination === './';
        for (const source of copy!.sources) {
          if (copy!.from === null) {
            copyInto(path.join(REPO, source), inStage(name, destination), destinationIsDir, (from, to) => copyFromContext(path.relative(REPO, from), to));
          } else {
            copyInto(inStage(copy!.from, source), inStage(name, destination), destinationIsDir, (from, to) => fs.cpSync(from, to, { recursive: true }));
          }
        }
      } else if (instruction.keyword === 'RUN') {
        if (/^apt-get\b/.test(instruction.args)) {
          // The base image's packages: this machine's own are used instead (checked in the shape tests).
          continue;
        }
        const started = Date.now();
        const result = spawnSync('sh', ['-ec', instruction.args], { cwd: inStage(name, dir), env, encoding: 'utf8', timeout: REPLAY_TIMEOUT_MS, maxBuffer: 64 << 20 });
        log.push(`${name}: RUN ${instruction.args} (${Date.now() - started} ms, exit ${result.status})`);
        assert.equal(result.status, 0, `line ${instruction.line} (${name}): RUN ${instruction.args} failed:\n${result.stderr.slice(-3000)}`);
      }
    }
  }
  return log;
}

const skipReplay = process.env.RSTPROBE_SKIP_IMAGE_REPLAY ? 'RSTPROBE_SKIP_IMAGE_REPLAY is set' : undefined;

describe('Dockerfile replayed against the repository', { skip: skipReplay, timeout: REPLAY_TIMEOUT_MS }, () => {
  const appRoot = (): string => inStage('runtime', workdir(dockerfile, 'runtime'));

  test('the build and deps stages run (npm ci --omit=dev compiles better-sqlite3) and the runtime tree assembles', { timeout: REPLAY_TIMEOUT_MS }, () => {
    // The npm cache is reused when it has the tarballs; the registry is asked otherwise.
    const env = { ...process.env, npm_config_prefer_offline: 'true', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
    const log = [...replayStage('build', env), ...replayStage('deps', env)];
    for (const copy of copies(runtime)) {
      assert.ok(copy.from !== null, `line ${copy.line}: the runtime stage copies only from earlier stages`);
      for (const source of copy.sources) assert.ok(fs.existsSync(inStage(copy.from, source)), `line ${copy.line}: stage ${copy.from} did not produce ${source}`);
    }
    replayStage('runtime', process.env);
    process.stderr.write(`${log.join('\n')}\n`);
    assert.ok(fs.existsSync(path.join(appRoot(), pkg.bin.rstprobe!)));
  });

  test('the runtime tree prints --help for the CLI and its default command', () => {
    const entrypoint = execForm(runtime, 'ENTRYPOINT')!;
    const main = inStage('runtime', entrypoint.at(-1)!);
    const cmd = execForm(runtime, 'CMD') ?? [];
    // An empty environment apart from PATH: nothing may leak in from the repository.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' };
    for (const args of [['--help'], [...cmd, '--help']]) {
      const result = spawnSync(process.execPath, [...entrypoint.slice(1, -1), main, ...args], { cwd: appRoot(), env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: rstprobe/);
    }
  });

  test('the runtime tree loads the capture addon, better-sqlite3 and raw-socket, and holds no devDependency', () => {
    const script = `
      const { loadNativeBinding } = require('./dist/src/capture/native.js');
      const binding = loadNativeBinding();
      const Database = require('better-sqlite3');
      const db = new Database(':memory:');
      const row = db.prepare('select 41 + 1 as answer').get();
      require('raw-socket');
      console.log(JSON.stringify({ functions: Object.keys(binding).sort(), answer: row.answer }));`;
    const result = spawnSync(process.execPath, ['-e', script], { cwd: appRoot(), env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { functions: string[]; answer: number };
    assert.equal(out.answer, 42);
    assert.ok(out.functions.includes('openPacketRing'));
    // Packages the lock file marks dev-only must be absent (a devDependency that a
    // production dependency also needs, like @types/node for client-node, stays).
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([key, entry]) => key !== '' && entry.dev === true).map(([key]) => key);
    assert.ok(devOnly.includes('node_modules/typescript'));
    for (const key of devOnly) assert.ok(!fs.existsSync(path.join(appRoot(), key)), `dev-only ${key} is in the runtime image`);
  });

  test('every file under src/ that tsc does not compile (UI assets, schemas) reaches the runtime tree', () => {
    // The sources as the build stage received them (the repository may have moved on since).
    const buildRoot = inStage('build', workdir(dockerfile, 'build'));
    const missing: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (!/\.(ts|md)$/.test(entry.name)) {
          const relative = path.relative(buildRoot, full);
          if (!fs.existsSync(path.join(appRoot(), 'dist', relative)) && !fs.existsSync(path.join(appRoot(), relative))) missing.push(relative);
        }
      }
    };
    walk(path.join(buildRoot, 'src'));
    assert.deepEqual(missing, [], 'these files are read at run time but the image would not have them');
  });
});
