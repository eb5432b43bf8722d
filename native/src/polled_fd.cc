#include "polled_fd.h"

#include <sys/mman.h>
#include <unistd.h>

namespace rstprobe {

PolledFd::PolledFd(int fd, void* mapping, size_t mapping_bytes)
    : fd_(fd), mapping_(mapping), mapping_bytes_(mapping_bytes) {
  handle_.data = this;
}

PolledFd::~PolledFd() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
  if (fd_ >= 0) close(fd_);
}

PolledFd* PolledFd::Create(uv_loop_t* loop, int fd, void* mapping,
                           size_t mapping_bytes, int* errnum) {
  PolledFd* polled = new PolledFd(fd, mapping, mapping_bytes);
  int status = uv_poll_init(loop, &polled->handle_, fd);
  if (status < 0) {
    // The handle was never registered with the loop: free synchronously.
    delete polled;
    *errnum = -status;
    return nullptr;
  }
  polled->handle_.data = polled;
  return polled;
}

int PolledFd::Start(ReadableCallback callback, void* owner) {
  callback_ = callback;
  owner_ = owner;
  int status = uv_poll_start(&handle_, UV_READABLE, OnPoll);
  return status < 0 ? -status : 0;
}

void PolledFd::Close() {
  uv_poll_stop(&handle_);
  callback_ = nullptr;
  owner_ = nullptr;
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), OnClosed);
}

void PolledFd::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  PolledFd* polled = static_cast<PolledFd*>(handle->data);
  if (polled->callback_ != nullptr) polled->callback_(polled->owner_, status);
}

void PolledFd::OnClosed(uv_handle_t* handle) {
  delete static_cast<PolledFd*>(handle->data);
}

}  // namespace rstprobe
