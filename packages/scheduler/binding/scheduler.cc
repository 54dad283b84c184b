// scheduler.cc - what JavaScript sees of the native scheduler (dbos/scheduler.h): its limits,
// priority classes and mechanism line.  Native tasks are C functions, so they are submitted from
// C, not from here.
#include <napi.h>

#include "dbos/binding.h"

extern "C" {
#include "dbos/scheduler.h"
}

namespace dbos {

static Napi::Object Limits(Napi::Env env)
{
	Napi::Object limits = Napi::Object::New(env);
	limits.Set("quantumUsDefault", (double)DBOS_SCHED_QUANTUM_US_DEFAULT);
	limits.Set("quantumUsMin", (double)DBOS_SCHED_QUANTUM_US_MIN);
	limits.Set("quantumUsMax", (double)DBOS_SCHED_QUANTUM_US_MAX);
	limits.Set("workersMax", (double)DBOS_SCHED_WORKERS_MAX);
	limits.Set("agingUsDefault", (double)DBOS_SCHED_AGING_US_DEFAULT);
	limits.Set("agingUsMax", (double)DBOS_SCHED_AGING_US_MAX);
	return limits;
}

static Napi::Object Priorities(Napi::Env env)
{
	Napi::Object priorities = Napi::Object::New(env);
	priorities.Set("latency", (double)DBOS_SCHED_LATENCY);
	priorities.Set("normal", (double)DBOS_SCHED_NORMAL);
	priorities.Set("background", (double)DBOS_SCHED_BACKGROUND);
	return priorities;
}

// schedMechanism() -> the line dbos_sched_mechanism() writes
static Napi::Value Mechanism(const Napi::CallbackInfo &info)
{
	char line[512];
	dbos_sched_mechanism(line, sizeof(line));
	return Napi::String::New(info.Env(), line);
}

void InitScheduler(Napi::Env env, Napi::Object exports)
{
	exports.Set("schedLimits", Limits(env));
	exports.Set("schedPriorities", Priorities(env));
	exports.Set("schedMechanism", Napi::Function::New(env, Mechanism, "schedMechanism"));
}

} // namespace dbos
