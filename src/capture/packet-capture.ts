import { EventEmitter } from 'node:events';
import { CaptureError, PrivilegeError, errnoCode } from '../common/errors';
import type { Logger } from '../common/log';
import { decodeNetwork } from '../decode/decode';
import type { DecodeError } from '../decode/types';
import { controlFilter, encodeProgram, headersFilter, type ProgramItem } from './bpf';
import { DuplicateFilter, ipHeaderOffset, packetIdentity } from './dedup';
import { interfaceMatcher, listInterfaces, MAX_FILTERED_INTERFACES, restrictToInterfaces } from './interface-filter';
import { FrameCursor, forEachRecord, loadNativeBinding } from './native';
import type { NativeBinding, PacketRing, PacketRingStats } from './native-binding';
import type { PacketObservation } from './observation';
import { STORM_BURST, STORM_MAX_CLASSES, STORM_RATE_PER_SECOND, resetClassKey, type StormClassCount } from './storm-guard';

/** control: only RST/SYN/FIN and ICMP too-big errors; headers: every TCP segment, cut to its headers. */
export type CaptureMode = 'control' | 'headers';

export interface PacketCaptureOptions {
  /** 'any', or interface names and patterns (`eth0`, `veth*`). */
  interfaces: 'any' | string[];
  mode: CaptureMode;
  log: Logger;
  binding?: NativeBinding;
  /** Ring geometry: 32 blocks of 1 MiB hold ~0.25 s of a 500k packets/s storm of small frames (~128 bytes a slot). */
  blockBytes?: number;
  blockCount?: number;
  blockTimeoutMs?: number;
  /** How often new or removed interfaces are looked for when capturing named ones. */
  interfaceScanMs?: number;
}

export interface PacketCaptureCounters {
  frames: number;
  /** RSTs the storm guard counted without delivering (drained so far). */
  stormSuppressed: number;
  duplicates: number;
  decodeErrors: number;
  kernel: PacketRingStats;
}

/** The loopback interface is always ifindex 1 in a network namespace (net/core/dev.c). */
const LOOPBACK_IFINDEX = 1;

/** Bytes kept of a control packet: headers plus what an ICMP error quotes. */
const CONTROL_SNAP_BYTES = 512;
/** Upper bound of IP + TCP headers (60 + 60, IPv6 with extension headers a bit more). */
const HEADERS_SNAP_BYTES = 192;

/**
 * Live capture: the native ring, the kernel filter for the mode, decoding and the
 * removal of duplicate copies. Emits 'packet' (PacketObservation), 'decode-error'
 * (DecodeError) and 'error' (CaptureError, after which the capture is stopped).
 */
export class PacketCapture extends EventEmitter {
  readonly name = 'capture';
  private ring: PacketRing | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private capturedIfindexes = '';
  private readonly dedup = new DuplicateFilter();
  private readonly cursor = new FrameCursor();
  /** Counts taken from the ring as it closed, for the last drain. */
  private lastStormCounts: Float64Array = new Float64Array(0);
  /**
   * One packet is seen twice only across two interfaces (forwarded) or on loopback
   * (out and in); a capture of one other interface skips the duplicate check.
   */
  private dedupNeeded = true;
  private readonly baseFilter: ProgramItem[];
  readonly counters: PacketCaptureCounters = {
    frames: 0,
    stormSuppressed: 0,
    duplicates: 0,
    decodeErrors: 0,
    kernel: { packets: 0, drops: 0, freezes: 0 },
  };

  constructor(private readonly options: PacketCaptureOptions) {
    super();
    this.baseFilter =
      options.mode === 'control'
        ? controlFilter({ snapBytes: CONTROL_SNAP_BYTES })
        : headersFilter({ maxHeaderBytes: HEADERS_SNAP_BYTES, snapBytes: CONTROL_SNAP_BYTES });
  }

  get running(): boolean {
    return this.ring !== null;
  }

  async start(signal?: AbortSignal): Promise<void> {
    const binding = this.options.binding ?? loadNativeBinding();
    const filter = this.options.interfaces === 'any' ? encodeProgram(this.baseFilter) : this.filterForNamedInterfaces(true);
    let ring: PacketRing;
    try {
      ring = binding.openPacketRing({
        ifindex: 0,
        filter,
        blockBytes: this.options.blockBytes ?? 1 << 20,
        blockCount: this.options.blockCount ?? 32,
        blockTimeoutMs: this.options.blockTimeoutMs ?? 20,
        // Frames are decoded into fresh objects during the batch; nothing keeps a view.
        reuseBatchBuffer: true,
        // In a storm the addon counts RSTs past the budget without copying them to us.
        stormGuard: { ratePerSecond: STORM_RATE_PER_SECOND, burst: STORM_BURST, maxClasses: STORM_MAX_CLASSES },
      });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EPERM' || code === 'EACCES') {
        throw new PrivilegeError(
          'packet capture needs CAP_NET_RAW: run as root, or grant the capability (securityContext.capabilities.add: ["NET_RAW"])',
          { cause: err },
        );
      }
      throw new CaptureError(`cannot open the packet capture: ${(err as Error).message}`, { cause: err });
    }
    this.ring = ring;
    ring.start(
      (batch, frameCount) => this.onBatch(batch, frameCount),
      (err) => this.fail(err),
    );
    if (this.options.interfaces !== 'any') {
      this.scanTimer = setInterval(() => this.rescanInterfaces(), this.options.interfaceScanMs ?? 2_000);
      this.scanTimer.unref();
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.options.log.info({ interfaces: this.options.interfaces, mode: this.options.mode }, 'capture started');
  }

  async stop(): Promise<void> {
    if (this.scanTimer !== null) clearInterval(this.scanTimer);
    this.scanTimer = null;
    if (this.ring !== null) {
      this.readKernelStats();
      this.lastStormCounts = this.ring.stormCounts();
      this.ring.close();
      this.ring = null;
    }
  }

  /**
   * RSTs the storm guard counted without delivering them since the last call,
   * per (source, destination) class; the analyzer adds them to the class's finding.
   */
  drainStormCounts(): StormClassCount[] {
    const flat = this.ring?.stormCounts() ?? this.lastStormCounts;
    this.lastStormCounts = new Float64Array(0);
    const counts: StormClassCount[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      counts.push({ classKey: flat[i], count: flat[i + 1], firstMs: flat[i + 2], lastMs: flat[i + 3] });
      this.counters.stormSuppressed += flat[i + 1];
    }
    return counts;
  }

  /** Reads the kernel's counters (they reset on read, so the ring accumulates them). */
  readKernelStats(): PacketRingStats {
    if (this.ring !== null) this.counters.kernel = this.ring.stats();
    return this.counters.kernel;
  }

  private onBatch(batch: Buffer, frameCount: number): void {
    forEachRecord(batch, frameCount, this.visitFrame, this.cursor);
  }

  /** Per frame, cheapest checks first: duplicates on raw bytes, then decoding. The addon's storm guard ran before. */
  private readonly visitFrame = (frame: FrameCursor): void => {
    this.counters.frames++;
    const { batch, dataOffset } = frame;
    const end = dataOffset + frame.capturedBytes;
    const ipOffset = ipHeaderOffset(frame.protocol, batch, dataOffset, end);
    let stormClass = -1;
    let identity = -1;
    if (ipOffset >= 0) {
      stormClass = resetClassKey(batch, ipOffset, end);
      if (this.dedupNeeded) {
        identity = packetIdentity(batch, ipOffset, end);
        const ttl = batch[ipOffset] >> 4 === 4 ? batch[ipOffset + 8] : batch[ipOffset + 7];
        if (identity >= 0 && this.dedup.duplicateOf(identity, frame.timeMs, ttl) !== null) {
          this.counters.duplicates++;
          return;
        }
      }
    }
    const bytes = frame.bytes;
    const result = decodeNetwork(frame.protocol, bytes);
    if (!result.ok) {
      this.counters.decodeErrors++;
      this.emit('decode-error', result.error satisfies DecodeError);
      return;
    }
    const observation: PacketObservation = {
      timeMs: frame.timeMs,
      ifindex: frame.ifindex,
      pktType: frame.pktType,
      packet: result.packet,
      frame: ipOffset >= 0 ? bytes : undefined,
      frameIpOffset: ipOffset - dataOffset,
    };
    if (stormClass >= 0) observation.stormClass = stormClass;
    if (identity >= 0) this.dedup.remember(identity, observation);
    this.emit('packet', observation);
    // The batch is reused: nothing may read these bytes once the listeners have run.
    observation.frame = undefined;
  };

  private fail(err: Error): void {
    void this.stop();
    this.emit('error', new CaptureError(`packet capture stopped: ${err.message}`, { cause: err }));
  }

  private filterForNamedInterfaces(initial: boolean): Buffer {
    const matches = interfaceMatcher(this.options.interfaces as string[]);
    const ifindexes = [...listInterfaces()]
      .filter(([name]) => matches(name))
      .map(([, ifindex]) => ifindex)
      .sort((a, b) => a - b)
      .slice(0, MAX_FILTERED_INTERFACES);
    if (initial && ifindexes.length === 0) {
      this.options.log.warn({ interfaces: this.options.interfaces }, 'no interface matches --interfaces yet; waiting for one to appear');
    }
    this.capturedIfindexes = ifindexes.join(',');
    this.dedupNeeded = ifindexes.length !== 1 || ifindexes[0] === LOOPBACK_IFINDEX;
    return encodeProgram(restrictToInterfaces(this.baseFilter, ifindexes));
  }

  private rescanInterfaces(): void {
    if (this.ring === null) return;
    const before = this.capturedIfindexes;
    const filter = this.filterForNamedInterfaces(false);
    if (this.capturedIfindexes === before) return;
    try {
      this.ring.setFilter(filter);
      this.options.log.info({ ifindexes: this.capturedIfindexes }, 'captured interfaces changed');
    } catch (err) {
      this.options.log.error({ err }, 'could not update the interface filter');
    }
  }
}
