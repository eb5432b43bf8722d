#include "errors.h"

#include <string.h>
#include <uv.h>

namespace rstprobe {

namespace {

Napi::Error SystemError(Napi::Env env, const char* syscall, const char* code,
                        const std::string& description) {
  Napi::Error error =
      Napi::Error::New(env, std::string(syscall) + ": " + description);
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int errnum) {
  // libuv defines UV_E* as the negated errno on Linux, so uv_err_name_r gives the
  // same names Node uses for its own fs/net errors ("EPERM", "ENODEV", …).
  char code[64];
  uv_err_name_r(-errnum, code, sizeof code);
  // strerror(3) is thread-safe in glibc >= 2.32 and we only run on the JS thread.
  return SystemError(env, syscall, code, strerror(errnum));
}

void ThrowErrno(Napi::Env env, const char* syscall, int errnum) {
  throw ErrnoError(env, syscall, errnum);
}

Napi::Error EndOfFileError(Napi::Env env, const char* syscall) {
  return SystemError(env, syscall, "EOF", "end of file");
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void ReportUncaught(Napi::Env env, const Napi::Error& error) {
  napi_fatal_exception(env, error.Value());
}

}  // namespace rstprobe
