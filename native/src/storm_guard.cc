#include "storm_guard.h"

#include <algorithm>

namespace rstprobe {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeQinQ = 0x88a8;
constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kTcpFlagRst = 0x04;

// hash53 of src/capture/dedup.ts: FNV-1a and a murmur-style lane, 32-bit
// wrapping arithmetic (Math.imul), joined into an exact JavaScript number.
uint64_t Hash53(const uint8_t* bytes, size_t start, size_t end) {
  uint32_t lane1 = 0x811c9dc5u;
  uint32_t lane2 = 0x01000193u ^ static_cast<uint32_t>(end - start);
  for (size_t i = start; i < end; ++i) {
    const uint32_t byte = bytes[i];
    lane1 = (lane1 ^ byte) * 0x01000193u;
    lane2 = ((lane2 ^ byte) * 0x5bd1e995u) ^ (lane2 >> 15);
  }
  return (static_cast<uint64_t>(lane1) << 21) | (lane2 & 0x1fffffu);
}

}  // namespace

int64_t ResetClassKey(const uint8_t* bytes, size_t length, uint16_t protocol) {
  size_t ip = 0;
  if ((protocol == kEtherTypeVlan || protocol == kEtherTypeQinQ) && length >= 4) {
    // A VLAN tag left in the data: [TCI, inner EtherType] before the IP header.
    protocol = static_cast<uint16_t>((bytes[2] << 8) | bytes[3]);
    ip = 4;
  }
  if (protocol != kEtherTypeIpv4 && protocol != kEtherTypeIpv6) return -1;
  if (length < ip + 20) return -1;
  const unsigned version = bytes[ip] >> 4;
  size_t address_start;
  size_t address_end;
  size_t flags_index;
  if (version == 4) {
    const unsigned fragment_offset = ((bytes[ip + 6] & 0x1f) << 8) | bytes[ip + 7];
    if (bytes[ip + 9] != kIpProtoTcp || fragment_offset != 0) return -1;
    address_start = ip + 12;
    address_end = ip + 20;
    flags_index = ip + (bytes[ip] & 0x0f) * 4 + 13;
  } else if (version == 6) {
    if (bytes[ip + 6] != kIpProtoTcp) return -1;
    address_start = ip + 8;
    address_end = ip + 40;
    flags_index = ip + 40 + 13;
  } else {
    return -1;
  }
  if (flags_index >= length || (bytes[flags_index] & kTcpFlagRst) == 0) return -1;
  return static_cast<int64_t>(Hash53(bytes, address_start, address_end));
}

bool StormGuard::Suppress(const uint8_t* bytes, size_t length,
                          uint16_t protocol, double time_ms) {
  const int64_t key = ResetClassKey(bytes, length, protocol);
  if (key < 0) return false;
  if (time_ms > newest_ms_) newest_ms_ = time_ms;
  auto found = classes_.find(static_cast<uint64_t>(key));
  if (found == classes_.end()) {
    if (classes_.size() >= max_classes_) EvictIdle(time_ms);
    found = classes_
                .emplace(static_cast<uint64_t>(key),
                         Class{burst_, time_ms, 0, 0, 0, time_ms})
                .first;
  }
  Class& storm = found->second;
  storm.last_seen_ms = time_ms;
  const double elapsed_ms = time_ms - storm.refilled_ms;
  if (elapsed_ms > 0) {
    storm.tokens =
        std::min(burst_, storm.tokens + elapsed_ms * rate_per_second_ / 1000);
    storm.refilled_ms = time_ms;
  }
  if (storm.tokens >= 1) {
    storm.tokens -= 1;
    return false;
  }
  if (storm.suppressed == 0) storm.first_suppressed_ms = time_ms;
  ++storm.suppressed;
  storm.last_suppressed_ms = time_ms;
  ++suppressed_total_;
  return true;
}

std::vector<StormCount> StormGuard::Drain(double idle_ms) {
  std::vector<StormCount> counts;
  for (auto it = classes_.begin(); it != classes_.end();) {
    Class& storm = it->second;
    if (storm.suppressed > 0) {
      counts.push_back({it->first, storm.suppressed, storm.first_suppressed_ms,
                        storm.last_suppressed_ms});
      storm.suppressed = 0;
      ++it;
    } else if (newest_ms_ - storm.last_seen_ms > idle_ms) {
      it = classes_.erase(it);
    } else {
      ++it;
    }
  }
  return counts;
}

void StormGuard::EvictIdle(double now_ms) {
  for (auto it = classes_.begin(); it != classes_.end();) {
    if (it->second.suppressed == 0 && now_ms - it->second.last_seen_ms > 1000) {
      it = classes_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace rstprobe
