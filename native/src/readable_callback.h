// The PolledFd::ReadableCallback of an addon object that polls a descriptor
// (PacketRing, PollReader): libuv calls it from the loop with no JavaScript on
// the stack, so it opens the handle scope the owner's HandleReadable needs and
// reports a JavaScript exception that escapes it as uncaught (there is no caller
// to throw to).
#ifndef RSTPROBE_NATIVE_READABLE_CALLBACK_H_
#define RSTPROBE_NATIVE_READABLE_CALLBACK_H_

#include <napi.h>

#include "errors.h"

namespace rstprobe {

// Owner declares `template <typename T> friend void CallHandleReadable(void*, int);`
// and has `void HandleReadable(int status)`; pass &CallHandleReadable<Owner> to
// PolledFd::Start with the owner as `owner`.
template <typename Owner>
void CallHandleReadable(void* owner, int status) {
  Owner* self = static_cast<Owner*>(owner);
  Napi::Env env = self->Env();
  try {
    Napi::HandleScope scope(env);
    self->HandleReadable(status);
  } catch (const Napi::Error& error) {
    ReportUncaught(env, error);
  }
}

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_READABLE_CALLBACK_H_
