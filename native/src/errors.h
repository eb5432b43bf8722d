// Errors thrown or passed to callbacks by the addon. The contract
// (src/capture/native-binding.ts) promises an Error whose `code` is the errno
// name and whose `syscall` names the failing call, or a TypeError naming the bad
// argument; nothing else.
#ifndef RSTPROBE_NATIVE_ERRORS_H_
#define RSTPROBE_NATIVE_ERRORS_H_

#include <napi.h>

#include <string>

namespace rstprobe {

// Error "<syscall>: <strerror>" with `code` ("EPERM", …) and `syscall` set.
// `errnum` is a positive errno value.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int errnum);

// The same error as ErrnoError, thrown.
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int errnum);

// End of file on a polled descriptor: code "EOF", like Node's own streams.
Napi::Error EndOfFileError(Napi::Env env, const char* syscall);

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);

// Reports an exception thrown by a JavaScript callback that native code called
// from the event loop (there is no JavaScript caller to rethrow it to): it becomes
// an 'uncaughtException', exactly as a throwing 'data' listener of a net.Socket.
void ReportUncaught(Napi::Env env, const Napi::Error& error);

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_ERRORS_H_
