// kv_maintain.cc - the store's long calls, each on a pool thread: checkpoint, backup, check.
//
// Backup and check report progress: the C callback (on the pool thread) stores the newest
// figures and posts one call to the JavaScript thread unless one is queued, like the commit
// listener.  The JavaScript function returning false asks the C call to stop at its next
// progress report (DBOS_ECANCELED).
#include "kv_binding.h"

namespace dbos {

struct ProgressState {
	std::atomic<uint64_t> done{ 0 };
	std::atomic<uint64_t> total{ 0 };
	std::atomic<bool> posted{ false };
	std::atomic<bool> cancel{ false };
	std::atomic<bool> reported{ false }; // figures stored that no call has shown yet
	Napi::ThreadSafeFunction tsfn;
	bool live = false;
	bool settled = false; // JavaScript thread: the final report was made, later queued calls are stale
};

// Show the newest figures to `fn` (JavaScript thread); false from it, or an exception, cancels.
static void Report(Napi::Env env, Napi::Function fn, ProgressState *state)
{
	state->posted.store(false);
	if (state->settled || !state->reported.exchange(false))
		return;
	try {
		Napi::Value answer = fn.Call({ NumberOf(env, state->done.load()), NumberOf(env, state->total.load()) });
		if (answer.IsBoolean() && !answer.As<Napi::Boolean>().Value())
			state->cancel.store(true);
	} catch (...) {
		// The listener threw: stop the work (its exception is not reported twice).
		state->cancel.store(true);
	}
}

// A call with an optional progress function (undefined: none).
class ProgressCall : public KvAsyncCall {
      public:
	ProgressCall(Napi::Env env, const char *resource, NativeKv *owner, dbos_kv *kv, const Napi::Value &progress)
	    : KvAsyncCall(env, resource, owner, kv), state_(std::make_shared<ProgressState>())
	{
		if (progress.IsUndefined() || progress.IsNull())
			return;
		if (!progress.IsFunction())
			throw ArgumentError(env, "onProgress must be a function");
		state_->tsfn = Napi::ThreadSafeFunction::New(env, progress.As<Napi::Function>(), resource, 0, 1);
		state_->live = true;
		callback_ = Napi::Persistent(progress.As<Napi::Function>());
	}

      protected:
	static bool OnProgress(void *context, uint64_t done_bytes, uint64_t total_bytes)
	{
		auto *self = static_cast<ProgressCall *>(context);
		std::shared_ptr<ProgressState> state = self->state_;
		if (state->cancel.load())
			return false;
		if (!state->live)
			return true;
		state->done.store(done_bytes);
		state->total.store(total_bytes);
		state->reported.store(true);
		if (!state->posted.exchange(true)) {
			napi_status posted = state->tsfn.NonBlockingCall(
				[state](Napi::Env env, Napi::Function fn) { Report(env, fn, state.get()); });
			if (posted != napi_ok)
				state->posted.store(false);
		}
		return true;
	}

	// Before the promise settles, the newest figures are shown here: a queued call would only
	// arrive after the caller's continuation ran.
	void Settled() noexcept override
	{
		if (!state_->live)
			return;
		try {
			Report(Env(), callback_.Value(), state_.get());
		} catch (...) {
		}
		state_->settled = true;
		state_->live = false;
		state_->tsfn.Release();
		callback_.Reset();
	}

	std::shared_ptr<ProgressState> state_;
	Napi::FunctionReference callback_;
};

class CheckpointWorker : public KvAsyncCall {
      public:
	CheckpointWorker(Napi::Env env, NativeKv *owner, dbos_kv *kv)
	    : KvAsyncCall(env, "dbos:kv:checkpoint", owner, kv)
	{}

      protected:
	void Execute() override
	{
		Record(dbos_kv_checkpoint(kv_));
	}
	const char *Name() const override
	{
		return "checkpoint";
	}
};

class BackupWorker : public ProgressCall {
      public:
	BackupWorker(Napi::Env env, NativeKv *owner, dbos_kv *kv, std::string dest, const Napi::Value &progress)
	    : ProgressCall(env, "dbos:kv:backup", owner, kv, progress), dest_(std::move(dest))
	{}

      protected:
	void Execute() override
	{
		Record(dbos_kv_backup(kv_, dest_.c_str(), &ProgressCall::OnProgress, this));
	}
	const char *Name() const override
	{
		return "backup";
	}

      private:
	std::string dest_;
};

class CheckWorker : public ProgressCall {
      public:
	CheckWorker(Napi::Env env, NativeKv *owner, dbos_kv *kv, const Napi::Value &progress)
	    : ProgressCall(env, "dbos:kv:check", owner, kv, progress)
	{}

      protected:
	void Execute() override
	{
		Record(dbos_kv_check(kv_, &ProgressCall::OnProgress, this));
	}
	const char *Name() const override
	{
		return "check";
	}
};

template <typename Worker> static Napi::Value Start(Worker *worker)
{
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// checkpointAsync() -> Promise<void>
Napi::Value NativeKv::CheckpointAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	return Start(new CheckpointWorker(env, this, Current(env)));
}

// backupAsync(destDir, onProgress?) -> Promise<void>
Napi::Value NativeKv::BackupAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 2);
	dbos_kv *kv = Current(env);
	if (!info[0].IsString())
		throw ArgumentError(env, "destDir must be a string");
	std::string dest = info[0].As<Napi::String>().Utf8Value();
	if (dest.empty() || dest.find('\0') != std::string::npos)
		throw ArgumentError(env, "destDir must be a non-empty string without NUL characters");
	return Start(new BackupWorker(env, this, kv, std::move(dest), info[1]));
}

// checkAsync(onProgress?) -> Promise<void>
Napi::Value NativeKv::CheckAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 1);
	return Start(new CheckWorker(env, this, Current(env), info[0]));
}

} // namespace dbos
