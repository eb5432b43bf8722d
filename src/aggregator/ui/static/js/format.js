// Text for the finding fields (DESIGN.md, "Finding"): endpoints, causes, times.

/** `ip:port`, with IPv6 in brackets (RFC 5952 §6). */
export function socketText(ip, port) {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** What names an endpoint best: namespace/pod (container), else the node, else ip:port. */
export function endpointName(endpoint) {
  if (endpoint.pod) {
    const container = endpoint.pod.container ? ` (${endpoint.pod.container})` : '';
    return `${endpoint.pod.namespace}/${endpoint.pod.name}${container}`;
  }
  if (endpoint.kind === 'node' && endpoint.node) return `node ${endpoint.node}`;
  return socketText(endpoint.ip, endpoint.port);
}

/** The second line under a name: the address when the name is not already it, and the process. */
export function endpointDetail(endpoint) {
  const parts = [];
  if (endpoint.pod || (endpoint.kind === 'node' && endpoint.node)) parts.push(socketText(endpoint.ip, endpoint.port));
  else if (endpoint.kind !== 'external') parts.push(endpoint.kind);
  if (endpoint.process) parts.push(`process ${endpoint.process.comm} (pid ${endpoint.process.pid})`);
  return parts.join(' · ');
}

// RESET_CAUSES of src/protocol/finding-schema.ts, copied (no build step); test/aggregator/ui-logic.test.ts keeps them equal.
export const CAUSES = [
  'not-listening',
  'no-connection',
  'abort-on-close',
  'keepalive-race',
  'idle-timeout',
  'keepalive-timeout',
  'memory-pressure',
  'process-exit',
  'container-restart',
  'sidecar',
  'middlebox',
  'unknown',
];

const CAUSE_TEXT = {
  'not-listening': 'not listening',
  'no-connection': 'no such connection',
  'abort-on-close': 'closed with unread data',
  'keepalive-race': 'keep-alive race',
  'idle-timeout': 'idle timeout',
  'keepalive-timeout': 'keep-alive timeout',
  'memory-pressure': 'memory pressure',
  'process-exit': 'process exited',
  'container-restart': 'container restarted',
  sidecar: 'sidecar',
  middlebox: 'middlebox',
  unknown: 'unknown',
};

export function causeText(cause) {
  return CAUSE_TEXT[cause] ?? cause;
}

export function kindText(kind) {
  return kind === 'syn-timeout' ? 'SYN unanswered' : kind === 'pmtu' ? 'path MTU' : 'reset';
}

/** "4 s ago", "12 min ago", "3 h ago", then the local date. */
export function timeAgo(iso, nowMs) {
  const thenMs = Date.parse(iso);
  if (Number.isNaN(thenMs)) return '—';
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(thenMs).toLocaleString();
}

/** "850 ms", "5.0 s", "2 min 5 s", "3 h 4 min". */
export function durationText(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s`;
  return `${Math.floor(totalSeconds / 3600)} h ${Math.floor((totalSeconds % 3600) / 60)} min`;
}

export function localTime(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toLocaleString();
}
