// CaptureScanner: the scan stage of `rstprobe analyze` (src/analyze/capture-scan.ts)
// in C++, for speed on multi-gigabyte files. It frames pcap records and pcapng
// blocks (src/capture-file/pcap-records.ts, pcapng-blocks.ts), classifies each
// frame (src/analyze/plain-segment.ts), holds plain segments per connection
// direction (src/analyze/segment-coalescer.ts) and writes what the diagnosis
// must decode, and the analyzer's ticks, into one packed buffer in the layout of
// src/analyze/scan-batch.ts. Each part follows its TypeScript original line for
// line (same hashes, same problem messages, same order of output): the
// TypeScript scan stays the reference, and tests compare the two on every
// fixture. JavaScript reads the file and hands each chunk to Parse.
#ifndef RSTPROBE_NATIVE_CAPTURE_SCAN_H_
#define RSTPROBE_NATIVE_CAPTURE_SCAN_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rstprobe {

// What readSegment tells about a frame (PlainSegmentInfo).
struct SegmentInfo {
  int32_t key = 0;
  int32_t check = 0;
  int direction = 0;
  int32_t sameness = 0;
  int ttl = 0;
  int ttl_index = 0;
  bool has_payload = false;
};

// One held frame of a connection direction (HeldFrame in segment-coalescer.ts).
struct HeldFrame {
  const uint8_t* source = nullptr;  // the chunk being parsed until copied out, then own
  size_t length = 0;
  uint8_t own[192];
  int link_type = 0;
  double time_ms = 0;
  int32_t sameness = 0;
  int ttl_index = 0;
  bool has_payload = false;
  bool held = false;
  bool attached = false;
};

struct Connection {
  int32_t key = 0;
  int32_t check = 0;
  double last_ms = 0;
  double last_delivered_ms = 0;
  double oldest_held_ms = 0;
  // Per direction: [last, last with payload]; slots are swapped, frames stay put.
  HeldFrame* frames[4];
  HeldFrame storage[4];
  Connection* older = nullptr;
  Connection* newer = nullptr;
  Connection() {
    for (int index = 0; index < 4; index++) frames[index] = &storage[index];
  }
};

struct PcapngInterface {
  int link_type;  // normalised; -1 when unsupported
  uint32_t file_link_type;
  uint32_t snap_bytes;
  double ticks_per_ms;
  double offset_ms;
};

class CaptureScanner : public Napi::ObjectWrap<CaptureScanner> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  explicit CaptureScanner(const Napi::CallbackInfo& info);

 private:
  // JavaScript methods (src/analyze/native-scan.ts documents them).
  Napi::Value Parse(const Napi::CallbackInfo& info);
  Napi::Value TakeOutput(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value DescribeCutOff(const Napi::CallbackInfo& info);

  // Framing.
  size_t ParsePcap(const uint8_t* buf, size_t start, size_t end, double base_offset);
  size_t ParsePcapng(const uint8_t* buf, size_t start, size_t end, double base_offset);
  uint32_t U32(const uint8_t* at) const;
  uint32_t U16(const uint8_t* at) const;
  void Fail(double offset, std::string message);
  void ReadInterface(const uint8_t* buf, size_t pos, uint32_t length);
  void ReadEnhancedPacket(const uint8_t* buf, size_t pos, uint32_t length, uint32_t type, double base_offset);
  void ReadSimplePacket(const uint8_t* buf, size_t pos, uint32_t length, double base_offset);
  void Deliver(const PcapngInterface& info, const uint8_t* buf, size_t at, uint32_t caplen);
  void CountUnsupported(uint32_t file_link_type);

  // The scan of one packet (onPacket in capture-scan.ts).
  void OnPacket(int link_type, const uint8_t* frame, size_t length, double time_ms);

  // Coalescing (SegmentCoalescer).
  void Plain(int link_type, const uint8_t* frame, size_t length, double time_ms, const SegmentInfo& info);
  void Control(const SegmentInfo& info, double time_ms);
  void Detach();
  void Expire(double now_ms);
  void ReleaseAll();
  void DropOldest();
  void Release(Connection* connection);
  void ReleaseNewestDirection(Connection* connection);
  void DeliverNow(Connection* connection, int link_type, const uint8_t* frame, size_t length, double time_ms);
  void CopyOut(HeldFrame* frame);
  void Recycle(Connection* connection);
  void IndexAdd(int32_t key, Connection* connection);
  void IndexDelete(int32_t key);

  // Output (scan-batch.ts layout).
  void EmitFrame(int link_type, const uint8_t* frame, size_t length, double time_ms, bool check_duplicate);
  void EmitTick(double now_ms);

  // Length of the buffer being parsed: a corrupt block's fixed fields may lie past its end.
  size_t buffer_length_ = 0;

  // Format.
  bool pcapng_ = false;
  bool little_ = true;
  bool pcap_nanos_ = false;
  uint32_t pcap_snap_bytes_ = 0;
  uint32_t pcap_file_link_type_ = 0;
  int pcap_link_type_ = -1;
  uint32_t pcap_max_caplen_ = 0;
  bool coalesce_ = true;

  // Reading state.
  double packets_ = 0;
  double tcp_packets_ = 0;
  bool has_problem_ = false;
  double problem_offset_ = 0;
  std::string problem_message_;
  std::vector<std::pair<uint32_t, double>> unsupported_;  // in first-seen order, as a Map
  std::vector<PcapngInterface> interfaces_;
  double skip_remaining_ = 0;
  double last_time_ms_ = 0;
  double sections_ = 0;

  // Capture clock: first packet, now, last tick.
  double first_ms_;
  double now_ms_;
  double last_tick_ms_;

  // Coalescer.
  std::unordered_map<int32_t, Connection*> connections_;
  Connection* oldest_ = nullptr;
  Connection* newest_ = nullptr;
  std::vector<std::unique_ptr<Connection>> pool_;
  std::vector<Connection*> free_;
  std::vector<HeldFrame*> attached_;
  size_t max_connections_ = 50000;
  double hold_ms_ = 1000;

  std::vector<uint8_t> output_;
};

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_CAPTURE_SCAN_H_
