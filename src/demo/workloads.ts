/**
 * The programs the demo runs inside its pods: small Node servers and clients passed
 * to `node -e`, and the nginx gateway's configuration. Each one reproduces the real
 * mechanism of a failure mode; none of them fakes a packet.
 */

/** Upstream app (reviews-v1): HTTP keep-alive closed after 1 s idle, and a large page for the MTU case. */
export function keepAliveServerScript(port: number, keepAliveTimeoutMs: number): string {
  return `
    const http = require('http');
    const large = Buffer.alloc(256 * 1024, 'x');
    const server = http.createServer((req, res) => {
      if (req.url === '/large') { res.end(large); return; }
      let bytes = 0;
      req.on('data', (chunk) => { bytes += chunk.length; });
      req.on('end', () => res.end('reviews ok, ' + bytes + ' bytes received\\n'));
    });
    server.keepAliveTimeout = ${keepAliveTimeoutMs};
    server.listen(${port}, () => console.log('listening ${port}'));`;
}

/**
 * A server that crashes: it leaves the first request unread and exits 200 ms later.
 * Closing a socket with unread data makes the kernel send RST instead of FIN
 * (RFC 2525 §2.17; tcp_close() in net/ipv4/tcp.c), so the gateway sees a reset.
 */
export function crashingServerScript(port: number): string {
  return `
    require('net').createServer({ pauseOnConnect: true }, () => setTimeout(() => process.exit(1), 200))
      .listen(${port}, () => console.log('listening ${port}'));`;
}

/** A plain HTTP server with a long keep-alive (ratings-v1: it never closes first). */
export function plainServerScript(port: number): string {
  return `
    const server = require('http').createServer((req, res) => res.end('ratings ok\\n'));
    server.keepAliveTimeout = 600000;
    server.listen(${port}, () => console.log('listening ${port}'));`;
}

/** The sidecar (run as a process named envoy): accepts, leaves the request unread, aborts. */
export function abortingProxyScript(port: number): string {
  return `
    require('net').createServer({ pauseOnConnect: true }, (s) => setTimeout(() => s.destroy(), 200))
      .listen(${port}, () => console.log('listening ${port}'));`;
}

/** Connects, optionally sends `payload`, prints how the connection ended (error code, 'closed' or 'timeout'). */
export function connectScript(ip: string, port: number, payload: string | null, timeoutMs: number): string {
  return `
    const s = require('net').connect(${port}, '${ip}');
    s.on('connect', () => { ${payload === null ? '' : `s.write(${JSON.stringify(payload)});`} });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, ${timeoutMs});`;
}

/** GET through a URL; prints the status line or the error code, and how long it took. */
export function httpGetScript(url: string, timeoutMs: number): string {
  return `
    const started = Date.now();
    const req = require('http').get(${JSON.stringify(url)}, { agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => { bytes += chunk.length; });
      res.on('end', () => { console.log(res.statusCode + ' (' + bytes + ' bytes in ' + (Date.now() - started) + ' ms)'); process.exit(0); });
      res.on('error', (e) => { console.log(e.code || e.message); process.exit(0); });
    });
    req.on('error', (e) => { console.log(e.code || e.message); process.exit(0); });
    setTimeout(() => { console.log('no complete answer after ' + (Date.now() - started) + ' ms: the transfer hangs'); process.exit(0); }, ${timeoutMs});`;
}

/** POSTs `bodyBytes` to a URL; prints the status or the error, or that the upload hangs. */
export function httpPostScript(url: string, bodyBytes: number, timeoutMs: number): string {
  return `
    const started = Date.now();
    const req = require('http').request(${JSON.stringify(url)}, { method: 'POST', agent: false, headers: { 'content-length': ${bodyBytes} } }, (res) => {
      res.resume();
      res.on('end', () => { console.log(res.statusCode + ' after ' + (Date.now() - started) + ' ms'); process.exit(0); });
    });
    req.on('error', (e) => { console.log(e.code || e.message); process.exit(0); });
    req.end(Buffer.alloc(${bodyBytes}, 'x'));
    setTimeout(() => { console.log('no answer after ' + (Date.now() - started) + ' ms: the upload hangs'); process.exit(0); }, ${timeoutMs});`;
}

/**
 * A gateway's pooled upstream connection, made by hand so the timing is exact:
 * one request and its response, then (after `waitFor`: the server's FIN, or a
 * line on stdin) a second request on the same connection. Prints each step.
 */
export function pooledConnectionScript(ip: string, port: number, waitFor: 'server-fin' | 'stdin'): string {
  return `
    const request = 'GET / HTTP/1.1\\r\\nHost: upstream\\r\\nConnection: keep-alive\\r\\n\\r\\n';
    const s = require('net').connect({ port: ${port}, host: '${ip}', allowHalfOpen: true });
    let answered = false;
    // After the peer's FIN Node reads no more, so a RST is only noticed on the next write.
    const second = () => { console.log('second request on the pooled connection'); s.write(request); setTimeout(() => s.write('\\r\\n'), 300); };
    s.on('connect', () => s.write(request));
    s.on('data', () => {
      if (answered) return;
      answered = true;
      console.log('first response received; connection pooled');
      ${waitFor === 'stdin' ? "process.stdin.once('data', second);" : ''}
    });
    s.on('end', () => {
      console.log('upstream closed its side (FIN)');
      ${waitFor === 'server-fin' ? 'setTimeout(second, 50);' : ''}
    });
    s.on('error', (e) => { console.log(e.code); process.exit(0); });
    s.on('close', () => { console.log('closed'); process.exit(0); });
    setTimeout(() => { console.log('timeout'); process.exit(0); }, 20000);`;
}

/** Forwards every connection on a Unix socket to host:port (runs inside a node's netns). */
export function unixToTcpRelayScript(socketPath: string, host: string, port: number): string {
  return `
    const net = require('net');
    try { require('fs').unlinkSync(${JSON.stringify(socketPath)}); } catch {}
    net.createServer((client) => {
      const upstream = net.connect(${port}, '${host}');
      client.pipe(upstream).pipe(client);
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end); upstream.on('error', end);
    }).listen(${JSON.stringify(socketPath)}, () => console.log('relay listening'));`;
}

export interface NginxRoute {
  readonly path: string;
  readonly upstream: string;
}

/** nginx as the ingress gateway: one location per route, its logs and temp files under `dir`. */
export function nginxConfig(dir: string, listen: string, routes: readonly NginxRoute[]): string {
  const locations = routes.map((route) => `    location ${route.path} { proxy_pass http://${route.upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; }`).join('\n');
  return `# rstprobe demo gateway (generated)
daemon off;
master_process off;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  proxy_connect_timeout 3s;
  proxy_read_timeout 5s;
  server {
    listen ${listen};
${locations}
  }
}
`;
}
