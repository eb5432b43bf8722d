#include "poll_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "arguments.h"
#include "errors.h"
#include "readable_callback.h"

namespace rstprobe {

namespace {

constexpr uint32_t kMaxChunkBytes = 16u << 20;

// Reads per readable event before yielding to the loop, so a writer that never
// pauses (a busy trace_pipe) cannot starve timers and sockets. The poll is
// level-triggered: what is left is read on the next turn.
constexpr int kMaxReadsPerEvent = 64;

}  // namespace

Napi::Function PollReader::DefineClass(Napi::Env env) {
  return ObjectWrap<PollReader>::DefineClass(
      env, "PollReader", {InstanceMethod<&PollReader::Close>("close")});
}

PollReader::PollReader(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PollReader>(info) {
  Napi::Env env = info.Env();
  const std::string path = RequireCString(info[0], "path");
  const uint32_t chunk_bytes =
      RequireUint32(info[1], "chunkBytes", 1, kMaxChunkBytes);
  Napi::Function on_data = RequireFunction(info[2], "onData");
  Napi::Function on_error = RequireFunction(info[3], "onError");

  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, "open", errno);
  int poll_errno = 0;
  // Takes the descriptor; EPERM here means epoll refuses it (a regular file).
  PolledFd* polled = PolledFd::Create(EventLoop(env), fd, nullptr, 0, &poll_errno);
  if (polled == nullptr) ThrowErrno(env, "uv_poll_init", poll_errno);
  polled_ = polled;
  chunk_.resize(chunk_bytes);
  on_data_ = Napi::Persistent(on_data);
  on_error_ = Napi::Persistent(on_error);
  // A fresh resource object: `this` would keep the reader alive forever.
  async_context_ = std::make_unique<Napi::AsyncContext>(
      env, "rstprobe.PollReader", Napi::Object::New(env));
  // Last: from here on the loop holds `this`, so nothing below may throw
  // without undoing it.
  int start_errno = polled_->Start(&CallHandleReadable<PollReader>, this);
  if (start_errno != 0) {
    polled_->Close();
    polled_ = nullptr;
    ThrowErrno(env, "uv_poll_start", start_errno);
  }
  // A polling reader stays alive without a JavaScript reference, like a socket.
  Ref();
}

PollReader::~PollReader() { Release(false); }

Napi::Value PollReader::Close(const Napi::CallbackInfo& info) {
  Release(true);
  return info.Env().Undefined();
}

void PollReader::Release(bool from_js) {
  if (polled_ == nullptr) return;
  polled_->Close();
  polled_ = nullptr;
  if (from_js) {
    // Breaks the cycle reader -> closure -> reader. The async context stays
    // until the destructor: we may be inside a callback that runs in it.
    on_data_.Reset();
    on_error_.Reset();
    Unref();
  }
}

void PollReader::HandleReadable(int status) {
  Napi::Env env = Env();
  // Holds the reader alive through onData, which may close it.
  [[maybe_unused]] const Napi::Object self = Value();
  if (status < 0) {
    Fail(ErrnoError(env, "uv_poll", -status));
    return;
  }
  for (int reads = 0; reads < kMaxReadsPerEvent && polled_ != nullptr;
       ++reads) {
    ssize_t bytes = read(polled_->fd(), chunk_.data(), chunk_.size());
    if (bytes > 0) {
      Napi::HandleScope chunk_scope(env);
      CallJs(on_data_.Value(),
             {Napi::Buffer<uint8_t>::Copy(env, chunk_.data(),
                                          static_cast<size_t>(bytes))});
    } else if (bytes == 0) {
      // End of file, e.g. the last writer of a FIFO closed it. epoll keeps
      // reporting EPOLLHUP from then on (fs/pipe.c, pipe_poll), so polling on
      // would spin: report it as an error with code 'EOF' and close.
      Fail(EndOfFileError(env, "read"));
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      Fail(ErrnoError(env, "read", errno));
      return;
    }
  }
}

void PollReader::Fail(const Napi::Error& error) {
  Napi::Function on_error = on_error_.Value();
  Release(true);
  CallJs(on_error, {error.Value()});
}

void PollReader::CallJs(const Napi::Function& callback,
                        const std::initializer_list<napi_value>& args) {
  try {
    callback.MakeCallback(Value(), args, *async_context_);
  } catch (const Napi::Error& error) {
    ReportUncaught(Env(), error);
  }
}

}  // namespace rstprobe
