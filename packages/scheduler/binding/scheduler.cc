// scheduler.cc - scaffold: replaced by its owner.
#include <napi.h>

namespace dbos {
void InitScheduler(Napi::Env, Napi::Object) {}
} // namespace dbos
