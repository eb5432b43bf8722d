#include "packet_ring.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "addon.h"
#include "arguments.h"
#include "errors.h"
#include "readable_callback.h"

namespace rstprobe {

namespace {

// Record layout of src/capture/native-binding.ts (little-endian).
constexpr size_t kRecordHeaderBytes = 40;
constexpr size_t kRecordAlignBytes = 8;
constexpr uint8_t kRecordFlagVlanValid = 1;

// One readable event yields one Buffer of at most this size (or one block, if a
// block is larger), so a burst reaches JavaScript in few calls without
// unbounded allocations.
constexpr size_t kMaxBatchBytes = 4 << 20;

// BPF_MAXINSNS (include/uapi/linux/bpf_common.h).
constexpr size_t kMaxFilterInstructions = BPF_MAXINSNS;

// In TPACKET_V3 the frame size only has to satisfy the ring's arithmetic
// (tp_frame_nr == tp_block_nr * tp_block_size / tp_frame_size): packets are
// packed back to back in a block and may be as large as the block.
constexpr uint32_t kFrameBytes = 2048;

constexpr uint32_t kMaxBlockBytes = 1u << 30;
constexpr uint32_t kMaxBlockCount = 1u << 16;
constexpr uint32_t kMaxBlockTimeoutMs = 60000;

// The sockaddr_ll follows the frame header (net/packet/af_packet.c, tpacket_rcv).
constexpr size_t kSockaddrOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// A classic BPF program borrowed from a Buffer (which outlives the setsockopt).
sock_fprog FilterProgram(const Napi::Value& value, const char* name) {
  Napi::Buffer<uint8_t> buffer = RequireBuffer(value, name);
  size_t length = buffer.Length();
  if (length == 0 || length % sizeof(sock_filter) != 0 ||
      length / sizeof(sock_filter) > kMaxFilterInstructions) {
    ThrowTypeError(value.Env(),
                   std::string(name) + " must hold 1 to " +
                       std::to_string(kMaxFilterInstructions) +
                       " classic BPF instructions of 8 bytes each, got " +
                       std::to_string(length) + " bytes");
  }
  sock_fprog program;
  program.len = static_cast<unsigned short>(length / sizeof(sock_filter));
  program.filter = reinterpret_cast<sock_filter*>(buffer.Data());
  return program;
}

// SO_ATTACH_FILTER replaces any previous program atomically
// (Documentation/networking/filter.rst), so packets are never unfiltered.
int AttachFilter(int fd, const sock_fprog& program) {
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

uint32_t BlockBytesOption(const Napi::Value& value) {
  const uint32_t page_bytes = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  if (value.IsNumber()) {
    double bytes = value.As<Napi::Number>().DoubleValue();
    if (bytes >= page_bytes && bytes <= kMaxBlockBytes) {
      uint32_t block_bytes = static_cast<uint32_t>(bytes);
      if (block_bytes == bytes && (block_bytes & (block_bytes - 1)) == 0) {
        return block_bytes;
      }
    }
  }
  ThrowTypeError(value.Env(),
                 "blockBytes must be a power of two multiple of the page size (" +
                     std::to_string(page_bytes) + ") up to " +
                     std::to_string(kMaxBlockBytes));
}

inline void PutU16(uint8_t* at, uint16_t value) {
  at[0] = static_cast<uint8_t>(value);
  at[1] = static_cast<uint8_t>(value >> 8);
}

inline void PutU32(uint8_t* at, uint32_t value) {
  PutU16(at, static_cast<uint16_t>(value));
  PutU16(at + 2, static_cast<uint16_t>(value >> 16));
}

inline size_t RecordBytes(uint32_t captured_bytes) {
  return (kRecordHeaderBytes + captured_bytes + kRecordAlignBytes - 1) &
         ~(kRecordAlignBytes - 1);
}

inline tpacket_block_desc* BlockDesc(uint8_t* block) {
  return reinterpret_cast<tpacket_block_desc*>(block);
}

// The kernel hands a block over by setting TP_STATUS_USER after filling it and
// takes it back when user space writes TP_STATUS_KERNEL: acquire/release
// ordering keeps the frame reads between the two (packet_mmap.rst, "TPACKET_V3").
inline bool BlockOwnedByUser(uint8_t* block) {
  return (__atomic_load_n(&BlockDesc(block)->hdr.bh1.block_status,
                          __ATOMIC_ACQUIRE) &
          TP_STATUS_USER) != 0;
}

inline void ReturnBlockToKernel(uint8_t* block) {
  __atomic_store_n(&BlockDesc(block)->hdr.bh1.block_status, TP_STATUS_KERNEL,
                   __ATOMIC_RELEASE);
}

// Calls visit(frame) for every well-formed frame of a block the kernel handed
// over. Offsets come from the kernel; they are still checked against the block
// so a bug can never make us read outside the mapping.
template <typename Visit>
void ForEachFrame(uint8_t* block, size_t block_bytes, Visit visit) {
  const tpacket_hdr_v1& header = BlockDesc(block)->hdr.bh1;
  size_t offset = header.offset_to_first_pkt;
  for (uint32_t i = 0; i < header.num_pkts; ++i) {
    if (offset + kSockaddrOffset + sizeof(sockaddr_ll) > block_bytes) return;
    const tpacket3_hdr* frame =
        reinterpret_cast<const tpacket3_hdr*>(block + offset);
    if (static_cast<size_t>(frame->tp_net) + frame->tp_snaplen >
        block_bytes - offset) {
      return;
    }
    visit(frame);
    if (frame->tp_next_offset == 0) return;
    offset += frame->tp_next_offset;
  }
}

// The socket's pending error, cleared by reading it: e.g. ENETDOWN once the
// bound interface is down or gone (af_packet.c, packet_notifier and
// packet_do_bind), which also makes poll report EPOLLERR.
int TakeSocketError(int fd) {
  int socket_errno = 0;
  socklen_t length = sizeof socket_errno;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_errno, &length) != 0) {
    return errno;
  }
  return socket_errno;
}

}  // namespace

Napi::Function PacketRing::DefineClass(Napi::Env env) {
  return ObjectWrap<PacketRing>::DefineClass(
      env, "PacketRing",
      {
          InstanceMethod<&PacketRing::Start>("start"),
          InstanceMethod<&PacketRing::SetFilter>("setFilter"),
          InstanceMethod<&PacketRing::Stats>("stats"),
          InstanceMethod<&PacketRing::Close>("close"),
          InstanceMethod<&PacketRing::StormCounts>("stormCounts"),
      });
}

PacketRing::PacketRing(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PacketRing>(info) {
  Napi::Env env = info.Env();
  Napi::Object options = RequireObject(info[0], "options");
  const int32_t ifindex = RequireInt32(options.Get("ifindex"), "ifindex", 0,
                                       std::numeric_limits<int32_t>::max());
  const sock_fprog filter = FilterProgram(options.Get("filter"), "filter");
  const uint32_t block_bytes = BlockBytesOption(options.Get("blockBytes"));
  const uint32_t block_count = RequireUint32(options.Get("blockCount"),
                                             "blockCount", 1, kMaxBlockCount);
  const uint32_t block_timeout_ms =
      RequireUint32(options.Get("blockTimeoutMs"), "blockTimeoutMs", 1,
                    kMaxBlockTimeoutMs);
  const Napi::Value reuse = options.Get("reuseBatchBuffer");
  if (!reuse.IsUndefined() && !reuse.IsBoolean()) {
    throw Napi::TypeError::New(env, "reuseBatchBuffer must be a boolean");
  }
  reuse_batch_buffer_ = reuse.IsBoolean() && reuse.As<Napi::Boolean>().Value();
  const Napi::Value storm = options.Get("stormGuard");
  if (!storm.IsUndefined()) {
    Napi::Object storm_options = RequireObject(storm, "stormGuard");
    const uint32_t rate = RequireUint32(storm_options.Get("ratePerSecond"),
                                        "stormGuard.ratePerSecond", 1, 1000000);
    const uint32_t burst = RequireUint32(storm_options.Get("burst"),
                                         "stormGuard.burst", 1, 1000000);
    const uint32_t max_classes = RequireUint32(
        storm_options.Get("maxClasses"), "stormGuard.maxClasses", 1, 10000000);
    storm_guard_ = std::make_unique<StormGuard>(rate, burst, max_classes);
  }

  // Protocol 0: the socket is not hooked into the receive path yet
  // (packet_create registers no prot_hook), so nothing can be queued before
  // the filter and the ring are in place. bind() below hooks it with ETH_P_ALL.
  FdGuard socket_fd(
      socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) ThrowErrno(env, "socket", errno);
  const int fd = socket_fd.get();

  if (AttachFilter(fd, filter) != 0) ThrowErrno(env, "setsockopt", errno);

  int version = TPACKET_V3;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) !=
      0) {
    ThrowErrno(env, "setsockopt", errno);
  }

  tpacket_req3 request;
  std::memset(&request, 0, sizeof request);
  request.tp_block_size = block_bytes;
  request.tp_block_nr = block_count;
  request.tp_frame_size = kFrameBytes;
  request.tp_frame_nr = (block_bytes / kFrameBytes) * block_count;
  request.tp_retire_blk_tov = block_timeout_ms;
  request.tp_sizeof_priv = 0;
  request.tp_feature_req_word = 0;
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &request, sizeof request) !=
      0) {
    ThrowErrno(env, "setsockopt", errno);
  }

  const size_t ring_bytes = static_cast<size_t>(block_bytes) * block_count;
  void* ring = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
  if (ring == MAP_FAILED) ThrowErrno(env, "mmap", errno);

  sockaddr_ll address;
  std::memset(&address, 0, sizeof address);
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int bind_errno = errno;
    munmap(ring, ring_bytes);
    ThrowErrno(env, "bind", bind_errno);
  }
  // No drain is needed: the filter was attached before bind() hooked the
  // socket in, so every queued frame has passed it (libpcap drains because it
  // binds first and filters afterwards).

  int poll_errno = 0;
  polled_ = PolledFd::Create(EventLoop(env), socket_fd.release(), ring,
                             ring_bytes, &poll_errno);
  if (polled_ == nullptr) ThrowErrno(env, "uv_poll_init", poll_errno);
  ring_ = static_cast<uint8_t*>(ring);
  block_bytes_ = block_bytes;
  block_count_ = block_count;
}

PacketRing::~PacketRing() { Release(false); }

Napi::Value PacketRing::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Function on_batch = RequireFunction(info[0], "onBatch");
  Napi::Function on_error = RequireFunction(info[1], "onError");
  if (polled_ == nullptr) ThrowErrno(env, "start", EBADF);
  if (started_) ThrowErrno(env, "start", EBUSY);
  int start_errno = polled_->Start(&CallHandleReadable<PacketRing>, this);
  if (start_errno != 0) ThrowErrno(env, "uv_poll_start", start_errno);
  on_batch_ = Napi::Persistent(on_batch);
  on_error_ = Napi::Persistent(on_error);
  // The resource object is a fresh one: using `this` would make the async
  // context keep the ring alive forever.
  async_context_ = std::make_unique<Napi::AsyncContext>(
      env, "rstprobe.PacketRing", Napi::Object::New(env));
  // A polling ring stays alive without a JavaScript reference, like a socket.
  Ref();
  started_ = true;
  return env.Undefined();
}

Napi::Value PacketRing::SetFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sock_fprog filter = FilterProgram(info[0], "filter");
  if (polled_ == nullptr) ThrowErrno(env, "setsockopt", EBADF);
  if (AttachFilter(polled_->fd(), filter) != 0) {
    ThrowErrno(env, "setsockopt", errno);
  }
  return env.Undefined();
}

int PacketRing::AccumulateKernelStats() {
  // PACKET_STATISTICS returns and zeroes the counters; for TPACKET_V3 the
  // kernel adds tp_drops into tp_packets (af_packet.c, packet_getsockopt).
  tpacket_stats_v3 kernel_stats;
  std::memset(&kernel_stats, 0, sizeof kernel_stats);
  socklen_t length = sizeof kernel_stats;
  if (getsockopt(polled_->fd(), SOL_PACKET, PACKET_STATISTICS, &kernel_stats,
                 &length) != 0) {
    return errno;
  }
  packets_total_ += kernel_stats.tp_packets;
  drops_total_ += kernel_stats.tp_drops;
  freezes_total_ += kernel_stats.tp_freeze_q_cnt;
  return 0;
}

Napi::Value PacketRing::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // After close() the totals are final (close() reads the kernel's last ones).
  if (polled_ != nullptr) {
    int stats_errno = AccumulateKernelStats();
    if (stats_errno != 0) ThrowErrno(env, "getsockopt", stats_errno);
  }
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("packets", Napi::Number::New(env, static_cast<double>(packets_total_)));
  stats.Set("drops", Napi::Number::New(env, static_cast<double>(drops_total_)));
  stats.Set("freezes", Napi::Number::New(env, static_cast<double>(freezes_total_)));
  return stats;
}

Napi::Value PacketRing::StormCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double idle_ms = 60000;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    idle_ms = RequireUint32(info[0], "idleMs", 0, 86400000);
  }
  if (storm_guard_ == nullptr) return Napi::Float64Array::New(env, 0);
  const std::vector<StormCount> counts = storm_guard_->Drain(idle_ms);
  Napi::Float64Array flat = Napi::Float64Array::New(env, counts.size() * 4);
  for (size_t i = 0; i < counts.size(); ++i) {
    flat[i * 4] = static_cast<double>(counts[i].class_key);
    flat[i * 4 + 1] = static_cast<double>(counts[i].count);
    flat[i * 4 + 2] = counts[i].first_ms;
    flat[i * 4 + 3] = counts[i].last_ms;
  }
  return flat;
}

Napi::Value PacketRing::Close(const Napi::CallbackInfo& info) {
  Release(true);
  return info.Env().Undefined();
}

void PacketRing::Release(bool from_js) {
  if (polled_ == nullptr) return;
  AccumulateKernelStats();  // best effort: the totals stay readable
  polled_->Close();
  polled_ = nullptr;
  ring_ = nullptr;
  if (started_ && from_js) {
    started_ = false;
    // Dropping the callbacks breaks the cycle ring -> closure -> ring. The
    // async context stays until the destructor: we may be inside a callback
    // that runs in it.
    on_batch_.Reset();
    batch_buffer_.Reset();
    on_error_.Reset();
    Unref();
  }
}

uint8_t* PacketRing::BlockAt(size_t index) const {
  return ring_ + index * block_bytes_;
}

size_t PacketRing::CountBatch(size_t* record_bytes,
                              size_t* frame_count) const {
  size_t blocks = 0;
  *record_bytes = 0;
  *frame_count = 0;
  size_t index = next_block_;
  while (blocks < block_count_ && BlockOwnedByUser(BlockAt(index))) {
    size_t block_record_bytes = 0;
    size_t block_frames = 0;
    ForEachFrame(BlockAt(index), block_bytes_, [&](const tpacket3_hdr* frame) {
      block_record_bytes += RecordBytes(frame->tp_snaplen);
      ++block_frames;
    });
    if (blocks > 0 && *record_bytes + block_record_bytes > kMaxBatchBytes) {
      break;
    }
    *record_bytes += block_record_bytes;
    *frame_count += block_frames;
    ++blocks;
    index = (index + 1) % block_count_;
  }
  return blocks;
}

size_t PacketRing::CopyAndReleaseBlocks(size_t block_count, uint8_t* out) {
  size_t copied = 0;
  for (size_t i = 0; i < block_count; ++i) {
    uint8_t* block = BlockAt(next_block_);
    ForEachFrame(block, block_bytes_, [&](const tpacket3_hdr* frame) {
      const uint8_t* frame_start = reinterpret_cast<const uint8_t*>(frame);
      const sockaddr_ll* address =
          reinterpret_cast<const sockaddr_ll*>(frame_start + kSockaddrOffset);
      if (storm_guard_ != nullptr &&
          storm_guard_->Suppress(frame_start + frame->tp_net, frame->tp_snaplen,
                                 ntohs(address->sll_protocol),
                                 frame->tp_sec * 1e3 + frame->tp_nsec / 1e6)) {
        return;
      }
      if (out == nullptr) return;
      const size_t record_bytes = RecordBytes(frame->tp_snaplen);
      const bool vlan_valid = (frame->tp_status & TP_STATUS_VLAN_VALID) != 0;
      const bool tpid_valid =
          (frame->tp_status & TP_STATUS_VLAN_TPID_VALID) != 0;
      PutU32(out + 0, static_cast<uint32_t>(record_bytes));
      PutU32(out + 4, frame->tp_snaplen);
      PutU32(out + 8, frame->tp_len);
      PutU32(out + 12, frame->tp_sec);
      PutU32(out + 16, frame->tp_nsec);
      PutU32(out + 20, static_cast<uint32_t>(address->sll_ifindex));
      PutU16(out + 24, ntohs(address->sll_protocol));
      out[26] = address->sll_pkttype;
      out[27] = vlan_valid ? kRecordFlagVlanValid : 0;
      PutU16(out + 28, vlan_valid ? frame->hv1.tp_vlan_tci : 0);
      PutU16(out + 30, vlan_valid && tpid_valid ? frame->hv1.tp_vlan_tpid : 0);
      PutU16(out + 32, address->sll_hatype);
      std::memset(out + 34, 0, kRecordHeaderBytes - 34);
      // With SOCK_DGRAM the frame starts at the network header (tp_net ==
      // tp_mac): the link-layer header is already removed.
      std::memcpy(out + kRecordHeaderBytes, frame_start + frame->tp_net,
                  frame->tp_snaplen);
      std::memset(out + kRecordHeaderBytes + frame->tp_snaplen, 0,
                  record_bytes - kRecordHeaderBytes - frame->tp_snaplen);
      out += record_bytes;
      ++copied;
    });
    ReturnBlockToKernel(block);
    next_block_ = (next_block_ + 1) % block_count_;
  }
  return copied;
}

void PacketRing::HandleReadable(int status) {
  Napi::Env env = Env();
  // Holds the ring alive through the JavaScript calls below, which may close
  // it and drop every other reference.
  [[maybe_unused]] const Napi::Object self = Value();
  if (status < 0) {
    // libuv reports EPOLLERR as UV_EBADF and stops the handle (unix/poll.c,
    // uv__poll_io); the socket's own error says what really happened.
    int socket_errno = TakeSocketError(polled_->fd());
    Fail(socket_errno != 0 ? ErrnoError(env, "poll", socket_errno)
                           : ErrnoError(env, "uv_poll", -status));
    return;
  }
  size_t record_bytes = 0;
  size_t frame_count = 0;
  size_t block_count = CountBatch(&record_bytes, &frame_count);
  if (block_count == 0) {
    // Readable without a ready block can only be a socket error.
    int socket_errno = TakeSocketError(polled_->fd());
    if (socket_errno != 0) Fail(ErrnoError(env, "poll", socket_errno));
    return;
  }
  if (frame_count == 0) {
    CopyAndReleaseBlocks(block_count, nullptr);
    return;
  }
  Napi::Buffer<uint8_t> batch = BatchBuffer(record_bytes);
  const size_t copied = CopyAndReleaseBlocks(block_count, batch.Data());
  if (copied == 0) return;  // the storm guard kept every frame of the batch
  CallJs(on_batch_.Value(),
         {batch, Napi::Number::New(env, static_cast<double>(copied))});
}

Napi::Buffer<uint8_t> PacketRing::BatchBuffer(size_t record_bytes) {
  Napi::Env env = Env();
  if (!reuse_batch_buffer_) return Napi::Buffer<uint8_t>::New(env, record_bytes);
  // One buffer for every batch: a fresh (zeroed, GC-tracked) megabyte per
  // readable event costs more CPU than the frames themselves in a storm.
  if (batch_buffer_.IsEmpty() || batch_buffer_.Value().Length() < record_bytes) {
    batch_buffer_ = Napi::Persistent(
        Napi::Buffer<uint8_t>::New(env, std::max(record_bytes, kMaxBatchBytes)));
  }
  return batch_buffer_.Value();
}

void PacketRing::Fail(const Napi::Error& error) {
  Napi::Function on_error = on_error_.Value();
  Release(true);
  CallJs(on_error, {error.Value()});
}

void PacketRing::CallJs(const Napi::Function& callback,
                        const std::initializer_list<napi_value>& args) {
  try {
    callback.MakeCallback(Value(), args, *async_context_);
  } catch (const Napi::Error& error) {
    ReportUncaught(Env(), error);
  }
}

}  // namespace rstprobe
