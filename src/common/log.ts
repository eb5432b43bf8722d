import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Root logger: JSON lines on stderr (stdout belongs to findings, see DESIGN.md). */
export function createRootLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { app: 'rstprobe' } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that discards everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
