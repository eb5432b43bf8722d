// PacketRing: an AF_PACKET/SOCK_DGRAM socket with a TPACKET_V3 receive ring,
// filtered in the kernel by a classic BPF program. Frames are handed to
// JavaScript in batches (one Buffer per readable event) in the record layout of
// src/capture/native-binding.ts. Kernel reference:
// Documentation/networking/packet_mmap.rst and net/packet/af_packet.c.
#ifndef RSTPROBE_NATIVE_PACKET_RING_H_
#define RSTPROBE_NATIVE_PACKET_RING_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "polled_fd.h"
#include "storm_guard.h"

namespace rstprobe {

class PacketRing : public Napi::ObjectWrap<PacketRing> {
 public:
  static Napi::Function DefineClass(Napi::Env env);

  // new PacketRing(options): opens the socket; throws on any failure.
  explicit PacketRing(const Napi::CallbackInfo& info);
  ~PacketRing() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value SetFilter(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value StormCounts(const Napi::CallbackInfo& info);

  template <typename Owner>
  friend void CallHandleReadable(void* owner, int status);
  void HandleReadable(int status);
  // Counts the ready blocks (from next_block_) that fit one batch.
  size_t CountBatch(size_t* record_bytes, size_t* frame_count) const;
  // Copies the frames of `block_count` ready blocks into `out` (all but those
  // the storm guard suppresses), returns the blocks to the kernel, and returns
  // the number of frames copied.
  size_t CopyAndReleaseBlocks(size_t block_count, uint8_t* out);
  uint8_t* BlockAt(size_t index) const;
  // Adds the kernel's counters (reset by each read) to the running totals.
  int AccumulateKernelStats();
  // Closes the socket; with `from_js`, also drops the self-reference and
  // callbacks taken by start() (never from the finalizer).
  void Release(bool from_js);
  void Fail(const Napi::Error& error);
  // The Buffer a batch is copied into: new each time, or the reused one.
  Napi::Buffer<uint8_t> BatchBuffer(size_t record_bytes);
  void CallJs(const Napi::Function& callback,
              const std::initializer_list<napi_value>& args);

  PolledFd* polled_ = nullptr;  // nullptr once closed
  uint8_t* ring_ = nullptr;     // owned by polled_
  size_t block_bytes_ = 0;
  size_t block_count_ = 0;
  size_t next_block_ = 0;  // the block the kernel fills next, in ring order
  bool started_ = false;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  bool reuse_batch_buffer_ = false;
  Napi::Reference<Napi::Buffer<uint8_t>> batch_buffer_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  uint64_t packets_total_ = 0;
  uint64_t drops_total_ = 0;
  uint64_t freezes_total_ = 0;
  std::unique_ptr<StormGuard> storm_guard_;  // null: every frame is delivered
};

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_PACKET_RING_H_
