// Argument checks shared by the exported functions: each throws a TypeError that
// names the argument and what it must be, so a caller never reaches a syscall
// with a value the kernel would silently truncate or misread.
#ifndef RSTPROBE_NATIVE_ARGUMENTS_H_
#define RSTPROBE_NATIVE_ARGUMENTS_H_

#include <napi.h>

#include <cstdint>
#include <string>

namespace rstprobe {

// An integral Number in [min, max].
uint32_t RequireUint32(const Napi::Value& value, const char* name,
                       uint32_t min, uint32_t max);
int32_t RequireInt32(const Napi::Value& value, const char* name, int32_t min,
                     int32_t max);

Napi::Object RequireObject(const Napi::Value& value, const char* name);
Napi::Buffer<uint8_t> RequireBuffer(const Napi::Value& value, const char* name);
Napi::Function RequireFunction(const Napi::Value& value, const char* name);

// A non-empty string without NUL bytes (it is handed to C APIs).
std::string RequireCString(const Napi::Value& value, const char* name);

}  // namespace rstprobe

#endif  // RSTPROBE_NATIVE_ARGUMENTS_H_
