// Shared by the addon's files: the per-environment data and the functions that
// addon.cc exports (one Node-API environment per thread: main or worker).
#ifndef RSTPROBE_NATIVE_ADDON_H_
#define RSTPROBE_NATIVE_ADDON_H_

#include <napi.h>
#include <uv.h>

namespace rstprobe {

struct AddonData {
  Napi::FunctionReference packet_ring_class;
  Napi::FunctionReference poll_reader_class;
  Napi::FunctionReference capture_scanner_class;
};

// The loop of the JavaScript thread that owns `env`; poll handles live there.
uv_loop_t* EventLoop(Napi::Env env);

Napi::Value SampleClocks(const Napi::CallbackInfo& info);
Napi::Value InterfaceIndex(const Napi::CallbackInfo& info);

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_ADDON_H_
