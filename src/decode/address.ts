/**
 * IP addresses between bytes and text. Text is IPv4 dotted-quad and IPv6 in the
 * RFC 5952 canonical form (lower-case hex, no leading zeros, the longest run of two
 * or more zero groups compressed to `::`, the first one on a tie). That is what
 * WHATWG `new URL()` prints; for IPv4-mapped addresses (`::ffff:0:0/96`) we follow
 * RFC 5952 §5 and Node's socket addresses (`::ffff:192.0.2.1`) instead of URL's
 * all-hex form, so addresses from packets compare equal to `socket.remoteAddress`.
 */

/** "0".."255", built once so formatting an address does no number-to-string work. */
const DECIMAL_OCTETS: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

export function formatIpv4(bytes: Uint8Array, offset: number): string {
  return (
    DECIMAL_OCTETS[bytes[offset]] +
    '.' +
    DECIMAL_OCTETS[bytes[offset + 1]] +
    '.' +
    DECIMAL_OCTETS[bytes[offset + 2]] +
    '.' +
    DECIMAL_OCTETS[bytes[offset + 3]]
  );
}

export function formatIpv6(bytes: Uint8Array, offset: number): string {
  // Longest run of zero groups (RFC 5952 §4.2.3: first one wins a tie; §4.2.2: a single zero group is not compressed).
  let bestStart = -1;
  let bestLength = 0;
  let runStart = -1;
  for (let group = 0; group < 8; group++) {
    const at = offset + group * 2;
    if ((bytes[at] | bytes[at + 1]) === 0) {
      if (runStart < 0) runStart = group;
      const runLength = group - runStart + 1;
      if (runLength > bestLength) {
        bestStart = runStart;
        bestLength = runLength;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestLength < 2) bestStart = -1;

  // IPv4-mapped ::ffff:a.b.c.d (RFC 5952 §5).
  if (bestStart === 0 && bestLength === 5 && bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff) {
    return '::ffff:' + formatIpv4(bytes, offset + 12);
  }

  let text = '';
  for (let group = 0; group < 8; group++) {
    if (group === bestStart) {
      text += group === 0 ? '::' : ':';
      group += bestLength - 1;
      continue;
    }
    const at = offset + group * 2;
    text += ((bytes[at] << 8) | bytes[at + 1]).toString(16);
    if (group < 7) text += ':';
  }
  return text;
}

/**
 * Address text for decoded packets, one string per recently seen address. The
 * formatters build a new string per call, and V8 keeps those longer than 12
 * characters as ropes of the concatenated parts: per packet that was most of the
 * garbage of the whole analysis (bench/diagnosis.ts), and every string compare or
 * hash downstream (flow lookup, TTL baseline) walked the rope. The cache is
 * direct-mapped (a slot per hash of the address bytes, a collision replaces the
 * slot), so memory is bounded and a hit allocates nothing; the text returned is
 * always exactly what formatIpv4/formatIpv6 give for the bytes.
 */
export class AddressTextCache {
  /** A slot is the top `slotBits` bits of a multiplicative hash. */
  private readonly slotShift: number;
  private readonly ipv4Keys: Int32Array;
  private readonly ipv4Texts: Array<string | undefined>;
  /** Each IPv6 slot's 16 address bytes, as four 32-bit words. */
  private readonly ipv6Keys: Int32Array;
  private readonly ipv6Texts: Array<string | undefined>;

  /** `slotBits` (1 to 24): 2^slotBits slots per family. */
  constructor(slotBits = 16) {
    const slots = 1 << slotBits;
    this.slotShift = 32 - slotBits;
    this.ipv4Keys = new Int32Array(slots);
    this.ipv4Texts = new Array<string | undefined>(slots).fill(undefined);
    this.ipv6Keys = new Int32Array(slots * 4);
    this.ipv6Texts = new Array<string | undefined>(slots).fill(undefined);
  }

  /** formatIpv4(bytes, offset), shared. */
  ipv4(bytes: Uint8Array, offset: number): string {
    const key = readWord(bytes, offset);
    const slot = Math.imul(key, GOLDEN_RATIO_32) >>> this.slotShift;
    const known = this.ipv4Texts[slot];
    if (known !== undefined && this.ipv4Keys[slot] === key) return known;
    const text = flatString(formatIpv4(bytes, offset));
    this.ipv4Keys[slot] = key;
    this.ipv4Texts[slot] = text;
    return text;
  }

  /** formatIpv6(bytes, offset), shared. */
  ipv6(bytes: Uint8Array, offset: number): string {
    const w0 = readWord(bytes, offset);
    const w1 = readWord(bytes, offset + 4);
    const w2 = readWord(bytes, offset + 8);
    const w3 = readWord(bytes, offset + 12);
    let hash = Math.imul(w0, GOLDEN_RATIO_32) ^ w1;
    hash = Math.imul(hash, GOLDEN_RATIO_32) ^ w2;
    hash = Math.imul(hash, GOLDEN_RATIO_32) ^ w3;
    hash = Math.imul(hash, GOLDEN_RATIO_32);
    const slot = hash >>> this.slotShift;
    const keys = this.ipv6Keys;
    const at = slot * 4;
    const known = this.ipv6Texts[slot];
    if (known !== undefined && keys[at] === w0 && keys[at + 1] === w1 && keys[at + 2] === w2 && keys[at + 3] === w3) return known;
    const text = flatString(formatIpv6(bytes, offset));
    keys[at] = w0;
    keys[at + 1] = w1;
    keys[at + 2] = w2;
    keys[at + 3] = w3;
    this.ipv6Texts[slot] = text;
    return text;
  }
}

/** Knuth's multiplicative hash constant, 2^32 / φ. */
const GOLDEN_RATIO_32 = 0x9e3779b1 | 0;

function readWord(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
}

/** A flat copy of a string that V8 may hold as a rope of concatenated parts (address text is ASCII). */
function flatString(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** The decoders' cache: 64 Ki slots per family, a few MB at most. */
export const addressTexts = new AddressTextCache();

/** Parses dotted-quad IPv4 (no leading zeros, as `net.isIPv4` accepts) into 4 bytes; null when invalid. */
export function parseIpv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let octet = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e; // treat the end as a final '.'
    if (code === 0x2e) {
      if (digits === 0 || index > 3) return null;
      out[index++] = octet;
      octet = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && octet === 0) return null; // leading zero
      octet = octet * 10 + (code - 0x30);
      digits++;
      if (octet > 255) return null;
    } else {
      return null;
    }
  }
  return index === 4 ? out : null;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

/** Parses any RFC 4291 §2.2 IPv6 text form (with `::` and a trailing dotted IPv4) into 16 bytes; null when invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  const groups: number[] = [];
  let compressAt = -1;
  let i = 0;
  if (text.startsWith('::')) {
    compressAt = 0;
    i = 2;
    if (text.length === 2) return new Uint8Array(16);
  } else if (text.startsWith(':')) {
    return null;
  }
  while (i < text.length) {
    // A trailing dotted IPv4 takes the last two groups.
    let end = i;
    let hasDot = false;
    while (end < text.length && text.charCodeAt(end) !== 0x3a) {
      if (text.charCodeAt(end) === 0x2e) hasDot = true;
      end++;
    }
    if (hasDot) {
      if (end !== text.length) return null;
      const v4 = parseIpv4(text.slice(i, end));
      if (v4 === null) return null;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      i = end;
      break;
    }
    if (end === i || end - i > 4) return null;
    let value = 0;
    for (let j = i; j < end; j++) {
      const digit = hexValue(text.charCodeAt(j));
      if (digit < 0) return null;
      value = value * 16 + digit;
    }
    groups.push(value);
    i = end;
    if (i < text.length) {
      // at a ':'
      if (text.charCodeAt(i + 1) === 0x3a) {
        if (compressAt >= 0) return null;
        compressAt = groups.length;
        i += 2;
      } else {
        i += 1;
        if (i === text.length) return null; // trailing single ':'
      }
    }
    if (groups.length > 8) return null;
  }
  if (compressAt < 0 ? groups.length !== 8 : groups.length > 7) return null;
  const out = new Uint8Array(16);
  const tailCount = compressAt < 0 ? 0 : groups.length - compressAt;
  for (let g = 0; g < groups.length; g++) {
    const slot = compressAt >= 0 && g >= compressAt ? 8 - tailCount + (g - compressAt) : g;
    out[slot * 2] = groups[g] >> 8;
    out[slot * 2 + 1] = groups[g] & 0xff;
  }
  return out;
}

/** Parses IPv4 or IPv6 text; the result's length (4 or 16) tells the family. */
export function parseIpAddress(text: string): Uint8Array | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}
