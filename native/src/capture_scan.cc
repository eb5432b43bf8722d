// CaptureScanner: see capture_scan.h. Each function names the TypeScript it
// follows; keep the two in step (test/analyze/native-scan.test.ts compares them).
#include "capture_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "arguments.h"

namespace rstprobe {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// src/capture-file/types.ts MAX_CAPLEN_BYTES; pcapng-blocks.ts constants.
constexpr uint32_t kMaxCaplenBytes = 256 * 1024;
constexpr uint32_t kPcapRecordHeaderBytes = 16;
constexpr uint32_t kPcapngShb = 0x0a0d0d0a;
constexpr uint32_t kByteOrderMagic = 0x1a2b3c4d;
constexpr uint32_t kBlockIdb = 1;
constexpr uint32_t kBlockPb = 2;
constexpr uint32_t kBlockSpb = 3;
constexpr uint32_t kBlockEpb = 6;
constexpr uint32_t kMinBlockBytes = 12;
constexpr uint32_t kMaxReadBlockBytes = 1 << 20;
constexpr uint32_t kOptEnd = 0;
constexpr uint32_t kIfTsresol = 9;
constexpr uint32_t kIfTsoffset = 14;

// segment-coalescer.ts and capture-scan.ts constants.
constexpr size_t kHeldBytes = 192;
constexpr double kBurstGapMs = 500 - 2;  // QUIET_GAP_MS - 2
constexpr double kDuplicateWindowMs = 50;
constexpr double kTickMs = 1000;

// scan-batch.ts record layout.
constexpr uint8_t kRecordFrame = 1;
constexpr uint8_t kRecordTick = 2;
constexpr size_t kRecordHeaderBytes = 16;

// decode/types.ts LinkType.
constexpr int kLinkNull = 0;
constexpr int kLinkEthernet = 1;
constexpr int kLinkRaw = 101;
constexpr int kLinkLinuxSll = 113;
constexpr int kLinkIpv4 = 228;
constexpr int kLinkIpv6 = 229;
constexpr int kLinkLinuxSll2 = 276;

enum SegmentKind { kOther = 0, kPlain = 1, kControl = 2 };

uint32_t Le32(const uint8_t* at) {
  return uint32_t(at[0]) | uint32_t(at[1]) << 8 | uint32_t(at[2]) << 16 | uint32_t(at[3]) << 24;
}

uint32_t Be32(const uint8_t* at) {
  return uint32_t(at[0]) << 24 | uint32_t(at[1]) << 16 | uint32_t(at[2]) << 8 | uint32_t(at[3]);
}

uint32_t Pad4(uint32_t bytes) { return (bytes + 3) & ~uint32_t(3); }

// Numbers in messages as JavaScript prints them (integers here; hex for block types).
std::string Dec(double value) {
  char text[32];
  snprintf(text, sizeof text, "%.0f", value);
  return text;
}

std::string Hex(uint32_t value) {
  char text[16];
  snprintf(text, sizeof text, "%x", value);
  return text;
}

// link-types.ts normaliseLinkType; -1 for null.
int NormaliseLinkType(uint32_t file_link_type) {
  switch (file_link_type & 0xffff) {
    case 0:
    case 108:
      return kLinkNull;
    case 1:
      return kLinkEthernet;
    case 12:
    case 14:
    case 101:
      return kLinkRaw;
    case 113:
      return kLinkLinuxSll;
    case 228:
      return kLinkIpv4;
    case 229:
      return kLinkIpv6;
    case 276:
      return kLinkLinuxSll2;
    default:
      return -1;
  }
}

// plain-segment.ts i32: a big-endian word as a signed integer.
int32_t I32(const uint8_t* bytes, long at) { return int32_t(Be32(bytes + at)); }

bool IsVlan(int ether_type) { return ether_type == 0x8100 || ether_type == 0x88a8 || ether_type == 0x9100; }

// plain-segment.ts ipOffsetOf, for a frame at bytes[0, end).
long IpOffsetOf(int link_type, const uint8_t* bytes, long end) {
  long at;
  int ether_type;
  switch (link_type) {
    case kLinkEthernet:
      at = 14;
      ether_type = at <= end ? (bytes[12] << 8) | bytes[13] : 0;
      break;
    case kLinkLinuxSll:
      at = 16;
      ether_type = at <= end ? (bytes[14] << 8) | bytes[15] : 0;
      break;
    case kLinkLinuxSll2:
      at = 20;
      ether_type = at <= end ? (bytes[0] << 8) | bytes[1] : 0;
      break;
    case kLinkNull:
      return 4 < end ? 4 : -1;
    default:
      return 0 < end ? 0 : -1;
  }
  while (IsVlan(ether_type) && at + 4 <= end) {
    ether_type = (bytes[at + 2] << 8) | bytes[at + 3];
    at += 4;
  }
  return ether_type == 0x0800 || ether_type == 0x86dd ? at : -1;
}

// plain-segment.ts hashEndpoints (and its unrolled IPv4 twin): two lanes, FNV- and murmur-style.
void Mix(uint32_t word, uint32_t* lane1, uint32_t* lane2) {
  *lane1 = ((*lane1 ^ word) * 0x01000193u) ^ (*lane1 >> 13);
  *lane2 = ((*lane2 ^ word) * 0x5bd1e995u) ^ (*lane2 >> 15);
}

void HashEndpoints(const uint8_t* bytes, long low_at, long high_at, int address_words, int32_t ports, SegmentInfo* info) {
  uint32_t lane1 = 0x811c9dc5u;
  uint32_t lane2 = 0x01000193u;
  for (int word = 0; word < address_words; word++) Mix(uint32_t(I32(bytes, low_at + word * 4)), &lane1, &lane2);
  for (int word = 0; word < address_words; word++) Mix(uint32_t(I32(bytes, high_at + word * 4)), &lane1, &lane2);
  Mix(uint32_t(ports), &lane1, &lane2);
  info->key = int32_t(lane1);
  info->check = int32_t(lane2);
}

bool SourceIsHigher(const uint8_t* bytes, long src_at, long dst_at, int address_words, int32_t ports) {
  for (int word = 0; word < address_words; word++) {
    int32_t src = I32(bytes, src_at + word * 4);
    int32_t dst = I32(bytes, dst_at + word * 4);
    if (src != dst) return src > dst;
  }
  return (uint32_t(ports) >> 16) > (uint32_t(ports) & 0xffff);
}

int32_t SwapPorts(int32_t ports) {
  uint32_t value = uint32_t(ports);
  return int32_t(((value & 0xffff) << 16) | (value >> 16));
}

// plain-segment.ts readSegment, for a frame at bytes[0, end).
int ReadSegment(int link_type, const uint8_t* bytes, long end, SegmentInfo* info) {
  long ip = IpOffsetOf(link_type, bytes, end);
  if (ip < 0 || ip + 40 > end) return kOther;
  int version = bytes[ip] >> 4;
  long tcp;
  int address_words;
  long src_at;
  int payload_bytes;
  if (version == 4) {
    int header_bytes = (bytes[ip] & 0x0f) * 4;
    if (bytes[ip + 9] != 6 || header_bytes < 20 || ((bytes[ip + 6] & 0x3f) | bytes[ip + 7]) != 0) return kOther;
    tcp = ip + header_bytes;
    address_words = 1;
    src_at = ip + 12;
    payload_bytes = ((bytes[ip + 2] << 8) | bytes[ip + 3]) - header_bytes;
    info->ttl_index = int(ip + 8);
  } else if (version == 6) {
    if (bytes[ip + 6] != 6) return kOther;
    tcp = ip + 40;
    address_words = 4;
    src_at = ip + 8;
    payload_bytes = (bytes[ip + 4] << 8) | bytes[ip + 5];
    info->ttl_index = int(ip + 7);
  } else {
    return kOther;
  }
  if (tcp + 20 > end) return kOther;
  int32_t ports = I32(bytes, tcp);
  long dst_at = src_at + address_words * 4;
  if (SourceIsHigher(bytes, src_at, dst_at, address_words, ports)) {
    info->direction = 1;
    HashEndpoints(bytes, dst_at, src_at, address_words, SwapPorts(ports), info);
  } else {
    info->direction = 0;
    HashEndpoints(bytes, src_at, dst_at, address_words, ports, info);
  }
  if ((bytes[tcp + 13] & 0x07) != 0) return kControl;
  int32_t ip_id = version == 4 ? (bytes[ip + 4] << 8) | bytes[ip + 5] : 0;
  info->sameness = int32_t(uint32_t(I32(bytes, tcp + 4)) ^ (uint32_t(I32(bytes, tcp + 8)) * 0x9e3779b1u) ^ uint32_t(I32(bytes, tcp + 12)) ^
                           (uint32_t(ip_id) << 8));
  info->ttl = bytes[ip + (version == 4 ? 8 : 7)];
  info->has_payload = payload_bytes - (bytes[tcp + 12] >> 4) * 4 > 0;
  return kPlain;
}

double RequireNumber(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

}  // namespace

Napi::Function CaptureScanner::DefineClass(Napi::Env env) {
  return ObjectWrap<CaptureScanner>::DefineClass(env, "CaptureScanner",
                                                 {
                                                     InstanceMethod<&CaptureScanner::Parse>("parse"),
                                                     InstanceMethod<&CaptureScanner::TakeOutput>("takeOutput"),
                                                     InstanceMethod<&CaptureScanner::Finish>("finish"),
                                                     InstanceMethod<&CaptureScanner::State>("state"),
                                                     InstanceMethod<&CaptureScanner::DescribeCutOff>("describeCutOff"),
                                                 });
}

CaptureScanner::CaptureScanner(const Napi::CallbackInfo& info)
    : ObjectWrap<CaptureScanner>(info),
      first_ms_(std::numeric_limits<double>::quiet_NaN()),
      now_ms_(-kInfinity),
      last_tick_ms_(-kInfinity) {
  Napi::Object options = RequireObject(info[0], "options");
  Napi::Value format = options.Get("format");
  if (!format.IsString()) throw Napi::TypeError::New(info.Env(), "options.format must be 'pcap' or 'pcapng'");
  std::string name = format.As<Napi::String>().Utf8Value();
  if (name == "pcapng") {
    pcapng_ = true;
  } else if (name == "pcap") {
    little_ = options.Get("littleEndian").ToBoolean();
    pcap_nanos_ = options.Get("nanos").ToBoolean();
    pcap_snap_bytes_ = RequireUint32(options.Get("snapBytes"), "options.snapBytes", 0, UINT32_MAX);
    pcap_file_link_type_ = RequireUint32(options.Get("fileLinkType"), "options.fileLinkType", 0, UINT32_MAX);
    pcap_link_type_ = NormaliseLinkType(pcap_file_link_type_);
    // A snap length of 0 is "unlimited" in some writers; the hard cap still applies.
    pcap_max_caplen_ = pcap_snap_bytes_ > 0 ? std::min(pcap_snap_bytes_, kMaxCaplenBytes) : kMaxCaplenBytes;
  } else {
    throw Napi::TypeError::New(info.Env(), "options.format must be 'pcap' or 'pcapng'");
  }
  coalesce_ = options.Get("coalesce").ToBoolean();
  output_.reserve(1 << 20);
}

// parse(buffer, start, end, baseOffset): RecordParser.parse.
Napi::Value CaptureScanner::Parse(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> buffer = RequireBuffer(info[0], "buffer");
  uint32_t start = RequireUint32(info[1], "start", 0, uint32_t(buffer.Length()));
  uint32_t end = RequireUint32(info[2], "end", start, uint32_t(buffer.Length()));
  double base_offset = RequireNumber(info[3], "baseOffset");
  buffer_length_ = buffer.Length();
  size_t pos = has_problem_ ? start
               : pcapng_    ? ParsePcapng(buffer.Data(), start, end, base_offset)
                            : ParsePcap(buffer.Data(), start, end, base_offset);
  // The caller reuses the buffer next: held frames must not point into it (SegmentCoalescer.detach).
  Detach();
  return Napi::Number::New(info.Env(), double(pos));
}

// takeOutput(): the records written since the last call, in an ArrayBuffer of their own (transferable); null when none.
Napi::Value CaptureScanner::TakeOutput(const Napi::CallbackInfo& info) {
  if (output_.empty()) return info.Env().Null();
  Napi::ArrayBuffer batch = Napi::ArrayBuffer::New(info.Env(), output_.size());
  memcpy(batch.Data(), output_.data(), output_.size());
  output_.clear();
  return batch;
}

// finish(): the end of the file; everything still held is released (SegmentCoalescer.releaseAll).
Napi::Value CaptureScanner::Finish(const Napi::CallbackInfo& info) {
  ReleaseAll();
  return info.Env().Undefined();
}

// state(): counters, the capture clock and the problem, as RecordParser and ScanResult carry them.
Napi::Value CaptureScanner::State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object state = Napi::Object::New(env);
  state.Set("packets", packets_);
  state.Set("tcpPackets", tcp_packets_);
  state.Set("sections", sections_);
  state.Set("firstPacketMs", std::isnan(first_ms_) ? env.Null() : Napi::Number::New(env, first_ms_));
  state.Set("lastPacketMs", std::isfinite(now_ms_) ? Napi::Number::New(env, now_ms_) : env.Null());
  if (has_problem_) {
    Napi::Object problem = Napi::Object::New(env);
    problem.Set("offset", problem_offset_);
    problem.Set("message", problem_message_);
    state.Set("problem", problem);
  } else {
    state.Set("problem", env.Null());
  }
  Napi::Array unsupported = Napi::Array::New(env, unsupported_.size() * 2);
  for (size_t index = 0; index < unsupported_.size(); index++) {
    unsupported.Set(uint32_t(index * 2), double(unsupported_[index].first));
    unsupported.Set(uint32_t(index * 2 + 1), unsupported_[index].second);
  }
  state.Set("unsupportedLinkTypes", unsupported);
  return state;
}

// describeCutOff(leftBytes, buffer, at): RecordParser.describeCutOff.
Napi::Value CaptureScanner::DescribeCutOff(const Napi::CallbackInfo& info) {
  uint32_t left = RequireUint32(info[0], "leftBytes", 0, UINT32_MAX);
  Napi::Buffer<uint8_t> buffer = RequireBuffer(info[1], "buffer");
  uint32_t at = RequireUint32(info[2], "at", 0, uint32_t(buffer.Length()));
  std::string text;
  if (!pcapng_) {
    if (left < kPcapRecordHeaderBytes) {
      text = "the file ends inside a packet record header (" + Dec(left) + " of 16 bytes)";
    } else if (at + 12 > buffer.Length()) {
      throw Napi::RangeError::New(info.Env(), "at: the record header lies outside the buffer");
    } else {
      uint32_t caplen = U32(buffer.Data() + at + 8);
      text = "the last packet record is cut off (" + Dec(left - kPcapRecordHeaderBytes) + " of " + Dec(caplen) + " captured bytes present)";
    }
  } else if (skip_remaining_ > 0) {
    text = "the file ends inside a skipped block (" + Dec(skip_remaining_) + " bytes missing)";
  } else if (left < 8) {
    text = "the file ends inside a block header (" + Dec(left) + " of 8 bytes)";
  } else if (at + 8 > buffer.Length()) {
    throw Napi::RangeError::New(info.Env(), "at: the block header lies outside the buffer");
  } else {
    text = "the last block is cut off (" + Dec(left) + " of " + Dec(U32(buffer.Data() + at + 4)) + " bytes present)";
  }
  return Napi::String::New(info.Env(), text);
}

uint32_t CaptureScanner::U32(const uint8_t* at) const { return little_ ? Le32(at) : Be32(at); }

uint32_t CaptureScanner::U16(const uint8_t* at) const { return little_ ? uint32_t(at[0] | at[1] << 8) : uint32_t(at[0] << 8 | at[1]); }

void CaptureScanner::Fail(double offset, std::string message) {
  has_problem_ = true;
  problem_offset_ = offset;
  problem_message_ = std::move(message);
}

void CaptureScanner::CountUnsupported(uint32_t file_link_type) {
  for (auto& entry : unsupported_) {
    if (entry.first == file_link_type) {
      entry.second++;
      return;
    }
  }
  unsupported_.emplace_back(file_link_type, 1);
}

// pcap-records.ts PcapRecordParser.parse.
size_t CaptureScanner::ParsePcap(const uint8_t* buf, size_t start, size_t end, double base_offset) {
  const double fraction_per_ms = pcap_nanos_ ? 1000000 : 1000;
  size_t pos = start;
  while (end - pos >= kPcapRecordHeaderBytes) {
    uint32_t caplen = U32(buf + pos + 8);
    if (caplen > pcap_max_caplen_) {
      std::string limit = caplen > kMaxCaplenBytes ? "the " + Dec(kMaxCaplenBytes) + "-byte limit" : "the file's snap length " + Dec(pcap_snap_bytes_);
      Fail(base_offset + double(pos), "packet record claims " + Dec(caplen) + " captured bytes, more than " + limit + ": the file is corrupt from here");
      return pos;
    }
    size_t record_end = pos + kPcapRecordHeaderBytes + caplen;
    if (record_end > end) break;
    packets_++;
    if (pcap_link_type_ >= 0) {
      double time_ms = double(U32(buf + pos)) * 1000 + double(U32(buf + pos + 4)) / fraction_per_ms;
      OnPacket(pcap_link_type_, buf + pos + kPcapRecordHeaderBytes, caplen, time_ms);
    } else {
      CountUnsupported(pcap_file_link_type_);
    }
    pos = record_end;
  }
  return pos;
}

// pcapng-blocks.ts PcapngBlockParser.parse (its general path; the fast path there is the same in fewer steps).
size_t CaptureScanner::ParsePcapng(const uint8_t* buf, size_t start, size_t end, double base_offset) {
  size_t pos = start;
  for (;;) {
    if (skip_remaining_ > 0) {
      double skipped = std::min(skip_remaining_, double(end - pos));
      pos += size_t(skipped);
      skip_remaining_ -= skipped;
      if (skip_remaining_ > 0) return pos;
    }
    if (end - pos < kMinBlockBytes) return pos;
    uint32_t type = U32(buf + pos);
    if (type == kPcapngShb) {
      // The type reads the same in both orders; the byte-order magic after the length decides.
      uint32_t magic_le = Le32(buf + pos + 8);
      if (magic_le == kByteOrderMagic) {
        little_ = true;
      } else if (Be32(buf + pos + 8) == kByteOrderMagic) {
        little_ = false;
      } else {
        Fail(base_offset + double(pos), "section header block has byte-order magic 0x" + Hex(magic_le) + ", not 0x1a2b3c4d");
        return pos;
      }
    }
    uint32_t length = U32(buf + pos + 4);
    if (length < kMinBlockBytes || length % 4 != 0) {
      Fail(base_offset + double(pos), "block of type 0x" + Hex(type) + " claims length " + Dec(length) + ", which does not add up (at least 12, a multiple of 4)");
      return pos;
    }
    if (length > kMaxReadBlockBytes) {
      if (type == kPcapngShb || type == kBlockIdb || type == kBlockEpb || type == kBlockSpb || type == kBlockPb) {
        Fail(base_offset + double(pos), "block of type 0x" + Hex(type) + " claims length " + Dec(length) + ", more than a packet or interface block can hold");
        return pos;
      }
      skip_remaining_ = length;  // a large block we do not read (e.g. a decryption secrets block)
      continue;
    }
    if (end - pos < length) return pos;
    uint32_t trailer = U32(buf + pos + length - 4);
    if (trailer != length) {
      Fail(base_offset + double(pos), "block of type 0x" + Hex(type) + " has length " + Dec(length) + " in its header but " + Dec(trailer) + " in its trailer");
      return pos;
    }
    switch (type) {
      case kPcapngShb:
        sections_++;
        interfaces_.clear();
        break;
      case kBlockIdb:
        ReadInterface(buf, pos, length);
        break;
      case kBlockEpb:
      case kBlockPb:
        ReadEnhancedPacket(buf, pos, length, type, base_offset);
        break;
      case kBlockSpb:
        ReadSimplePacket(buf, pos, length, base_offset);
        break;
      default:
        break;
    }
    if (has_problem_) return pos;
    pos += length;
  }
}

// PcapngBlockParser.readInterface.
void CaptureScanner::ReadInterface(const uint8_t* buf, size_t pos, uint32_t length) {
  uint32_t file_link_type = U16(buf + pos + 8);
  // A block too short for its snap length: past the buffer, TypeScript reads NaN, which acts as 0 (no limit).
  uint32_t snap_bytes = pos + 16 <= buffer_length_ ? U32(buf + pos + 12) : 0;
  PcapngInterface info{NormaliseLinkType(file_link_type), file_link_type, snap_bytes, 1000, 0};
  size_t options_end = pos + length - 4;
  size_t at = pos + 16;
  while (at + 4 <= options_end) {
    uint32_t code = U16(buf + at);
    uint32_t value_bytes = U16(buf + at + 2);
    if (code == kOptEnd || at + 4 + value_bytes > options_end) break;
    if (code == kIfTsresol && value_bytes >= 1) {
      uint8_t resolution = buf[at + 4];
      // High bit set: a negative power of 2; clear: a negative power of 10.
      double ticks_per_second = resolution & 0x80 ? std::ldexp(1.0, resolution & 0x7f) : std::pow(10.0, resolution);
      info.ticks_per_ms = ticks_per_second / 1000;
    } else if (code == kIfTsoffset && value_bytes >= 8) {
      uint64_t raw = little_ ? uint64_t(Le32(buf + at + 4)) | uint64_t(Le32(buf + at + 8)) << 32 : uint64_t(Be32(buf + at + 4)) << 32 | uint64_t(Be32(buf + at + 8));
      info.offset_ms = double(int64_t(raw)) * 1000;
    }
    at += 4 + Pad4(value_bytes);
  }
  interfaces_.push_back(info);
}

// PcapngBlockParser.readEnhancedPacket.
void CaptureScanner::ReadEnhancedPacket(const uint8_t* buf, size_t pos, uint32_t length, uint32_t type, double base_offset) {
  if (pos + 24 > buffer_length_) {
    // A block shorter than its fixed fields at the very end of the buffer: TypeScript
    // reads NaN for the missing caplen bytes, and its caplen check fails (length < 24).
    Fail(base_offset + double(pos), "packet block claims NaN captured bytes, which does not fit its block length " + Dec(length));
    return;
  }
  // EPB: interface id (32 bits); PB: interface id and drop count (16 bits each).
  uint32_t interface_id = type == kBlockEpb ? U32(buf + pos + 8) : U16(buf + pos + 8);
  uint32_t ts_high = U32(buf + pos + 12);
  uint32_t ts_low = U32(buf + pos + 16);
  uint32_t caplen = U32(buf + pos + 20);
  if (caplen > kMaxCaplenBytes || 28 + Pad4(caplen) + 4 > length) {
    Fail(base_offset + double(pos), "packet block claims " + Dec(caplen) + " captured bytes, which does not fit its block length " + Dec(length) +
                                        (caplen > kMaxCaplenBytes ? " or the " + Dec(kMaxCaplenBytes) + "-byte limit" : ""));
    return;
  }
  if (interface_id >= interfaces_.size()) {
    Fail(base_offset + double(pos), "packet block names interface " + Dec(interface_id) + ", but the section describes " + Dec(double(interfaces_.size())));
    return;
  }
  const PcapngInterface& info = interfaces_[interface_id];
  if (info.snap_bytes > 0 && caplen > info.snap_bytes) {
    Fail(base_offset + double(pos),
         "packet block claims " + Dec(caplen) + " captured bytes, more than interface " + Dec(interface_id) + "'s snap length " + Dec(info.snap_bytes));
    return;
  }
  last_time_ms_ = (double(ts_high) * 4294967296.0 + double(ts_low)) / info.ticks_per_ms + info.offset_ms;
  Deliver(info, buf, pos + 28, caplen);
}

// PcapngBlockParser.readSimplePacket.
void CaptureScanner::ReadSimplePacket(const uint8_t* buf, size_t pos, uint32_t length, double base_offset) {
  if (interfaces_.empty()) {
    Fail(base_offset + double(pos), "simple packet block before any interface description block");
    return;
  }
  const PcapngInterface& info = interfaces_[0];
  uint32_t original_bytes = U32(buf + pos + 8);
  // The captured length is implied: the packet, cut to the snap length and to the block (§4.4).
  int64_t caplen = std::min<int64_t>(original_bytes, int64_t(length) - 16);
  if (info.snap_bytes > 0) caplen = std::min<int64_t>(caplen, info.snap_bytes);
  // A 12-byte block leaves a negative length, an empty frame to TypeScript (ScanBatchWriter).
  if (caplen < 0) caplen = 0;
  // An SPB carries no timestamp: it takes the previous packet's, so time never runs backwards.
  Deliver(info, buf, pos + 12, uint32_t(caplen));
}

// PcapngBlockParser.deliver, the packet's time in last_time_ms_.
void CaptureScanner::Deliver(const PcapngInterface& info, const uint8_t* buf, size_t at, uint32_t caplen) {
  packets_++;
  if (info.link_type < 0) {
    CountUnsupported(info.file_link_type);
    return;
  }
  OnPacket(info.link_type, buf + at, caplen, last_time_ms_);
}

// capture-scan.ts onPacket.
void CaptureScanner::OnPacket(int link_type, const uint8_t* frame, size_t length, double time_ms) {
  if (std::isnan(first_ms_)) first_ms_ = time_ms;
  // Records of several interfaces may interleave slightly out of order: the clock only moves forward.
  if (time_ms > now_ms_) now_ms_ = time_ms;
  SegmentInfo segment;
  int kind = ReadSegment(link_type, frame, long(length), &segment);
  if (kind != kOther) tcp_packets_++;
  if (kind == kPlain && coalesce_) {
    Plain(link_type, frame, length, time_ms, segment);
  } else {
    if (kind == kControl) Control(segment, time_ms);
    EmitFrame(link_type, frame, length, time_ms, true);
  }
  if (now_ms_ - last_tick_ms_ >= kTickMs) {
    Expire(now_ms_);
    EmitTick(now_ms_);
    last_tick_ms_ = now_ms_;
  }
}

// SegmentCoalescer.plain.
void CaptureScanner::Plain(int link_type, const uint8_t* frame, size_t length, double time_ms, const SegmentInfo& info) {
  auto found = connections_.find(info.key);
  Connection* connection = found == connections_.end() ? nullptr : found->second;
  if (connection != nullptr && connection->check != info.check) {
    EmitFrame(link_type, frame, length, time_ms, false);  // two connections share the key: decode this one in full
    return;
  }
  if (connection == nullptr) {
    if (connections_.size() >= max_connections_) DropOldest();
    if (!free_.empty()) {
      connection = free_.back();
      free_.pop_back();
    } else {
      pool_.push_back(std::make_unique<Connection>());
      connection = pool_.back().get();
    }
    connection->check = info.check;
    connection->last_ms = time_ms;
    connection->oldest_held_ms = kInfinity;
    IndexAdd(info.key, connection);
    DeliverNow(connection, link_type, frame, length, time_ms);
    return;
  }
  double gap_ms = time_ms - connection->last_ms;
  if (time_ms > connection->last_ms) connection->last_ms = time_ms;
  if (gap_ms >= kBurstGapMs) {
    Release(connection);
    DeliverNow(connection, link_type, frame, length, time_ms);
    return;
  }
  if (time_ms - connection->last_delivered_ms >= kBurstGapMs) ReleaseNewestDirection(connection);
  HeldFrame** frames = connection->frames;
  int last_index = info.direction * 2;
  HeldFrame* last = frames[last_index];
  if (last->held) {
    if (last->sameness == info.sameness && time_ms - last->time_ms <= kDuplicateWindowMs && last->link_type == link_type) {
      // A second copy of the held packet: only a higher TTL is kept (never written into the reader's buffer).
      bool readable = last->source != last->own || size_t(last->ttl_index) < kHeldBytes;
      if (readable && info.ttl > last->source[last->ttl_index]) {
        CopyOut(last);
        if (size_t(last->ttl_index) < kHeldBytes) last->own[last->ttl_index] = uint8_t(info.ttl);
      }
      return;
    }
    if (last->has_payload && !info.has_payload) {
      // Keep the payload-bearing segment: it sets the flow's last-payload time.
      frames[last_index] = frames[last_index + 1];
      frames[last_index + 1] = last;
      last = frames[last_index];
    } else if (info.has_payload) {
      frames[last_index + 1]->held = false;
    }
  }
  last->held = true;
  last->source = frame;
  last->length = std::min(length, kHeldBytes);
  if (!last->attached) {
    last->attached = true;
    attached_.push_back(last);
  }
  last->link_type = link_type;
  last->time_ms = time_ms;
  last->sameness = info.sameness;
  last->ttl_index = info.ttl_index;
  last->has_payload = info.has_payload;
  if (time_ms < connection->oldest_held_ms) connection->oldest_held_ms = time_ms;
}

// SegmentCoalescer.control.
void CaptureScanner::Control(const SegmentInfo& info, double time_ms) {
  auto found = connections_.find(info.key);
  if (found == connections_.end() || found->second->check != info.check) return;
  Connection* connection = found->second;
  Release(connection);
  if (time_ms > connection->last_ms) connection->last_ms = time_ms;
  if (time_ms > connection->last_delivered_ms) connection->last_delivered_ms = time_ms;
}

// SegmentCoalescer.detach.
void CaptureScanner::Detach() {
  for (HeldFrame* frame : attached_) CopyOut(frame);
  attached_.clear();
}

// SegmentCoalescer.expire: oldest first; a recycled connection keeps its `newer` link, so the walk goes on from it.
void CaptureScanner::Expire(double now_ms) {
  for (Connection* connection = oldest_; connection != nullptr; connection = connection->newer) {
    bool quiet = now_ms - connection->last_ms >= kBurstGapMs;
    if (quiet || now_ms - connection->oldest_held_ms >= hold_ms_) Release(connection);
    if (quiet) Recycle(connection);
  }
}

// SegmentCoalescer.releaseAll.
void CaptureScanner::ReleaseAll() {
  for (Connection* connection = oldest_; connection != nullptr; connection = connection->newer) {
    Release(connection);
    Recycle(connection);
  }
}

void CaptureScanner::DropOldest() {
  if (oldest_ == nullptr) return;
  Connection* oldest = oldest_;
  Release(oldest);
  Recycle(oldest);
}

// SegmentCoalescer.release: held frames oldest first (a stable insertion sort by time).
void CaptureScanner::Release(Connection* connection) {
  if (connection->oldest_held_ms == kInfinity) return;
  HeldFrame* frames[4];
  int count = 0;
  for (int index = 0; index < 4; index++) {
    HeldFrame* frame = connection->frames[index];
    if (!frame->held) continue;
    frame->held = false;
    int at = count++;
    while (at > 0 && frames[at - 1]->time_ms > frame->time_ms) {
      frames[at] = frames[at - 1];
      at--;
    }
    frames[at] = frame;
  }
  for (int index = 0; index < count; index++) {
    HeldFrame* frame = frames[index];
    DeliverNow(connection, frame->link_type, frame->source, frame->length, frame->time_ms);
  }
  connection->oldest_held_ms = kInfinity;
}

// SegmentCoalescer.releaseNewestDirection.
void CaptureScanner::ReleaseNewestDirection(Connection* connection) {
  HeldFrame** frames = connection->frames;
  int newest = !frames[0]->held ? 2 : !frames[2]->held ? 0 : frames[0]->time_ms >= frames[2]->time_ms ? 0 : 2;
  HeldFrame* last = frames[newest];
  if (!last->held) return;
  HeldFrame* payload = frames[newest + 1];
  if (payload->held) DeliverNow(connection, payload->link_type, payload->source, payload->length, payload->time_ms);
  DeliverNow(connection, last->link_type, last->source, last->length, last->time_ms);
  payload->held = false;
  last->held = false;
  HeldFrame* other = frames[2 - newest];
  HeldFrame* other_payload = frames[3 - newest];
  connection->oldest_held_ms = other->held ? std::min(other->time_ms, other_payload->held ? other_payload->time_ms : kInfinity) : kInfinity;
}

void CaptureScanner::DeliverNow(Connection* connection, int link_type, const uint8_t* frame, size_t length, double time_ms) {
  if (time_ms > connection->last_delivered_ms) connection->last_delivered_ms = time_ms;
  EmitFrame(link_type, frame, length, time_ms, false);
}

void CaptureScanner::CopyOut(HeldFrame* frame) {
  frame->attached = false;
  if (frame->source == frame->own) return;
  memcpy(frame->own, frame->source, frame->length);
  frame->source = frame->own;
}

void CaptureScanner::Recycle(Connection* connection) {
  IndexDelete(connection->key);
  free_.push_back(connection);
}

// ConnectionIndex.add: the newest in insertion order.
void CaptureScanner::IndexAdd(int32_t key, Connection* connection) {
  connections_.emplace(key, connection);
  connection->key = key;
  connection->older = newest_;
  connection->newer = nullptr;
  if (newest_ == nullptr) oldest_ = connection;
  else newest_->newer = connection;
  newest_ = connection;
}

// ConnectionIndex.delete: the entry keeps its `newer` link.
void CaptureScanner::IndexDelete(int32_t key) {
  auto found = connections_.find(key);
  if (found == connections_.end()) return;
  Connection* connection = found->second;
  connections_.erase(found);
  if (connection->older == nullptr) oldest_ = connection->newer;
  else connection->older->newer = connection->newer;
  if (connection->newer == nullptr) newest_ = connection->older;
  else connection->newer->older = connection->older;
  connection->older = nullptr;
}

// scan-batch.ts ScanBatchWriter.frame: kind, flags, link type, length, time, bytes padded to 8.
void CaptureScanner::EmitFrame(int link_type, const uint8_t* frame, size_t length, double time_ms, bool check_duplicate) {
  size_t at = output_.size();
  size_t padded = (length + 7) & ~size_t(7);
  output_.resize(at + kRecordHeaderBytes + padded);
  uint8_t* record = output_.data() + at;
  record[0] = kRecordFrame;
  record[1] = check_duplicate ? 1 : 0;
  record[2] = uint8_t(link_type);
  record[3] = uint8_t(link_type >> 8);
  uint32_t length32 = uint32_t(length);
  memcpy(record + 4, &length32, 4);  // little-endian hosts only (x86-64, arm64): as the frame batches of packet_ring.cc
  memcpy(record + 8, &time_ms, 8);
  memcpy(record + kRecordHeaderBytes, frame, length);
}

void CaptureScanner::EmitTick(double now_ms) {
  size_t at = output_.size();
  output_.resize(at + kRecordHeaderBytes);
  uint8_t* record = output_.data() + at;
  memset(record, 0, kRecordHeaderBytes);
  record[0] = kRecordTick;
  memcpy(record + 8, &now_ms, 8);
}

}  // namespace rstprobe
