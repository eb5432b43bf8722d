/**
 * A classic BPF interpreter for tests, following the kernel's semantics
 * (net/core/filter.c, Documentation/networking/filter.rst): 32-bit unsigned A and
 * X, 16 scratch words, a load outside the packet ends the program with 0, as does
 * division by zero. Ancillary loads read the given socket metadata.
 */
import { BpfCode as C, decodeProgram, SKF_AD_IFINDEX, SKF_AD_OFF, SKF_AD_PROTOCOL, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, type BpfInstruction } from '../../src/capture/bpf';

/** The skb metadata an AF_PACKET socket's filter can see through ancillary loads. */
export interface CbpfMetadata {
  /** skb->protocol, host order (0x0800, 0x86dd, 0x8100 …). */
  protocol: number;
  vlanTagPresent?: boolean;
  vlanTci?: number;
  /** skb->dev->ifindex. */
  ifindex?: number;
}

function ancillary(k: number, metadata: CbpfMetadata): number {
  switch (k - SKF_AD_OFF) {
    case SKF_AD_PROTOCOL:
      return metadata.protocol & 0xffff;
    case SKF_AD_VLAN_TAG:
      return (metadata.vlanTci ?? 0) & 0xffff;
    case SKF_AD_VLAN_TAG_PRESENT:
      return metadata.vlanTagPresent ? 1 : 0;
    case SKF_AD_IFINDEX:
      return metadata.ifindex ?? 0;
    default:
      throw new Error(`ancillary load ${k - SKF_AD_OFF} not supported by the test interpreter`);
  }
}

/** Reads `sizeBytes` big-endian at `offset`, or null when outside the packet. */
function load(packet: Uint8Array, offset: number, sizeBytes: number): number | null {
  if (offset < 0 || offset + sizeBytes > packet.length) return null;
  if (sizeBytes === 1) return packet[offset];
  if (sizeBytes === 2) return (packet[offset] << 8) | packet[offset + 1];
  return (packet[offset] * 0x1000000 + ((packet[offset + 1] << 16) | (packet[offset + 2] << 8) | packet[offset + 3])) >>> 0;
}

function sizeBytes(code: number): number {
  const size = C.sizeOf(code);
  return size === C.W ? 4 : size === C.H ? 2 : 1;
}

function alu(op: number, a: number, operand: number): number | null {
  switch (op) {
    case C.ALU_OPS.add: return (a + operand) >>> 0;
    case C.ALU_OPS.sub: return (a - operand) >>> 0;
    case C.ALU_OPS.mul: return Number((BigInt(a) * BigInt(operand)) & 0xffffffffn);
    case C.ALU_OPS.div: return operand === 0 ? null : Math.floor(a / operand) >>> 0;
    case C.ALU_OPS.mod: return operand === 0 ? null : (a % operand) >>> 0;
    case C.ALU_OPS.or: return (a | operand) >>> 0;
    case C.ALU_OPS.and: return (a & operand) >>> 0;
    case C.ALU_OPS.xor: return (a ^ operand) >>> 0;
    case C.ALU_OPS.lsh: return operand >= 32 ? 0 : (a << operand) >>> 0;
    case C.ALU_OPS.rsh: return operand >= 32 ? 0 : a >>> operand;
    case C.ALU_OPS.neg: return -a >>> 0;
    default: throw new Error(`ALU op 0x${op.toString(16)}`);
  }
}

/** Runs an encoded (Buffer) or assembled program on `packet`; returns the filter's verdict (bytes to keep, 0 = drop). */
export function runCbpf(program: Uint8Array | readonly BpfInstruction[], packet: Uint8Array, metadata: CbpfMetadata): number {
  const instructions = program instanceof Uint8Array ? decodeProgram(program) : program;
  const memory = new Uint32Array(16);
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < instructions.length; pc++) {
    const { code, jt, jf, k } = instructions[pc];
    switch (C.classOf(code)) {
      case C.LD: {
        const mode = C.modeOf(code);
        if (mode === C.IMM) a = k;
        else if (mode === C.LEN) a = packet.length;
        else if (mode === C.MEM) a = memory[k];
        else if (mode === C.ABS && k >= SKF_AD_OFF) a = ancillary(k, metadata);
        else if (mode === C.ABS || mode === C.IND) {
          const value = load(packet, mode === C.ABS ? k : x + k, sizeBytes(code));
          if (value === null) return 0;
          a = value;
        } else throw new Error(`ld mode 0x${mode.toString(16)}`);
        break;
      }
      case C.LDX: {
        const mode = C.modeOf(code);
        if (mode === C.IMM) x = k;
        else if (mode === C.LEN) x = packet.length;
        else if (mode === C.MEM) x = memory[k];
        else if (mode === C.MSH) {
          const value = load(packet, k, 1);
          if (value === null) return 0;
          x = (value & 0x0f) * 4;
        } else throw new Error(`ldx mode 0x${mode.toString(16)}`);
        break;
      }
      case C.ST:
        memory[k] = a;
        break;
      case C.STX:
        memory[k] = x;
        break;
      case C.ALU: {
        const result = alu(C.opOf(code), a, C.srcOf(code) === C.X ? x : k);
        if (result === null) return 0;
        a = result;
        break;
      }
      case C.JMP: {
        const op = C.opOf(code);
        if (op === C.JA) {
          pc += k;
          break;
        }
        const operand = C.srcOf(code) === C.X ? x : k;
        let taken: boolean;
        if (op === C.JEQ) taken = a === operand;
        else if (op === C.JGT) taken = a > operand;
        else if (op === C.JGE) taken = a >= operand;
        else if (op === C.JSET) taken = (a & operand) !== 0;
        else throw new Error(`jmp op 0x${op.toString(16)}`);
        pc += taken ? jt : jf;
        break;
      }
      case C.RET:
        return (code & 0x18) === C.A ? a : k;
      case C.MISC:
        if ((code & 0xf8) === C.TXA) a = x;
        else x = a;
        break;
      default:
        throw new Error(`instruction class of 0x${code.toString(16)}`);
    }
  }
  throw new Error('program ran off its end');
}
