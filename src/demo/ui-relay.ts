import * as net from 'node:net';

/**
 * The demo's agent serves its UI inside the gateway node's network namespace, which
 * this machine's own network cannot reach (the lab never connects to the root
 * namespace: DESIGN.md, "Lab"). Unix sockets are not bound to a network namespace,
 * so a relay inside the node forwards a Unix socket to the agent, and this listener
 * on the machine forwards TCP connections to that socket. Byte for byte, so HTTP and
 * the UI's WebSocket both pass.
 */
export class UiRelay {
  readonly name = 'ui-relay';
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly listen: { host: string; port: number }, private readonly unixSocketPath: string) {}

  /** Resolves with the address it listens on (the port is chosen when 0 was asked). */
  async start(): Promise<{ host: string; port: number }> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.unixSocketPath);
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
