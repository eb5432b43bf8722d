import { createInterface } from 'node:readline';
import { KubeApiServer, populateCluster, type KubeApiServerOptions } from './kube-api-server';

/**
 * Runs the test API server as its own process — inside a lab namespace (where an
 * agent can reach it) or outside a measured process (the cluster-map bench).
 * argv[2] is the JSON of KubeApiServerOptions. Control: one JSON command per stdin
 * line, `{"id":1,"op":"upsert","args":["pods",{…}]}`; one answer per stdout line,
 * `{"id":1,"result":…}` or `{"id":1,"error":"…"}`. The first stdout line is
 * `{"ready":true,"url":"http://…"}`. Ends when stdin closes.
 */
async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as KubeApiServerOptions;
  const server = new KubeApiServer(options);
  await server.start();
  const reply = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  reply({ ready: true, url: server.url });

  const operations: Record<string, (...args: any[]) => unknown> = { // eslint-disable-line @typescript-eslint/no-explicit-any
    upsert: (kind, object) => server.upsert(kind, object),
    remove: (kind, namespace, name) => server.remove(kind, namespace, name),
    get: (kind, namespace, name) => server.get(kind, namespace, name),
    count: (kind) => server.count(kind),
    expireHistory: (notify) => server.expireHistory(notify),
    closeWatches: () => server.closeWatches(),
    bookmark: () => server.bookmark(),
    stop: () => server.stop(),
    start: () => server.start(),
    writeKubeconfig: (dir, kubeconfigOptions) => server.writeKubeconfig(dir, kubeconfigOptions),
    setTokenReview: (token, answer) => void server.tokenReviews.set(token, answer),
    populate: (size) => populateCluster(server, size),
    requests: () => server.requests,
    openWatches: () => server.openWatches,
    rssBytes: () => process.memoryUsage().rss,
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let id: unknown = null;
    void (async () => {
      const command = JSON.parse(line) as { id: unknown; op: string; args?: unknown[] };
      id = command.id;
      const operation = operations[command.op];
      if (operation === undefined) throw new Error(`unknown op ${command.op}`);
      reply({ id, result: (await operation(...(command.args ?? []))) ?? null });
    })().catch((err: unknown) => reply({ id, error: (err as Error).message ?? String(err) }));
  });
  lines.on('close', () => {
    void server.stop().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`kube-api-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
