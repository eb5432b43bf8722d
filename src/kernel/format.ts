/**
 * Pure parser of a tracefs event `format` file (Documentation/trace/events.rst,
 * "Event formats"). No I/O: the caller reads the file.
 *
 * The enum behind `tcp_send_reset`'s `reason` (`enum sk_rst_reason`,
 * include/net/rstreason.h) is renumbered between kernels, so its names are read
 * from the `__print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, …)` list of the
 * running kernel's `print fmt`, never hard-coded.
 */

export interface TraceEventField {
  /** C type without the array suffix: `const void *`, `__u8`, `enum sk_rst_reason`. */
  type: string;
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  /** Element count for array fields (`__u8 saddr[28]` → 28); absent otherwise. */
  arrayLength?: number;
}

export interface TraceEventFormat {
  name: string;
  id: number;
  fields: TraceEventField[];
  /** The raw `print fmt` line, after `print fmt: `. */
  printFmt: string;
  /** Per field, value → name from the print fmt's `__print_symbolic` lists. */
  symbols: Map<string, Map<number, string>>;
  /**
   * Per field, every name of its `__print_symbolic` list in order, including those
   * whose key is a kernel constant this parser cannot resolve to a number.
   */
  symbolNames: Map<string, string[]>;
}

export type FormatParseErrorCode = 'missing-name' | 'missing-id' | 'bad-field' | 'missing-print-fmt';

export interface FormatParseError {
  code: FormatParseErrorCode;
  message: string;
}

export type FormatParseResult = { ok: true; format: TraceEventFormat } | { ok: false; error: FormatParseError };

/**
 * Kernel constants used as keys of `__print_symbolic` lists that the tracepoint
 * macros do not expand to numbers. TCP states come from include/net/tcp_states.h;
 * their values are ABI (`/proc/net/tcp` prints them), unlike `sk_rst_reason`.
 * Address families from include/linux/socket.h.
 */
export const KNOWN_SYMBOL_CONSTANTS: ReadonlyMap<string, number> = new Map([
  ['TCP_ESTABLISHED', 1],
  ['TCP_SYN_SENT', 2],
  ['TCP_SYN_RECV', 3],
  ['TCP_FIN_WAIT1', 4],
  ['TCP_FIN_WAIT2', 5],
  ['TCP_TIME_WAIT', 6],
  ['TCP_CLOSE', 7],
  ['TCP_CLOSE_WAIT', 8],
  ['TCP_LAST_ACK', 9],
  ['TCP_LISTEN', 10],
  ['TCP_CLOSING', 11],
  ['TCP_NEW_SYN_RECV', 12],
  ['TCP_BOUND_INACTIVE', 13],
  ['AF_INET', 2],
  ['AF_INET6', 10],
]);

const FIELD_LINE = /^field:(.+);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);?\s*$/;
const FIELD_DECL = /^(.*?)\s*([A-Za-z_]\w*)\s*(?:\[(\d*)\])?$/;

export function parseEventFormat(text: string): FormatParseResult {
  let name: string | undefined;
  let id: number | undefined;
  let printFmt: string | undefined;
  const fields: TraceEventField[] = [];

  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line.startsWith('name:')) {
      name = line.slice('name:'.length).trim();
    } else if (line.startsWith('ID:')) {
      const value = Number(line.slice('ID:'.length).trim());
      if (Number.isInteger(value) && value >= 0) id = value;
    } else if (line.startsWith('field:')) {
      const field = parseFieldLine(line);
      if (field === undefined) {
        return { ok: false, error: { code: 'bad-field', message: `unreadable field line: ${line.slice(0, 200)}` } };
      }
      fields.push(field);
    } else if (line.startsWith('print fmt:')) {
      printFmt = line.slice('print fmt:'.length).trim();
    }
  }
  if (name === undefined || name === '') return { ok: false, error: { code: 'missing-name', message: 'format has no "name:" line' } };
  if (id === undefined) return { ok: false, error: { code: 'missing-id', message: `format of ${name} has no numeric "ID:" line` } };
  if (printFmt === undefined) {
    return { ok: false, error: { code: 'missing-print-fmt', message: `format of ${name} has no "print fmt:" line` } };
  }
  const { symbols, symbolNames } = parsePrintSymbolic(printFmt);
  return { ok: true, format: { name, id, fields, printFmt, symbols, symbolNames } };
}

function parseFieldLine(line: string): TraceEventField | undefined {
  const match = FIELD_LINE.exec(line);
  if (match === null) return undefined;
  const decl = FIELD_DECL.exec(match[1].trim());
  if (decl === null) return undefined;
  // `__data_loc char[] name` keeps the brackets in the type; a plain array puts them after the name.
  const field: TraceEventField = {
    type: decl[1].trim(),
    name: decl[2],
    offset: Number(match[2]),
    size: Number(match[3]),
    signed: match[4] !== '0',
  };
  if (decl[3] !== undefined && decl[3] !== '') field.arrayLength = Number(decl[3]);
  return field;
}

const SYMBOLIC_START = /__print_symbolic\(\s*REC->(\w+)\s*,/g;
const SYMBOL_ENTRY = /\s*,?\s*\{\s*([^,{}"]+?)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\}/y;

/** Reads every `__print_symbolic(REC->field, { key, "NAME" }, …)` list of a print fmt. */
export function parsePrintSymbolic(printFmt: string): {
  symbols: Map<string, Map<number, string>>;
  symbolNames: Map<string, string[]>;
} {
  const symbols = new Map<string, Map<number, string>>();
  const symbolNames = new Map<string, string[]>();
  for (const start of printFmt.matchAll(SYMBOLIC_START)) {
    const fieldName = start[1];
    const values = symbols.get(fieldName) ?? new Map<number, string>();
    const names = symbolNames.get(fieldName) ?? [];
    SYMBOL_ENTRY.lastIndex = (start.index ?? 0) + start[0].length;
    for (let entry = SYMBOL_ENTRY.exec(printFmt); entry !== null; entry = SYMBOL_ENTRY.exec(printFmt)) {
      const symbolName = entry[2];
      names.push(symbolName);
      const value = symbolKeyValue(entry[1]);
      if (value !== undefined) values.set(value, symbolName);
    }
    symbols.set(fieldName, values);
    symbolNames.set(fieldName, names);
  }
  return { symbols, symbolNames };
}

function symbolKeyValue(key: string): number | undefined {
  const trimmed = key.trim();
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
  if (/^0x[0-9a-f]+$/i.test(trimmed)) return Number.parseInt(trimmed.slice(2), 16);
  return KNOWN_SYMBOL_CONSTANTS.get(trimmed);
}
