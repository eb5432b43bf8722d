// Module entry: exports the functions of NativeBinding
// (src/capture/native-binding.ts).
#include "addon.h"

#include "capture_scan.h"
#include "errors.h"
#include "packet_ring.h"
#include "poll_reader.h"

namespace rstprobe {

namespace {

Napi::Value OpenPacketRing(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  return data->packet_ring_class.New({info[0]});
}

Napi::Value OpenPollReader(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  return data->poll_reader_class.New({info[0], info[1], info[2], info[3]});
}

Napi::Value OpenCaptureScanner(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  return data->capture_scanner_class.New({info[0]});
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = new AddonData();
  data->packet_ring_class = Napi::Persistent(PacketRing::DefineClass(env));
  data->poll_reader_class = Napi::Persistent(PollReader::DefineClass(env));
  data->capture_scanner_class = Napi::Persistent(CaptureScanner::DefineClass(env));
  env.SetInstanceData(data);  // deleted with the environment
  exports.Set("openPacketRing", Napi::Function::New<OpenPacketRing>(env, "openPacketRing"));
  exports.Set("openPollReader", Napi::Function::New<OpenPollReader>(env, "openPollReader"));
  exports.Set("openCaptureScanner", Napi::Function::New<OpenCaptureScanner>(env, "openCaptureScanner"));
  exports.Set("sampleClocks", Napi::Function::New<SampleClocks>(env, "sampleClocks"));
  exports.Set("interfaceIndex", Napi::Function::New<InterfaceIndex>(env, "interfaceIndex"));
  return exports;
}

}  // namespace

uv_loop_t* EventLoop(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "napi_get_uv_event_loop failed");
  }
  return loop;
}

}  // namespace rstprobe

// NODE_API_MODULE pastes the name into an identifier: it must be unqualified.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return rstprobe::Init(env, exports);
}

NODE_API_MODULE(rstprobe_native, InitModule)
