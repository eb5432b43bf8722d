/**
 * Pure parser of one tracefs `trace_pipe` line for the `tcp:tcp_send_reset` and
 * `tcp:tcp_receive_reset` events. No I/O, never throws: garbage gives a typed error.
 *
 * Line layout with default options (kernel/trace/trace_output.c, trace_print_context):
 *
 *     "%16s-%-7d " comm-pid · "(%7d) " tgid, only with option record-tgid ("(-------)" unknown)
 *     "[%03d] " cpu · flags, only with option irq-info (default) · "%5llu.%06lu: " timestamp
 *     "<event>: <fields>"
 *
 *     "           <...>-4770    [001] ..s1.   325.717061: tcp_send_reset: skbaddr=… src=127.0.0.1:1 …"
 *
 * The flags column (trace_print_lat_fmt) is: irqs-off (`d`/`D`/`X`/`.`), need-resched
 * (`N`/`n`/`L`/`l`/`p`/`b`/`B`/`.`), hard/soft irq (`Z` nmi+hardirq, `z` nmi,
 * `H` hardirq in softirq, `h` hardirq, `s` softirq, `.` process context), preempt
 * depth, migrate-disable depth (the last one is absent on kernels before 5.13).
 * Only in process context is the line's task the one that caused the event.
 *
 * A lost-events marker ("CPU:1 [LOST 720 EVENTS]", trace.c print_trace_line) is
 * reported as its own result kind.
 */

export interface KernelEndpointAddress {
  /** Dotted IPv4, or compressed IPv6. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is reported as plain IPv4, as on the wire. */
  ip: string;
  port: number;
}

export type KernelEventContext = 'process' | 'softirq' | 'hardirq' | 'nmi' | 'unknown';

export interface KernelEventProcess {
  /** Thread-group id (the process id) when the line has a tgid column, else the task id. */
  pid: number;
  /** The task (thread) id of the line. */
  tid: number;
  /** Task name; null when the kernel had not recorded it yet (printed `<...>`). */
  comm: string | null;
}

/**
 * One kernel reset event. `src`/`dst` are always oriented like the RST packet:
 * `src` is the address the RST carries as its source (DESIGN.md, Finding).
 *
 * - `send`: tcp_send_reset. `src`/`dst` are the event's `src`/`dest` (verified on
 *   6.18: connect 127.0.0.1:X → closed 127.0.0.1:Y gives `src=127.0.0.1:Y dest=127.0.0.1:X`).
 * - `receive`: tcp_receive_reset describes the socket that got the RST (`saddr:sport`
 *   local, `daddr:dport` remote); here `src` is the remote peer (the RST's sender)
 *   and `dst` the local socket. In process context, `process` is the task that
 *   owned the receiving socket (the RST was processed from its backlog).
 */
export interface KernelResetEvent {
  direction: 'send' | 'receive';
  /** Trace timestamp in ms; CLOCK_MONOTONIC when the instance's trace_clock is `mono`. */
  monotonicMs: number;
  src: KernelEndpointAddress;
  dst: KernelEndpointAddress;
  /** TCP state name (`TCP_TIME_WAIT`, …); null for receive events and for state `UNKNOWN` (no socket). */
  state: string | null;
  /** `enum sk_rst_reason` name (`NO_SOCKET`, …); null for receive events. */
  reason: string | null;
  /** Set only in process context; never for pid 0 (idle). */
  process: KernelEventProcess | null;
  context: KernelEventContext;
  cpu: number;
  /** tcp_receive_reset's socket cookie, hex as printed. */
  sockCookie?: string;
}

export type TraceLineErrorCode = 'empty' | 'header' | 'unknown-event' | 'fields' | 'address';

export interface TraceLineError {
  code: TraceLineErrorCode;
  message: string;
  /** The offending line, cut to 200 characters. */
  line: string;
}

export type TraceLineResult =
  | { kind: 'event'; event: KernelResetEvent }
  | { kind: 'lost'; cpu: number; lostEvents: number }
  | { kind: 'error'; error: TraceLineError };

export const SEND_RESET_EVENT = 'tcp_send_reset';
export const RECEIVE_RESET_EVENT = 'tcp_receive_reset';

// comm is greedy: it may hold spaces and dashes; the pid is the last "-<digits>" before the cpu.
const HEADER =
  /^\s*(.*)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([^\s\d][^\s]{2,5})\s+)?(\d+)(?:\.(\d+))?:\s+(\w+):\s?(.*)$/;
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;
const SEND_FIELDS = /(?:^|\s)src=(\S+) dest=(\S+) state=(\S+) reason=(\S+)/;
const RECEIVE_FIELDS =
  /(?:^|\s)family=(\S+) sport=(\d+) dport=(\d+) saddr=(\S+) daddr=(\S+) saddrv6=(\S+) daddrv6=(\S+)(?: sock_cookie=([0-9a-f]+))?/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;
const MAPPED_IPV4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;
const MAX_LINE_IN_ERROR = 200;

export function parseTraceLine(line: string): TraceLineResult {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.trim() === '') return failure('empty', 'empty line', text);
  const lost = LOST.exec(text.trim());
  if (lost !== null) return { kind: 'lost', cpu: Number(lost[1]), lostEvents: Number(lost[2]) };

  const header = HEADER.exec(text);
  if (header === null) return failure('header', 'not a trace_pipe event line', text);
  const [, commText, tidText, tgidText, cpuText, flags, secondsText, fractionText, eventName, fieldsText] = header;
  const tid = Number(tidText);
  const cpu = Number(cpuText);
  const monotonicMs = timestampMs(secondsText, fractionText);
  if (!Number.isSafeInteger(tid) || !Number.isSafeInteger(cpu) || monotonicMs === undefined) {
    return failure('header', 'unreadable pid, cpu or timestamp', text);
  }
  const context = contextFromFlags(flags);
  const tgid = tgidText !== undefined && /^\d+$/.test(tgidText) ? Number(tgidText) : undefined;
  const comm = commText.trim();
  const process: KernelEventProcess | null =
    context === 'process' && tid !== 0
      ? { pid: tgid !== undefined && tgid !== 0 ? tgid : tid, tid, comm: comm === '' || comm === '<...>' ? null : comm }
      : null;

  if (eventName === SEND_RESET_EVENT) {
    const fields = SEND_FIELDS.exec(fieldsText);
    if (fields === null) return failure('fields', `${SEND_RESET_EVENT} fields not recognised`, text);
    const src = parseSockaddr(fields[1]);
    const dst = parseSockaddr(fields[2]);
    if (src === undefined || dst === undefined) return failure('address', `${SEND_RESET_EVENT} address not recognised`, text);
    return {
      kind: 'event',
      event: {
        direction: 'send',
        monotonicMs,
        src,
        dst,
        state: fields[3] === 'UNKNOWN' ? null : fields[3],
        reason: fields[4],
        process,
        context,
        cpu,
      },
    };
  }
  if (eventName === RECEIVE_RESET_EVENT) {
    const fields = RECEIVE_FIELDS.exec(fieldsText);
    if (fields === null) return failure('fields', `${RECEIVE_RESET_EVENT} fields not recognised`, text);
    const [, family, sportText, dportText, saddr4, daddr4, saddr6, daddr6, cookie] = fields;
    const isV6 = family === 'AF_INET6';
    if (!isV6 && family !== 'AF_INET') return failure('fields', `${RECEIVE_RESET_EVENT} family ${family.slice(0, 20)} not recognised`, text);
    const localIp = normaliseIp(isV6 ? saddr6 : saddr4);
    const remoteIp = normaliseIp(isV6 ? daddr6 : daddr4);
    const localPort = port(sportText);
    const remotePort = port(dportText);
    if (localIp === undefined || remoteIp === undefined || localPort === undefined || remotePort === undefined) {
      return failure('address', `${RECEIVE_RESET_EVENT} address not recognised`, text);
    }
    const event: KernelResetEvent = {
      direction: 'receive',
      monotonicMs,
      // Oriented like the RST: it came from the remote peer to the local socket.
      src: { ip: remoteIp, port: remotePort },
      dst: { ip: localIp, port: localPort },
      state: null,
      reason: null,
      process,
      context,
      cpu,
    };
    if (cookie !== undefined) event.sockCookie = cookie;
    return { kind: 'event', event };
  }
  return failure('unknown-event', `unexpected event ${eventName.slice(0, 64)}`, text);
}

/** Context from the irq-info flags; `unknown` when the column is absent (option irq-info off). */
export function contextFromFlags(flags: string | undefined): KernelEventContext {
  if (flags === undefined || flags.length < 3) return 'unknown';
  switch (flags[2]) {
    case '.':
      return 'process';
    case 's':
      return 'softirq';
    case 'h':
    case 'H':
      return 'hardirq';
    case 'z':
    case 'Z':
      return 'nmi';
    default:
      return 'unknown';
  }
}

function timestampMs(secondsText: string, fractionText: string | undefined): number | undefined {
  const seconds = Number(secondsText);
  if (!Number.isSafeInteger(seconds)) return undefined;
  // "%5llu.%06lu" prints microseconds; a counter clock prints a bare integer (no unit: kept as is).
  if (fractionText === undefined) return seconds;
  const fraction = Number(`0.${fractionText}`);
  return seconds * 1000 + fraction * 1000;
}

/** `%pISpc` output: `1.2.3.4:80` or `[2001:db8::1]:80`. */
export function parseSockaddr(text: string): KernelEndpointAddress | undefined {
  let ipText: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']:');
    if (close < 0) return undefined;
    ipText = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return undefined;
    ipText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (IPV4.exec(ipText) === null) return undefined;
  }
  const ip = normaliseIp(ipText);
  const portNumber = port(portText);
  if (ip === undefined || portNumber === undefined) return undefined;
  return { ip, port: portNumber };
}

function normaliseIp(text: string): string | undefined {
  const v4 = IPV4.exec(text);
  if (v4 !== null) return v4.slice(1).every((octet) => Number(octet) <= 255) ? text : undefined;
  if (!IPV6.test(text) || !text.includes(':')) return undefined;
  const mapped = MAPPED_IPV4.exec(text);
  if (mapped !== null) return normaliseIp(mapped[1]);
  return text.toLowerCase();
}

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 65535 ? value : undefined;
}

function failure(code: TraceLineErrorCode, message: string, line: string): TraceLineResult {
  return { kind: 'error', error: { code, message, line: line.slice(0, MAX_LINE_IN_ERROR) } };
}
