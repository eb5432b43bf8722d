// PollReader: a file opened O_RDONLY|O_NONBLOCK and read from the JavaScript
// thread's loop whenever epoll says it is readable. Made for tracefs
// trace_pipe, whose non-blocking reads return EAGAIN when empty and which
// supports poll (kernel/trace/trace.c, tracing_poll_pipe); a blocking fs read
// would pin one of libuv's four pool threads forever.
#ifndef RSTPROBE_NATIVE_POLL_READER_H_
#define RSTPROBE_NATIVE_POLL_READER_H_

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "polled_fd.h"

namespace rstprobe {

class PollReader : public Napi::ObjectWrap<PollReader> {
 public:
  static Napi::Function DefineClass(Napi::Env env);

  // new PollReader(path, chunkBytes, onData, onError): opens and starts polling.
  explicit PollReader(const Napi::CallbackInfo& info);
  ~PollReader() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);

  template <typename Owner>
  friend void CallHandleReadable(void* owner, int status);
  void HandleReadable(int status);
  void Release(bool from_js);
  void Fail(const Napi::Error& error);
  void CallJs(const Napi::Function& callback,
              const std::initializer_list<napi_value>& args);

  PolledFd* polled_ = nullptr;  // nullptr once closed
  std::vector<uint8_t> chunk_;
  Napi::FunctionReference on_data_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
};

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_POLL_READER_H_
