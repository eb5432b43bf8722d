/**
 * Classic BPF (linux/filter.h, Documentation/networking/filter.rst): a tiny
 * assembler with symbolic labels, and the two kernel filters of live capture.
 *
 * The capture socket is AF_PACKET/SOCK_DGRAM, so packet data starts at the network
 * header and the EtherType is only available through the ancillary load
 * SKF_AD_PROTOCOL. When the kernel did not strip a VLAN tag (no offload, or the
 * inner tag of QinQ), the protocol is the tag's TPID and the data starts with the
 * tag's remainder [TCI(2), inner EtherType(2)] — the filters follow up to two such
 * tags. The same layout is what `decodeNetwork` (src/decode/decode.ts) reads.
 */
import { endianness } from 'node:os';

// ---------- instruction encoding (include/uapi/linux/bpf_common.h) ----------

const BPF_LD = 0x00;
const BPF_LDX = 0x01;
const BPF_ST = 0x02;
const BPF_STX = 0x03;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;

const BPF_W = 0x00;
const BPF_H = 0x08;
const BPF_B = 0x10;

const BPF_IMM = 0x00;
const BPF_ABS = 0x20;
const BPF_IND = 0x40;
const BPF_MEM = 0x60;
const BPF_LEN = 0x80;
const BPF_MSH = 0xa0;

const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_A = 0x10; // return source: the accumulator

const BPF_JA = 0x00;
const BPF_JEQ = 0x10;
const BPF_JGT = 0x20;
const BPF_JGE = 0x30;
const BPF_JSET = 0x40;

const BPF_TAX = 0x00;
const BPF_TXA = 0x80;

const AluOp = { add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70, neg: 0x80, mod: 0x90, xor: 0xa0 } as const;
export type AluOpName = keyof typeof AluOp;

/** Ancillary loads: `ld[h] [SKF_AD_OFF + n]` reads skb metadata instead of packet bytes (linux/filter.h). */
export const SKF_AD_OFF = 0xfffff000; // -0x1000 as u32
export const SKF_AD_PROTOCOL = 0;
export const SKF_AD_IFINDEX = 8;
export const SKF_AD_VLAN_TAG = 44;
export const SKF_AD_VLAN_TAG_PRESENT = 48;

/** BPF_MAXINSNS (include/uapi/linux/bpf_common.h). */
export const BPF_MAX_INSTRUCTIONS = 4096;
/** BPF_MEMWORDS: scratch memory slots M[0..15]. */
export const BPF_MEMORY_WORDS = 16;
export const INSTRUCTION_BYTES = 8;
/** jt/jf are 8-bit forward offsets. */
const MAX_CONDITIONAL_JUMP = 255;

/** An assembled instruction, as the kernel's struct sock_filter. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A source instruction; jump targets are label names, or null for the next instruction. */
export interface SourceInstruction {
  code: number;
  k: number;
  jt: string | null;
  jf: string | null;
}
export interface LabelMark {
  label: string;
}
export type ProgramItem = SourceInstruction | LabelMark;

function insn(code: number, k = 0, jt: string | null = null, jf: string | null = null): SourceInstruction {
  return { code, k: k >>> 0, jt, jf };
}

const SIZE = { w: BPF_W, h: BPF_H, b: BPF_B } as const;
type Size = keyof typeof SIZE;

/** Instruction constructors, named after the bpf_asm mnemonics. */
export const bpf = {
  label: (name: string): LabelMark => ({ label: name }),
  /** A = packet[k] (size w/h/b), or ancillary data for k ≥ SKF_AD_OFF. */
  ldAbs: (size: Size, k: number) => insn(BPF_LD | SIZE[size] | BPF_ABS, k),
  /** A = packet[X + k]. */
  ldInd: (size: Size, k: number) => insn(BPF_LD | SIZE[size] | BPF_IND, k),
  ldImm: (k: number) => insn(BPF_LD | BPF_W | BPF_IMM, k),
  ldLen: () => insn(BPF_LD | BPF_W | BPF_LEN),
  ldMem: (slot: number) => insn(BPF_LD | BPF_MEM, slot),
  ldxImm: (k: number) => insn(BPF_LDX | BPF_W | BPF_IMM, k),
  ldxMem: (slot: number) => insn(BPF_LDX | BPF_MEM, slot),
  ldxLen: () => insn(BPF_LDX | BPF_W | BPF_LEN),
  /** X = 4 * (packet[k] & 0xf): the IPv4 header length. */
  ldxMsh: (k: number) => insn(BPF_LDX | BPF_B | BPF_MSH, k),
  st: (slot: number) => insn(BPF_ST, slot),
  stx: (slot: number) => insn(BPF_STX, slot),
  alu: (op: AluOpName, k: number) => insn(BPF_ALU | AluOp[op] | BPF_K, k),
  aluX: (op: AluOpName) => insn(BPF_ALU | AluOp[op] | BPF_X),
  ja: (target: string) => insn(BPF_JMP | BPF_JA, 0, target),
  jeq: (k: number, jt: string | null, jf: string | null = null) => insn(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf),
  jgt: (k: number, jt: string | null, jf: string | null = null) => insn(BPF_JMP | BPF_JGT | BPF_K, k, jt, jf),
  jge: (k: number, jt: string | null, jf: string | null = null) => insn(BPF_JMP | BPF_JGE | BPF_K, k, jt, jf),
  jset: (k: number, jt: string | null, jf: string | null = null) => insn(BPF_JMP | BPF_JSET | BPF_K, k, jt, jf),
  retK: (k: number) => insn(BPF_RET | BPF_K, k),
  retA: () => insn(BPF_RET | BPF_A),
  tax: () => insn(BPF_MISC | BPF_TAX),
  txa: () => insn(BPF_MISC | BPF_TXA),
};

/** Exported for the test interpreter: the field layout of an opcode. */
export const BpfCode = {
  classOf: (code: number) => code & 0x07,
  sizeOf: (code: number) => code & 0x18,
  modeOf: (code: number) => code & 0xe0,
  opOf: (code: number) => code & 0xf0,
  srcOf: (code: number) => code & 0x08,
  LD: BPF_LD, LDX: BPF_LDX, ST: BPF_ST, STX: BPF_STX, ALU: BPF_ALU, JMP: BPF_JMP, RET: BPF_RET, MISC: BPF_MISC,
  W: BPF_W, H: BPF_H, B: BPF_B,
  IMM: BPF_IMM, ABS: BPF_ABS, IND: BPF_IND, MEM: BPF_MEM, LEN: BPF_LEN, MSH: BPF_MSH,
  K: BPF_K, X: BPF_X, A: BPF_A,
  JA: BPF_JA, JEQ: BPF_JEQ, JGT: BPF_JGT, JGE: BPF_JGE, JSET: BPF_JSET,
  TAX: BPF_TAX, TXA: BPF_TXA,
  ALU_OPS: AluOp,
} as const;

/**
 * Resolves labels to jump offsets. Throws (RangeError) on what the kernel's checker
 * (bpf_check_classic, net/core/filter.c) would refuse: unknown or duplicate labels,
 * backward jumps, conditional jumps over 255, jumps past the end, more than 4096
 * instructions, a program that does not end with `ret`.
 */
export function assemble(program: readonly ProgramItem[]): BpfInstruction[] {
  const labels = new Map<string, number>();
  let count = 0;
  for (const item of program) {
    if ('label' in item) {
      if (labels.has(item.label)) throw new RangeError(`duplicate label ${item.label}`);
      labels.set(item.label, count);
    } else {
      count++;
    }
  }
  if (count === 0 || count > BPF_MAX_INSTRUCTIONS) throw new RangeError(`program has ${count} instructions (1..${BPF_MAX_INSTRUCTIONS})`);
  const out: BpfInstruction[] = [];
  const offsetTo = (target: string | null, from: number, max: number): number => {
    if (target === null) return 0;
    const at = labels.get(target);
    if (at === undefined) throw new RangeError(`unknown label ${target}`);
    const offset = at - from - 1;
    if (offset < 0) throw new RangeError(`backward jump to ${target} at instruction ${from}`);
    if (offset > max) throw new RangeError(`jump to ${target} at instruction ${from} is ${offset} long (max ${max})`);
    if (at >= count) throw new RangeError(`jump to ${target} points past the end`);
    return offset;
  };
  for (const item of program) {
    if ('label' in item) continue;
    const index = out.length;
    const isJump = (item.code & 0x07) === BPF_JMP;
    if (isJump && (item.code & 0xf0) === BPF_JA) {
      out.push({ code: item.code, jt: 0, jf: 0, k: offsetTo(item.jt, index, BPF_MAX_INSTRUCTIONS) });
    } else if (isJump) {
      out.push({ code: item.code, jt: offsetTo(item.jt, index, MAX_CONDITIONAL_JUMP), jf: offsetTo(item.jf, index, MAX_CONDITIONAL_JUMP), k: item.k });
    } else {
      out.push({ code: item.code, jt: 0, jf: 0, k: item.k });
    }
  }
  if ((out[out.length - 1].code & 0x07) !== BPF_RET) throw new RangeError('program does not end with ret');
  return out;
}

/** struct sock_filter[] in host byte order: u16 code, u8 jt, u8 jf, u32 k per instruction. */
export function encodeProgram(program: readonly ProgramItem[] | readonly BpfInstruction[]): Buffer {
  const instructions = program.length > 0 && 'jt' in program[0] && typeof program[0].jt === 'number'
    ? (program as readonly BpfInstruction[])
    : assemble(program as readonly ProgramItem[]);
  const bytes = Buffer.alloc(instructions.length * INSTRUCTION_BYTES);
  const littleEndian = endianness() === 'LE';
  instructions.forEach((ins, i) => {
    const at = i * INSTRUCTION_BYTES;
    if (littleEndian) bytes.writeUInt16LE(ins.code, at);
    else bytes.writeUInt16BE(ins.code, at);
    bytes.writeUInt8(ins.jt, at + 2);
    bytes.writeUInt8(ins.jf, at + 3);
    if (littleEndian) bytes.writeUInt32LE(ins.k >>> 0, at + 4);
    else bytes.writeUInt32BE(ins.k >>> 0, at + 4);
  });
  return bytes;
}

/** The brief's name for `encodeProgram`. */
export const encode = encodeProgram;

/** Inverse of `encodeProgram` (host byte order). */
export function decodeProgram(bytes: Uint8Array): BpfInstruction[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const littleEndian = endianness() === 'LE';
  const out: BpfInstruction[] = [];
  for (let at = 0; at + INSTRUCTION_BYTES <= buffer.length; at += INSTRUCTION_BYTES) {
    out.push({
      code: littleEndian ? buffer.readUInt16LE(at) : buffer.readUInt16BE(at),
      jt: buffer[at + 2],
      jf: buffer[at + 3],
      k: littleEndian ? buffer.readUInt32LE(at + 4) : buffer.readUInt32BE(at + 4),
    });
  }
  return out;
}

// ---------- the capture filters ----------

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the legacy QinQ TPID, as `isVlanTpid` in src/decode/link.ts. */
const VLAN_TPIDS = [0x8100, 0x88a8, 0x9100];
const VLAN_REMAINDER_BYTES = 4; // TCI, inner EtherType
/** Tags followed in the data; more are dropped (the kernel strips the outer one when it can). */
const MAX_VLAN_REMAINDERS = 2;

const IP_PROTOCOL_TCP = 6;
const IP_PROTOCOL_ICMP = 1;
const IP_PROTOCOL_ICMPV6 = 58;
const IPV4_FLAGS_FRAGMENT_FIELD = 6; // u16: flags(3) fragment offset(13)
const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;
const IPV4_PROTOCOL_FIELD = 9;
const IPV6_NEXT_HEADER_FIELD = 6;
const IPV6_HEADER_BYTES = 40;
const IPV6_FRAGMENT_OFFSET_MASK = 0xfff8;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DESTINATION_OPTIONS = 60;
/**
 * Extension headers walked in the kernel. A longer chain is accepted whole and
 * left to the JavaScript decoder (a chain this long is rare and suspicious).
 */
export const MAX_IPV6_EXTENSION_HEADERS = 6;

const TCP_FLAGS_FIELD = 13;
const TCP_DATA_OFFSET_FIELD = 12;
const TCP_FIN_SYN_RST = 0x01 | 0x02 | 0x04;
/** ICMPv4 type 3 code 4, "fragmentation needed and DF set" (RFC 1191 §4), as one halfword. */
const ICMPV4_FRAG_NEEDED_TYPE_CODE = 0x0304;
/** ICMPv6 type 2, packet too big (RFC 4443 §3.2). */
const ICMPV6_PACKET_TOO_BIG = 2;

const SCRATCH_NEXT_HEADER = 0;

/** What a filter does once it found the transport header. */
interface FilterActions {
  /**
   * Emits the code for a TCP header found at X + `fieldBase` (IPv4: X is the IP
   * header length and `fieldBase` its start; IPv6: X is the absolute offset, `fieldBase` 0).
   * The code must end in `ret`; labels must be prefixed with `prefix`.
   */
  tcp(prefix: string, fieldBase: number): ProgramItem[];
  /** Accepting return value of ICMP frag-needed / packet-too-big. */
  icmpSnapBytes: number;
  /** Return value for an IPv6 extension-header chain longer than the walk. */
  deepChainBytes: number;
}

function ipv4Block(prefix: string, base: number, actions: FilterActions): ProgramItem[] {
  return [
    bpf.label(`${prefix}`),
    bpf.ldAbs('b', base + IPV4_PROTOCOL_FIELD),
    bpf.jeq(IP_PROTOCOL_TCP, `${prefix}_tcp`),
    bpf.jeq(IP_PROTOCOL_ICMP, `${prefix}_icmp`, `${prefix}_drop`),
    // Only a first fragment (offset 0) carries the transport header.
    bpf.label(`${prefix}_tcp`),
    bpf.ldAbs('h', base + IPV4_FLAGS_FRAGMENT_FIELD),
    bpf.jset(IPV4_FRAGMENT_OFFSET_MASK, `${prefix}_drop`),
    bpf.ldxMsh(base),
    ...actions.tcp(`${prefix}_t`, base),
    bpf.label(`${prefix}_icmp`),
    bpf.ldAbs('h', base + IPV4_FLAGS_FRAGMENT_FIELD),
    bpf.jset(IPV4_FRAGMENT_OFFSET_MASK, `${prefix}_drop`),
    bpf.ldxMsh(base),
    bpf.ldInd('h', base),
    bpf.jeq(ICMPV4_FRAG_NEEDED_TYPE_CODE, `${prefix}_accept`, `${prefix}_drop`),
    bpf.label(`${prefix}_accept`),
    bpf.retK(actions.icmpSnapBytes),
    bpf.label(`${prefix}_drop`),
    bpf.retK(0),
  ];
}

/**
 * One step of the IPv6 header walk: A holds a header type, X its absolute offset.
 * TCP and ICMPv6 jump to the shared handlers; an extension header is stepped over
 * (RFC 8200 §4: 8-octet units not counting the first 8; AH, RFC 4302 §2.2: 4-octet
 * units minus 2; fragment header 8 bytes, and a non-first fragment is dropped).
 */
function ipv6WalkStep(prefix: string, step: number, actions: FilterActions): ProgramItem[] {
  const here = `${prefix}_s${step}`;
  const next = `${prefix}_s${step + 1}`;
  const dispatch: ProgramItem[] = [
    bpf.label(here),
    bpf.jeq(IP_PROTOCOL_TCP, `${here}_to_tcp`),
    bpf.jeq(IP_PROTOCOL_ICMPV6, `${here}_to_icmp`),
  ];
  if (step === MAX_IPV6_EXTENSION_HEADERS) {
    return [
      ...dispatch,
      bpf.jeq(IPV6_HOP_BY_HOP, `${here}_deep`),
      bpf.jeq(IPV6_ROUTING, `${here}_deep`),
      bpf.jeq(IPV6_FRAGMENT, `${here}_deep`),
      bpf.jeq(IPV6_AH, `${here}_deep`),
      bpf.jeq(IPV6_DESTINATION_OPTIONS, `${here}_deep`, `${here}_drop`),
      bpf.label(`${here}_deep`),
      bpf.retK(actions.deepChainBytes),
      bpf.label(`${here}_drop`),
      bpf.retK(0),
      bpf.label(`${here}_to_tcp`),
      bpf.ja(`${prefix}_tcp`),
      bpf.label(`${here}_to_icmp`),
      bpf.ja(`${prefix}_icmp`),
    ];
  }
  return [
    ...dispatch,
    bpf.jeq(IPV6_FRAGMENT, `${here}_fragment`),
    bpf.jeq(IPV6_AH, `${here}_ah`),
    bpf.jeq(IPV6_HOP_BY_HOP, `${here}_options`),
    bpf.jeq(IPV6_ROUTING, `${here}_options`),
    bpf.jeq(IPV6_DESTINATION_OPTIONS, `${here}_options`, `${here}_drop`),
    bpf.label(`${here}_options`),
    bpf.ldInd('b', 0),
    bpf.st(SCRATCH_NEXT_HEADER),
    bpf.ldInd('b', 1),
    bpf.alu('add', 1),
    bpf.alu('lsh', 3),
    bpf.aluX('add'),
    bpf.tax(),
    bpf.ldMem(SCRATCH_NEXT_HEADER),
    bpf.ja(next),
    bpf.label(`${here}_ah`),
    bpf.ldInd('b', 0),
    bpf.st(SCRATCH_NEXT_HEADER),
    bpf.ldInd('b', 1),
    bpf.alu('add', 2),
    bpf.alu('lsh', 2),
    bpf.aluX('add'),
    bpf.tax(),
    bpf.ldMem(SCRATCH_NEXT_HEADER),
    bpf.ja(next),
    bpf.label(`${here}_fragment`),
    bpf.ldInd('h', 2),
    bpf.jset(IPV6_FRAGMENT_OFFSET_MASK, `${here}_drop`),
    bpf.ldInd('b', 0),
    bpf.st(SCRATCH_NEXT_HEADER),
    bpf.txa(),
    bpf.alu('add', 8),
    bpf.tax(),
    bpf.ldMem(SCRATCH_NEXT_HEADER),
    bpf.ja(next),
    bpf.label(`${here}_drop`),
    bpf.retK(0),
    bpf.label(`${here}_to_tcp`),
    bpf.ja(`${prefix}_tcp`),
    bpf.label(`${here}_to_icmp`),
    bpf.ja(`${prefix}_icmp`),
  ];
}

function ipv6Block(prefix: string, base: number, actions: FilterActions): ProgramItem[] {
  const items: ProgramItem[] = [
    bpf.label(prefix),
    bpf.ldxImm(base + IPV6_HEADER_BYTES),
    bpf.ldAbs('b', base + IPV6_NEXT_HEADER_FIELD),
  ];
  for (let step = 0; step <= MAX_IPV6_EXTENSION_HEADERS; step++) items.push(...ipv6WalkStep(prefix, step, actions));
  items.push(
    bpf.label(`${prefix}_tcp`),
    ...actions.tcp(`${prefix}_t`, 0),
    bpf.label(`${prefix}_icmp`),
    bpf.ldInd('b', 0),
    bpf.jeq(ICMPV6_PACKET_TOO_BIG, `${prefix}_accept`, `${prefix}_drop`),
    bpf.label(`${prefix}_accept`),
    bpf.retK(actions.icmpSnapBytes),
    bpf.label(`${prefix}_drop`),
    bpf.retK(0),
  );
  return items;
}

/** `jeq #k, target` for a target further than a conditional jump reaches. */
function farJeq(k: number, target: string, skipLabel: string): ProgramItem[] {
  return [bpf.jeq(k, null, skipLabel), bpf.ja(target), bpf.label(skipLabel)];
}

/** The whole program: EtherType dispatch (with VLAN remainders) into per-offset IPv4/IPv6 blocks. */
function buildFilter(actions: FilterActions): ProgramItem[] {
  const items: ProgramItem[] = [bpf.ldAbs('h', SKF_AD_OFF + SKF_AD_PROTOCOL)];
  const blocks: ProgramItem[] = [];
  for (let tags = 0; tags <= MAX_VLAN_REMAINDERS; tags++) {
    const base = tags * VLAN_REMAINDER_BYTES;
    if (tags > 0) items.push(bpf.label(`vlan${tags}`), bpf.ldAbs('h', base - 2)); // the inner EtherType
    items.push(...farJeq(ETHERTYPE_IPV4, `ipv4_at${base}`, `not_ipv4_at${base}`));
    items.push(...farJeq(ETHERTYPE_IPV6, `ipv6_at${base}`, `not_ipv6_at${base}`));
    if (tags < MAX_VLAN_REMAINDERS) {
      for (const tpid of VLAN_TPIDS) items.push(bpf.jeq(tpid, `vlan${tags + 1}`));
    }
    items.push(bpf.retK(0));
    blocks.push(...ipv4Block(`ipv4_at${base}`, base, actions), ...ipv6Block(`ipv6_at${base}`, base, actions));
  }
  return [...items, ...blocks];
}

export interface ControlFilterOptions {
  /** Bytes kept of an accepted packet (headers plus what an ICMP error quotes), e.g. 512. */
  snapBytes: number;
}

/**
 * Accepts TCP segments with RST, SYN or FIN, ICMPv4 fragmentation-needed and
 * ICMPv6 packet-too-big, cut to `snapBytes`; drops everything else. IPv4
 * non-first fragments are dropped (no TCP header); IPv6 extension headers are
 * walked (up to MAX_IPV6_EXTENSION_HEADERS, longer chains are accepted for the decoder).
 */
export function controlFilter(options: ControlFilterOptions): ProgramItem[] {
  const snapBytes = options.snapBytes;
  return buildFilter({
    icmpSnapBytes: snapBytes,
    deepChainBytes: snapBytes,
    tcp: (prefix, fieldBase) => [
      bpf.ldInd('b', fieldBase + TCP_FLAGS_FIELD),
      bpf.jset(TCP_FIN_SYN_RST, `${prefix}_accept`, `${prefix}_drop`),
      bpf.label(`${prefix}_accept`),
      bpf.retK(snapBytes),
      bpf.label(`${prefix}_drop`),
      bpf.retK(0),
    ],
  });
}

export interface HeadersFilterOptions {
  /** Upper bound of what a TCP segment keeps; also kept of IPv6 packets whose extension chain is too long to walk. */
  maxHeaderBytes: number;
  /** Bytes kept of ICMP frag-needed / packet-too-big; default 512. */
  snapBytes?: number;
}

/**
 * Accepts every TCP segment that carries a TCP header, cut to exactly the bytes up
 * to the end of the TCP header (VLAN remainders + IP header + options/extension
 * headers + TCP header with options; at most `maxHeaderBytes`), and the same ICMP
 * errors as `controlFilter`, cut to `snapBytes`.
 */
export function headersFilter(options: HeadersFilterOptions): ProgramItem[] {
  const maxHeaderBytes = options.maxHeaderBytes;
  return buildFilter({
    icmpSnapBytes: options.snapBytes ?? 512,
    deepChainBytes: maxHeaderBytes,
    tcp: (prefix, fieldBase) => [
      // A = 4 * data offset (the high nibble of byte 12) + where the TCP header starts.
      bpf.ldInd('b', fieldBase + TCP_DATA_OFFSET_FIELD),
      bpf.alu('and', 0xf0),
      bpf.alu('rsh', 2),
      bpf.aluX('add'),
      bpf.alu('add', fieldBase),
      bpf.jgt(maxHeaderBytes, `${prefix}_cap`),
      bpf.retA(),
      bpf.label(`${prefix}_cap`),
      bpf.retK(maxHeaderBytes),
    ],
  });
}
