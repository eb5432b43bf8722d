// A file descriptor (and optionally a memory mapping of it) watched by a libuv
// poll handle on the JavaScript thread's loop.
//
// libuv requires that a polled descriptor stays open until the handle's close
// callback has run (uv_poll_init(3), "The user should not close a file descriptor
// while it is being polled"), so Close() only stops polling and schedules
// uv_close; the descriptor is closed and the mapping unmapped in the close
// callback, which also frees this object. The owner must drop its pointer after
// Close() and never touch the mapping again.
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

  // Stops polling now; releases everything once libuv has closed the handle.
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
