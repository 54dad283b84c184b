// tasks.cc - scaffold: replaced by its owner.
#include <napi.h>

namespace dbos {
void InitTasks(Napi::Env, Napi::Object) {}
} // namespace dbos
