/**
 * One error module for the whole project. Every failure a user can meet has a
 * stable `code` (RSTPROBE_ERR_…) and a message that names the problem and the fix;
 * the CLI prints `message` on one line and keeps the stack for debug logs.
 */
export class RstprobeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The user gave something we cannot use: a flag, a file, an address. Exit code 2. */
export class UsageError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_USAGE', message, options);
  }
}

/** The process lacks a privilege or capability it needs (e.g. CAP_NET_RAW). Exit code 2. */
export class PrivilegeError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_PRIVILEGE', message, options);
  }
}

/** A capture could not be opened or failed while running. */
export class CaptureError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_CAPTURE', message, options);
  }
}

/** tracefs is missing, unmountable or the tcp events are absent. */
export class KernelEventsError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_KERNEL_EVENTS', message, options);
  }
}

/** The findings database cannot be opened, read or written (corrupt, unwritable, locked). Exit code 2. */
export class StoreError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_STORE', message, options);
  }
}

/** A peer broke the agent ↔ aggregator protocol, or auth could not be set up. */
export class ProtocolError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_PROTOCOL', message, options);
  }
}

/** A capture file (pcap, pcapng) cannot be opened or read at all. Exit code 2. */
export class CaptureFileError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_CAPTURE_FILE', message, options);
  }
}

/** `rstprobe demo` cannot build or run its lab (no root, no iproute2, the agent would not start). Exit code 2. */
export class DemoError extends RstprobeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RSTPROBE_ERR_DEMO', message, options);
  }
}

/** Errno code carried by errors from Node's fs/net and from the native addon. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
