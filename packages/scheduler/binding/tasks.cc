// tasks.cc - NativeTaskTimer: the binding for dbos_tasks_timer (dbos/tasks.h), plus its layout
// and limits, so the TypeScript side reads every word offset and bound from the C header.
#include <napi.h>

#include "dbos/binding.h"

extern "C" {
#include "dbos/tasks.h"
}

namespace dbos {

// The scan thread reads and writes the pool's SharedArrayBuffer through a raw pointer into its
// backing store.  The memory must outlive the thread, so this object holds a strong reference to
// the array until the thread was joined, and joins it in three places, whichever comes first:
// stop(), the finalizer, and the environment's teardown (process exit or worker termination,
// when V8 frees every buffer whether referenced or not).
class NativeTaskTimer : public Napi::ObjectWrap<NativeTaskTimer> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeTaskTimer",
				   {
					   InstanceMethod<&NativeTaskTimer::Activate>("activate"),
					   InstanceMethod<&NativeTaskTimer::Stats>("stats"),
					   InstanceMethod<&NativeTaskTimer::Stop>("stop"),
				   });
	}

	// new NativeTaskTimer(words: Int32Array over a SharedArrayBuffer, slotCount, quantumUs)
	NativeTaskTimer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeTaskTimer>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 3);
		if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
			throw ArgumentError(env, "words must be an Int32Array");
		Napi::Int32Array words = info[0].As<Napi::Int32Array>();
		// A plain ArrayBuffer can be detached or transferred under the thread; a shared one cannot.
		if (words.ArrayBuffer().IsArrayBuffer())
			throw ArgumentError(env, "words must be over a SharedArrayBuffer");
		uint64_t slot_count = ToUint64(info[1], "slotCount");
		uint64_t quantum_us = ToUint64(info[2], "quantumUs");
		if (slot_count > UINT32_MAX)
			ThrowIfFailed(env, DBOS_EINVAL, "slotCount");
		if (quantum_us > UINT32_MAX)
			ThrowIfFailed(env, DBOS_ERANGE, "quantumUs");
		ThrowIfFailed(env,
			      dbos_tasks_timer_start(reinterpret_cast<uint32_t *>(words.Data()), words.ElementLength(),
						     (uint32_t)slot_count, (uint32_t)quantum_us, &timer_),
			      "task timer");
		napi_create_reference(env, words, 1, &words_);
		napi_add_env_cleanup_hook(env, EnvTeardown, this);
		hooked_ = true;
	}

	~NativeTaskTimer()
	{
		StopTimer(true);
	}

      private:
	dbos_tasks_timer *timer_ = nullptr;
	napi_ref words_ = nullptr; // strong while the thread may run
	bool hooked_ = false;

	static void EnvTeardown(void *self)
	{
		auto *timer = static_cast<NativeTaskTimer *>(self);
		timer->hooked_ = false; // the hook list is being walked: it is removed by running
		timer->StopTimer(false);
	}

	// Join first, then let go of the memory. Never throws (finalizers and teardown call it).
	void StopTimer(bool unhook) noexcept
	{
		if (timer_) {
			dbos_tasks_timer_stop(timer_);
			timer_ = nullptr;
		}
		if (unhook && hooked_) {
			napi_remove_env_cleanup_hook(Env(), EnvTeardown, this);
			hooked_ = false;
		}
		if (words_) {
			(void)napi_delete_reference(Env(), words_);
			words_ = nullptr;
		}
	}

	// activate(active: boolean)
	Napi::Value Activate(const Napi::CallbackInfo &info)
	{
		if (!timer_)
			ThrowIfFailed(info.Env(), DBOS_ECLOSED, "task timer");
		dbos_tasks_timer_activate(timer_, info[0].ToBoolean());
		return info.Env().Undefined();
	}

	// stats() -> { scans, yieldsRequested }
	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!timer_)
			ThrowIfFailed(env, DBOS_ECLOSED, "task timer");
		struct dbos_tasks_timer_stats stats;
		dbos_tasks_timer_stats(timer_, &stats);
		Napi::Object result = Napi::Object::New(env);
		result.Set("scans", Napi::Number::New(env, (double)stats.scans));
		result.Set("yieldsRequested", Napi::Number::New(env, (double)stats.yields_requested));
		return result;
	}

	// stop(): idempotent
	Napi::Value Stop(const Napi::CallbackInfo &info)
	{
		StopTimer(true);
		return info.Env().Undefined();
	}
};

static Napi::Value Mechanism(const Napi::CallbackInfo &info)
{
	char line[256];
	size_t length = dbos_tasks_mechanism(line, sizeof(line));
	return Napi::String::New(info.Env(), line, length);
}

static Napi::Object Layout(Napi::Env env)
{
	Napi::Object layout = Napi::Object::New(env);
	layout.Set("headerWords", (double)DBOS_TASKS_HEADER_WORDS);
	layout.Set("slotWords", (double)DBOS_TASKS_SLOT_WORDS);
	layout.Set("waitingBest", (double)DBOS_TASKS_WAITING_BEST);
	layout.Set("epoch", (double)DBOS_TASKS_SLOT_EPOCH);
	layout.Set("class", (double)DBOS_TASKS_SLOT_CLASS);
	layout.Set("yield", (double)DBOS_TASKS_SLOT_YIELD);
	layout.Set("suspendedBest", (double)DBOS_TASKS_SLOT_SUSPENDED_BEST);
	layout.Set("ranEpoch", (double)DBOS_TASKS_SLOT_RAN_EPOCH);
	layout.Set("ranUs", (double)DBOS_TASKS_SLOT_RAN_US);
	layout.Set("cancel", (double)DBOS_TASKS_SLOT_CANCEL);
	layout.Set("classNone", (double)DBOS_TASKS_CLASS_NONE);
	return layout;
}

static Napi::Object Limits(Napi::Env env)
{
	Napi::Object limits = Napi::Object::New(env);
	limits.Set("quantumUsMin", (double)DBOS_TASKS_QUANTUM_US_MIN);
	limits.Set("quantumUsMax", (double)DBOS_TASKS_QUANTUM_US_MAX);
	limits.Set("quantumUsDefault", (double)DBOS_TASKS_QUANTUM_US_DEFAULT);
	limits.Set("slotCountMax", (double)DBOS_TASKS_SLOT_COUNT_MAX);
	limits.Set("agingUsDefault", (double)DBOS_SCHED_AGING_US_DEFAULT);
	limits.Set("agingUsMax", (double)DBOS_SCHED_AGING_US_MAX);
	return limits;
}

void InitTasks(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeTaskTimer", NativeTaskTimer::Define(env));
	exports.Set("tasksMechanism", Napi::Function::New(env, Mechanism, "tasksMechanism"));
	exports.Set("tasksLayout", Layout(env));
	exports.Set("tasksLimits", Limits(env));
}

} // namespace dbos
