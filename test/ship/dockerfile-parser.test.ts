import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { copies, execForm, isIgnored, labels, lineage, parseDockerfile, readDockerignore, workdir } from './dockerfile';

/** The Dockerfile reader the ship tests rely on, on a small fixture of every form it reads. */
const FIXTURE = `# syntax=docker/dockerfile:1
ARG NODE_IMAGE=node:24-bookworm-slim
FROM \${NODE_IMAGE} AS toolchain
RUN apt-get update \\
 && apt-get install -y make
WORKDIR /src
FROM toolchain AS build
COPY a.json b.json ./
RUN echo built
FROM \${NODE_IMAGE}
LABEL org.opencontainers.image.title="x" \\
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
COPY --from=build /src/dist ./dist
ENTRYPOINT ["node", "/app/main.js"]
CMD ["agent"]
`;

test('parses stages, ARG substitution, continuations, COPY --from, exec forms, labels and WORKDIR inheritance', () => {
  const parsed = parseDockerfile(FIXTURE);
  assert.deepEqual(parsed.stages.map((s) => [s.name, s.base]), [['toolchain', 'node:24-bookworm-slim'], ['build', 'toolchain'], ['2', 'node:24-bookworm-slim']]);
  assert.equal(parsed.stages[0]!.instructions[0]!.args, 'apt-get update && apt-get install -y make');
  assert.deepEqual(lineage(parsed, 'build').map((s) => s.name), ['toolchain', 'build']);
  assert.equal(workdir(parsed, 'build'), '/src');
  const runtime = parsed.stages[2]!;
  assert.deepEqual(copies(parsed.stages[1]!), [{ from: null, sources: ['a.json', 'b.json'], destination: './', line: 8 }]);
  assert.deepEqual(copies(runtime)[0]!.from, 'build');
  assert.deepEqual(execForm(runtime, 'ENTRYPOINT'), ['node', '/app/main.js']);
  assert.deepEqual(execForm(runtime, 'CMD'), ['agent']);
  assert.equal(labels(runtime).get('org.opencontainers.image.licenses'), 'MIT');
});

test('.dockerignore patterns match the path and everything under it, * within one segment', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rstprobe-dockerignore-')), '.dockerignore');
  fs.writeFileSync(file, '# comment\nnode_modules\n*.log\n/native/build/\n');
  const patterns = readDockerignore(file);
  fs.rmSync(path.dirname(file), { recursive: true });
  assert.equal(isIgnored('native/build/Release/x.node', patterns), true);
  assert.equal(isIgnored('native/src/addon.cc', patterns), false);
  assert.equal(isIgnored('node_modules/x/y.js', patterns), true);
  assert.equal(isIgnored('a.log', patterns), true);
  assert.equal(isIgnored('src/a.log', patterns), false);
});
