// sampleClocks(): the three clocks read back to back, so trace timestamps
// (CLOCK_BOOTTIME/MONOTONIC, see tracefs trace_clock) convert to wall time.
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "addon.h"
#include "errors.h"

namespace rstprobe {

namespace {

uint64_t ReadClockNs(Napi::Env env, clockid_t clock) {
  timespec now;
  if (clock_gettime(clock, &now) != 0) ThrowErrno(env, "clock_gettime", errno);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u +
         static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace

Napi::Value SampleClocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // All three are read before any JavaScript value is allocated.
  const uint64_t monotonic_ns = ReadClockNs(env, CLOCK_MONOTONIC);
  const uint64_t realtime_ns = ReadClockNs(env, CLOCK_REALTIME);
  const uint64_t boottime_ns = ReadClockNs(env, CLOCK_BOOTTIME);
  Napi::Object sample = Napi::Object::New(env);
  sample.Set("realtimeNs", Napi::BigInt::New(env, realtime_ns));
  sample.Set("monotonicNs", Napi::BigInt::New(env, monotonic_ns));
  sample.Set("boottimeNs", Napi::BigInt::New(env, boottime_ns));
  return sample;
}

}  // namespace rstprobe
