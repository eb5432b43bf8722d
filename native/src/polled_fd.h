// A file descriptor (and optionally a memory mapping of it) watched by a libuv
// poll handle on the JavaScript thread's loop.
//
// Close() releases the descriptor and the mapping at once, so a caller can rely
// on them being gone when close() returns (e.g. to remove a tracefs instance,
// which is busy while its trace_pipe is open). libuv allows it: "the fd can be
// safely closed immediately after a call to uv_poll_stop() or uv_close()"
// (docs/src/poll.rst); uv_poll_stop also drops the descriptor from epoll and
// from the events pending in this loop iteration (uv__platform_invalidate_fd).
// Only the handle's memory waits for uv_close's callback, which frees this
// object; the owner must drop its pointer after Close().
#ifndef RSTPROBE_NATIVE_POLLED_FD_H_
#define RSTPROBE_NATIVE_POLLED_FD_H_

#include <uv.h>

#include <cstddef>

namespace rstprobe {

class PolledFd {
 public:
  using ReadableCallback = void (*)(void* owner, int status);

  // Takes ownership of `fd` and of `mapping` (may be nullptr) in every case.
  // Returns nullptr and sets *errnum (positive errno) when the descriptor cannot
  // be polled, e.g. EPERM for a regular file, which epoll refuses.
  static PolledFd* Create(uv_loop_t* loop, int fd, void* mapping,
                          size_t mapping_bytes, int* errnum);

  // Calls `callback(owner, status)` each time the descriptor is readable (or
  // has an error or hangup, which read(2)/getsockopt(2) then report);
  // status < 0 is a libuv error. Returns 0 or a positive errno.
  int Start(ReadableCallback callback, void* owner);

  // Stops polling, closes the descriptor and unmaps now; frees this object
  // once libuv has closed the handle.
  void Close();

  int fd() const { return fd_; }

 private:
  PolledFd(int fd, void* mapping, size_t mapping_bytes);
  ~PolledFd();
  PolledFd(const PolledFd&) = delete;
  PolledFd& operator=(const PolledFd&) = delete;

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClosed(uv_handle_t* handle);

  uv_poll_t handle_;
  int fd_;
  void* mapping_;
  size_t mapping_bytes_;
  ReadableCallback callback_ = nullptr;
  void* owner_ = nullptr;
};

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_POLLED_FD_H_
