// StormGuard: the native half of src/capture/storm-guard.ts. In a reset storm
// (hundreds of thousands of RSTs a second) most RSTs between the same two
// addresses say nothing new; copying each one into the batch and visiting it in
// JavaScript cost the agent several times tcpdump's CPU. The ring asks this
// guard about every frame before copying it: RSTs past a per-class token bucket
// are only counted here and never reach JavaScript. The class key and the bucket
// follow storm-guard.ts exactly (same 53-bit hash of the address bytes, same
// rate and burst), so JavaScript can compute the key of an admitted RST itself
// and join the counts to its finding.
#ifndef RSTPROBE_NATIVE_STORM_GUARD_H_
#define RSTPROBE_NATIVE_STORM_GUARD_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace rstprobe {

struct StormCount {
  uint64_t class_key;
  uint64_t count;
  double first_ms;
  double last_ms;
};

class StormGuard {
 public:
  StormGuard(double rate_per_second, double burst, size_t max_classes)
      : rate_per_second_(rate_per_second),
        burst_(burst),
        max_classes_(max_classes) {}

  // True when the frame (network-layer bytes, `protocol` its EtherType) is a
  // RST to drop after counting it; false for everything else.
  bool Suppress(const uint8_t* bytes, size_t length, uint16_t protocol,
                double time_ms);

  // Counts suppressed since the last call; forgets classes idle for `idle_ms`
  // (judged by the newest frame time seen).
  std::vector<StormCount> Drain(double idle_ms);

  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  struct Class {
    double tokens;
    double refilled_ms;
    uint64_t suppressed;
    double first_suppressed_ms;
    double last_suppressed_ms;
    double last_seen_ms;
  };
  void EvictIdle(double now_ms);

  double rate_per_second_;
  double burst_;
  size_t max_classes_;
  double newest_ms_ = 0;
  uint64_t suppressed_total_ = 0;
  std::unordered_map<uint64_t, Class> classes_;
};

// The key of a TCP RST's (source, destination) addresses: hash53 of
// src/capture/dedup.ts over the address bytes, or -1 when the bytes are not a
// TCP RST with its header captured (see resetClassKey in storm-guard.ts).
int64_t ResetClassKey(const uint8_t* bytes, size_t length, uint16_t protocol);

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_STORM_GUARD_H_
