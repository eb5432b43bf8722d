// interfaceIndex(name): if_nametoindex(3).
#include <net/if.h>

#include <cerrno>

#include "addon.h"
#include "arguments.h"
#include "errors.h"

namespace rstprobe {

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireCString(info[0], "name");
  // A name that does not fit IFNAMSIZ cannot exist: the same ENODEV as any
  // unknown name, not a TypeError, since names usually come from users.
  if (name.size() >= IFNAMSIZ) ThrowErrno(env, "if_nametoindex", ENODEV);
  errno = 0;
  unsigned int index = if_nametoindex(name.c_str());
  if (index == 0) ThrowErrno(env, "if_nametoindex", errno != 0 ? errno : ENODEV);
  return Napi::Number::New(env, index);
}

}  // namespace rstprobe
