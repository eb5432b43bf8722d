#include "arguments.h"

#include <cmath>

#include "errors.h"

namespace rstprobe {

namespace {

double RequireInteger(const Napi::Value& value, const char* name, double min,
                      double max) {
  if (value.IsNumber()) {
    double number = value.As<Napi::Number>().DoubleValue();
    if (std::isfinite(number) && std::trunc(number) == number &&
        number >= min && number <= max) {
      return number;
    }
  }
  ThrowTypeError(value.Env(), std::string(name) + " must be an integer from " +
                                  std::to_string(static_cast<int64_t>(min)) +
                                  " to " +
                                  std::to_string(static_cast<int64_t>(max)));
}

}  // namespace

uint32_t RequireUint32(const Napi::Value& value, const char* name,
                       uint32_t min, uint32_t max) {
  return static_cast<uint32_t>(RequireInteger(value, name, min, max));
}

int32_t RequireInt32(const Napi::Value& value, const char* name, int32_t min,
                     int32_t max) {
  return static_cast<int32_t>(RequireInteger(value, name, min, max));
}

Napi::Object RequireObject(const Napi::Value& value, const char* name) {
  if (!value.IsObject()) {
    ThrowTypeError(value.Env(), std::string(name) + " must be an object");
  }
  return value.As<Napi::Object>();
}

Napi::Buffer<uint8_t> RequireBuffer(const Napi::Value& value,
                                    const char* name) {
  if (!value.IsBuffer()) {
    ThrowTypeError(value.Env(), std::string(name) + " must be a Buffer");
  }
  return value.As<Napi::Buffer<uint8_t>>();
}

Napi::Function RequireFunction(const Napi::Value& value, const char* name) {
  if (!value.IsFunction()) {
    ThrowTypeError(value.Env(), std::string(name) + " must be a function");
  }
  return value.As<Napi::Function>();
}

std::string RequireCString(const Napi::Value& value, const char* name) {
  if (value.IsString()) {
    std::string text = value.As<Napi::String>().Utf8Value();
    if (!text.empty() && text.find('\0') == std::string::npos) return text;
  }
  ThrowTypeError(value.Env(), std::string(name) +
                                  " must be a non-empty string without NUL bytes");
}

}  // namespace rstprobe
