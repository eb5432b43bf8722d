// The server's API (DESIGN.md, "HTTP and WebSocket"). URLs are relative to the page,
// so the UI also works behind a reverse proxy that serves it under a path prefix.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON document; `params` with empty values are left out. */
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) query.set(key, String(value));
  }
  const search = query.toString();
  const response = await fetch(`${path}${search ? `?${search}` : ''}`, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    const hint = response.status === 401 ? 'this server needs a token: open the page once as /?token=YOUR_TOKEN' : `HTTP ${response.status}`;
    throw new ApiError(response.status, `${path}: ${hint}`);
  }
  return response.json();
}

export const FINDING_KINDS = ['reset', 'syn-timeout', 'pmtu'];

/**
 * The finding in one stream message: `{ type: 'finding', update, finding }` (the
 * aggregator's StreamMessage, src/aggregator/finding-stream.ts), or a bare finding.
 */
export function findingInMessage(message) {
  const finding = message?.type === 'finding' ? message.finding : message;
  return finding && FINDING_KINDS.includes(finding.kind) && typeof finding.id === 'string' ? finding : null;
}

const RECONNECT_FIRST_MS = 1000;
const RECONNECT_MAX_MS = 15000;

/**
 * Keeps a WebSocket to /api/v1/stream open: on a drop it reconnects with exponential
 * backoff and jitter (so a restarted aggregator is not hit by every browser at
 * once), and reports each (re)open so the caller can fetch what it missed.
 * Returns a function that closes it for good.
 */
export function openFindingStream({ onFinding, onState, onOpen }) {
  let socket = null;
  let closed = false;
  let delayMs = RECONNECT_FIRST_MS;
  let timer = null;
  const connect = () => {
    const url = new URL('api/v1/stream', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    onState('connecting');
    socket = new WebSocket(url);
    socket.onopen = () => {
      delayMs = RECONNECT_FIRST_MS;
      onState('live');
      onOpen();
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not ours to show; the next message may be fine
      }
      const finding = findingInMessage(message);
      if (finding !== null) onFinding(finding);
    };
    socket.onclose = () => {
      socket = null;
      if (closed) return;
      onState('reconnecting');
      timer = setTimeout(connect, delayMs / 2 + Math.random() * (delayMs / 2));
      delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
    };
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(timer);
    socket?.close();
  };
}
