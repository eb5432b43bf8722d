/**
 * The contract of the native addon (native/src). The addon is thin: it opens
 * sockets and files, attaches a classic BPF program and hands batches of bytes to
 * JavaScript from a libuv poll handle. Everything else lives in TypeScript.
 *
 * Failures: every method throws an `Error` whose `code` is the errno name
 * (`EPERM`, `ENODEV`, …) and whose `syscall` names the failing call, or a
 * `TypeError` naming the bad argument. Nothing throws strings.
 */

/** Size in bytes of the per-frame record header inside a batch buffer. */
export const FRAME_RECORD_HEADER_BYTES = 40;

/**
 * Layout of one frame record in a batch (little-endian). Records follow each other;
 * `recordBytes` (header + captured bytes, padded to 8) gives the next record's offset.
 *
 *  off size field
 *   0  u32  recordBytes
 *   4  u32  capturedBytes   bytes of the frame present after the header
 *   8  u32  wireBytes       length of the packet on the wire
 *  12  u32  timestampSec    CLOCK_REALTIME, from tpacket3_hdr
 *  16  u32  timestampNsec
 *  20  i32  ifindex         sockaddr_ll.sll_ifindex
 *  24  u16  protocol        sockaddr_ll.sll_protocol in host order (0x0800, 0x86dd, …)
 *  26  u8   pktType         PACKET_HOST=0 … PACKET_OUTGOING=4 (linux/if_packet.h)
 *  27  u8   flags           bit 0: vlanTci valid (TP_STATUS_VLAN_VALID)
 *  28  u16  vlanTci
 *  30  u16  vlanTpid
 *  32  u16  hatype          sockaddr_ll.sll_hatype (ARPHRD_*)
 *  34  6    reserved (zero)
 *  40  …    frame bytes, starting at the network header (the socket is SOCK_DGRAM)
 */
export interface FrameRecordLayout {
  readonly headerBytes: typeof FRAME_RECORD_HEADER_BYTES;
}

export interface PacketRingOptions {
  /** Interface index to bind to; 0 captures every interface of the network namespace, including ones created later. */
  ifindex: number;
  /** Classic BPF program: 8 bytes per instruction (u16 code, u8 jt, u8 jf, u32 k, host order). */
  filter: Buffer;
  /** TPACKET_V3 block size; a power of two, multiple of the page size, at most 1 GiB. */
  blockBytes: number;
  /** Number of blocks in the ring, 1 to 65536. */
  blockCount: number;
  /** tp_retire_blk_tov: a partly filled block is handed over after this many ms (1 to 60000). */
  blockTimeoutMs: number;
  /**
   * Copy every batch into one reused Buffer instead of a new one per batch. The
   * batch (and every view into it) is then valid only during `onBatch`: copy what
   * you keep. Saves an allocation and GC work per batch in a storm. Default false.
   */
  reuseBatchBuffer?: boolean;
  /**
   * Count TCP RSTs past a per-class token bucket in the addon instead of
   * delivering them (see StormGuard in src/capture/storm-guard.ts, whose class
   * key and bucket this follows exactly); read the counts with `stormCounts`.
   * Integers: ratePerSecond and burst 1 to 1e6, maxClasses 1 to 1e7.
   */
  stormGuard?: { ratePerSecond: number; burst: number; maxClasses: number };
}

export interface PacketRingStats {
  /**
   * Packets that passed the filter, cumulative since open, including the ones then
   * dropped (the kernel's tp_packets for TPACKET_V3 adds tp_drops): delivered = packets - drops.
   */
  packets: number;
  /** Packets the kernel dropped because the ring was full, cumulative since open. */
  drops: number;
  /** Times the ring froze waiting for user space (tp_freeze_q_cnt), cumulative. */
  freezes: number;
}

export interface PacketRing {
  /**
   * Starts the poll handle. `onBatch` gets one Buffer holding `frameCount` frame
   * records each time the kernel retires blocks; the buffer belongs to the callee.
   * `onError` gets a poll or socket error, e.g. `ENETDOWN` (syscall `poll`) when the
   * bound interface goes down or away; the ring is closed before it is called.
   * Throws `EBUSY` if already started, `EBADF` once closed.
   */
  start(onBatch: (batch: Buffer, frameCount: number) => void, onError: (err: Error) => void): void;
  /** Atomically replaces the kernel filter (SO_ATTACH_FILTER). */
  setFilter(filter: Buffer): void;
  /** Kernel counters (PACKET_STATISTICS), accumulated because the kernel resets them on read. */
  stats(): PacketRingStats;
  /** Stops polling, unmaps the ring, closes the socket. Idempotent. */
  close(): void;
  /**
   * RSTs the storm guard counted since the last call, flattened as [classKey,
   * count, firstMs, lastMs] per class; forgets classes idle for `idleMs` (default
   * 60000). Empty without a storm guard. Works after close().
   */
  stormCounts(idleMs?: number): Float64Array;
}

export interface PollReader {
  /** Stops polling and closes the file. Idempotent. */
  close(): void;
}

export interface ClockSample {
  realtimeNs: bigint;
  monotonicNs: bigint;
  boottimeNs: bigint;
}

export interface NativeBinding {
  /** Opens an AF_PACKET/SOCK_DGRAM socket with a TPACKET_V3 ring. Needs CAP_NET_RAW (EPERM otherwise). */
  openPacketRing(options: PacketRingOptions): PacketRing;
  /**
   * Opens `path` with O_RDONLY|O_NONBLOCK|O_CLOEXEC and polls it; each time it is
   * readable, reads until EAGAIN and calls `onData` once per read chunk (at most
   * `chunkBytes`). Used for tracefs `trace_pipe`, which supports epoll. End of file
   * (the last writer of a FIFO closed it) closes the reader and calls `onError` with
   * code `EOF`, syscall `read`; polling on would spin on EPOLLHUP.
   */
  openPollReader(path: string, chunkBytes: number, onData: (chunk: Buffer) => void, onError: (err: Error) => void): PollReader;
  /** The three clocks sampled back to back, to convert trace timestamps to wall time. */
  sampleClocks(): ClockSample;
  /** if_nametoindex(3); throws ENODEV for an unknown name. */
  interfaceIndex(name: string): number;
}
