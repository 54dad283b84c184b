// bp_pool.cc - NativeBufferPool: one dbos_bp behind a JS handle, and the views of its pages.
//
// Views are external ArrayBuffers over a fixed page's payload, made without a finalizer: the
// pool owns the memory.  Three rules keep every view safe to touch from JavaScript:
//   1. a view exists only while its page is fixed (the pool neither evicts nor moves the page);
//   2. unfix detaches the view before the page is unfixed: every typed array over it then has
//      length 0, and nothing can reach the page after it may be evicted;
//   3. a view JavaScript moved out of our reach (ArrayBuffer.prototype.transfer() on Node 22+
//      makes a new buffer over the same memory; we find ours detached) "escaped": its page is
//      never unfixed, so the moved buffer never sees an evicted page, and close() is refused
//      (DBOS_EBUSY) rather than unmapping memory it can still reach.
// Latches belong to threads (dbos/bufferpool.h): every fix that makes a view runs on the
// JavaScript thread, like its unfix.  The async load only warms pages on a worker thread (fix
// and unfix there), so the JavaScript thread's fix finds them resident.
#include <cstdio>
#include <string>

#include "bp_binding.h"

namespace dbos {

class NativeBufferPool : public Napi::ObjectWrap<NativeBufferPool> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeBufferPool",
				   {
					   InstanceAccessor<&NativeBufferPool::PageSize>("pageSize"),
					   InstanceAccessor<&NativeBufferPool::PayloadSize>("payloadSize"),
					   InstanceMethod<&NativeBufferPool::PageCount>("pageCount"),
					   InstanceMethod<&NativeBufferPool::Fix>("fix"),
					   InstanceMethod<&NativeBufferPool::FixMany>("fixMany"),
					   InstanceMethod<&NativeBufferPool::LoadAsync>("loadAsync"),
					   InstanceMethod<&NativeBufferPool::Unfix>("unfix"),
					   InstanceMethod<&NativeBufferPool::OptimisticBegin>("optimisticBegin"),
					   InstanceMethod<&NativeBufferPool::OptimisticEnd>("optimisticEnd"),
					   InstanceMethod<&NativeBufferPool::Prefetch>("prefetch"),
					   InstanceMethod<&NativeBufferPool::Allocate>("allocate"),
					   InstanceMethod<&NativeBufferPool::Free>("free"),
					   InstanceMethod<&NativeBufferPool::FlushAsync>("flushAsync"),
					   InstanceMethod<&NativeBufferPool::Stats>("stats"),
					   InstanceMethod<&NativeBufferPool::Mechanism>("mechanism"),
					   InstanceMethod<&NativeBufferPool::LiveViews>("liveViews"),
					   InstanceMethod<&NativeBufferPool::CloseAsync>("closeAsync"),
					   InstanceMethod<&NativeBufferPool::CloseSync>("closeSync"),
				   });
	}

	// new NativeBufferPool(path, pageSize, poolBytes, flags, evictBatch)
	NativeBufferPool(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeBufferPool>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 5);
		if (!info[0].IsString())
			throw ArgumentError(env, "path must be a string");
		std::string path = info[0].As<Napi::String>().Utf8Value();
		if (path.find('\0') != std::string::npos)
			throw ArgumentError(env, "path must not contain NUL characters");
		dbos_bp_config config = {};
		config.path = path.c_str();
		config.page_size = (uint32_t)ToUint64Max(info[1], "pageSize", UINT32_MAX);
		config.pool_bytes = ToUint64(info[2], "poolBytes");
		config.flags = (uint32_t)ToUint64Max(info[3], "flags", UINT32_MAX);
		config.evict_batch = (uint32_t)ToUint64Max(info[4], "evictBatch", UINT32_MAX);
		dbos_bp_error detail = {};
		dbos_status status = dbos_bp_open(&config, &bp_, &detail);
		if (status != DBOS_OK) {
			bp_ = nullptr;
			throw DetailedError(env, status, "open", &detail);
		}
		page_size_ = dbos_bp_page_size(bp_);
		Napi::MemoryManagement::AdjustExternalMemory(env, 4096);
	}

	// Garbage-collected without close(): close only when no view can reach the pool's memory.
	~NativeBufferPool()
	{
		if (bp_ == nullptr || closing_)
			return;
		if (live_views_ > 0 || escaped_ > 0) {
			fprintf(stderr, "@dbos/bufferpool: pool collected without close() while pages are fixed; "
					"its memory and file stay open\n");
			return; // leak on purpose: unmapping under a live view would be worse
		}
		dbos_status status = dbos_bp_close(bp_);
		if (status != DBOS_OK)
			fprintf(stderr, "@dbos/bufferpool: closing a pool collected without close(): %s\n",
				dbos_status_name(status));
		bp_ = nullptr;
	}

      private:
	class LoadWorker;
	class FlushWorker;
	class CloseWorker;

	dbos_bp *bp_ = nullptr;
	uint32_t page_size_ = 0;
	bool closing_ = false;    // closeAsync() ran: every call is DBOS_ECLOSED
	uint32_t pending_ = 0;    // async workers in flight (JavaScript thread only)
	uint64_t live_views_ = 0; // views not yet detached
	uint64_t escaped_ = 0;    // views moved out of reach: their pages stay fixed

	dbos_bp *Pool(Napi::Env env)
	{
		if (bp_ == nullptr || closing_)
			throw StatusError(env, DBOS_ECLOSED, "the buffer pool is closed");
		return bp_;
	}

	// A failed call: the pool's record of it names the page and the check.
	[[noreturn]] void Fail(Napi::Env env, dbos_status status, const char *context)
	{
		dbos_bp_error detail = {};
		if (bp_ != nullptr)
			dbos_bp_last_error(bp_, &detail);
		throw DetailedError(env, status, context, &detail);
	}

	void Check(Napi::Env env, dbos_status status, const char *context)
	{
		if (status != DBOS_OK)
			Fail(env, status, context);
	}

	// The same for a call on one page: the message names it ("fixShared page 7").
	void CheckPage(Napi::Env env, dbos_status status, const char *context, uint64_t pid)
	{
		if (status != DBOS_OK)
			Fail(env, status, (std::string(context) + " page " + std::to_string(pid)).c_str());
	}

	Napi::ArrayBuffer View(Napi::Env env, void *page)
	{
		Napi::ArrayBuffer view =
			Napi::ArrayBuffer::New(env, dbos_bp_payload(page), dbos_bp_page_payload_size(page_size_));
		live_views_++;
		return view;
	}

	// Detach a view we made; false when JavaScript moved it away (rule 3).
	bool Detach(Napi::Env env, const Napi::Value &value)
	{
		if (!value.IsArrayBuffer())
			throw ArgumentError(env, "view must be an ArrayBuffer");
		Napi::ArrayBuffer view = value.As<Napi::ArrayBuffer>();
		if (view.Data() == nullptr) {
			live_views_--;
			escaped_++;
			return false;
		}
		if (view.ByteLength() != dbos_bp_page_payload_size(page_size_))
			throw ArgumentError(env, "view is not a page view of this pool");
		view.Detach();
		live_views_--;
		return true;
	}

	static uint64_t Pid(const Napi::Value &value)
	{
		return ToUint64(value, "pid");
	}

	static Napi::Value VersionValue(Napi::Env env, uint64_t version)
	{
		if (version <= 9007199254740991ull)
			return Napi::Number::New(env, (double)version);
		return Napi::BigInt::New(env, version);
	}

	Napi::Value PageSize(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), page_size_);
	}

	Napi::Value PayloadSize(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), dbos_bp_page_payload_size(page_size_));
	}

	Napi::Value PageCount(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), (double)dbos_bp_page_count(Pool(info.Env())));
	}

	// fix(pid, exclusive) -> ArrayBuffer over the payload
	Napi::Value Fix(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 2);
		dbos_bp *bp = Pool(env);
		uint64_t pid = Pid(info[0]);
		bool exclusive = info[1].ToBoolean();
		void *page = nullptr;
		CheckPage(env, exclusive ? dbos_bp_fix_exclusive(bp, pid, &page) : dbos_bp_fix_shared(bp, pid, &page),
			  exclusive ? "fixExclusive" : "fixShared", pid);
		return View(env, page);
	}

	// fixMany(pids: Float64Array, exclusive) -> ArrayBuffer[] in pid order (all or none)
	Napi::Value FixMany(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 2);
		dbos_bp *bp = Pool(env);
		std::vector<uint64_t> pids = ToPids(info[0], DBOS_BP_FIX_MANY_MAX);
		enum dbos_bp_mode mode = info[1].ToBoolean() ? DBOS_BP_EXCLUSIVE : DBOS_BP_SHARED;
		std::vector<void *> pages(pids.size());
		Napi::Array views = Napi::Array::New(env, pids.size());
		if (pids.empty())
			return views;
		Check(env, dbos_bp_fix_many(bp, pids.data(), (uint32_t)pids.size(), mode, pages.data()), "fixMany");
		for (size_t i = 0; i < pids.size(); i++)
			views.Set((uint32_t)i, View(env, pages[i]));
		return views;
	}

	// unfix(view, pid, exclusive, dirty) -> true, or false when the view escaped (its page stays fixed)
	Napi::Value Unfix(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 4);
		dbos_bp *bp = Pool(env);
		uint64_t pid = Pid(info[1]);
		bool exclusive = info[2].ToBoolean();
		bool dirty = info[3].ToBoolean();
		if (!Detach(env, info[0]))
			return Napi::Boolean::New(env, false);
		CheckPage(env, exclusive ? dbos_bp_unfix_exclusive(bp, pid, dirty) : dbos_bp_unfix_shared(bp, pid),
			  "unfix", pid);
		return Napi::Boolean::New(env, true);
	}

	// optimisticBegin(pid) -> [view, version]: no latch; the page is read in first when needed
	Napi::Value OptimisticBegin(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 1);
		dbos_bp *bp = Pool(env);
		uint64_t version = 0;
		const void *page = nullptr;
		uint64_t pid = Pid(info[0]);
		CheckPage(env, dbos_bp_optimistic_begin(bp, pid, &version, &page), "read", pid);
		Napi::Array result = Napi::Array::New(env, 2);
		result.Set(0u, View(env, const_cast<void *>(page)));
		result.Set(1u, VersionValue(env, version));
		return result;
	}

	// optimisticEnd(view, pid, version) -> whether the page kept that version (the view is detached first)
	Napi::Value OptimisticEnd(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 3);
		dbos_bp *bp = Pool(env);
		uint64_t pid = Pid(info[1]);
		uint64_t version = ToUint64(info[2], "version");
		// An escaped optimistic view pins nothing: the region stays reserved until close, and close
		// is refused while any view escaped, so the moved buffer reads zeros at worst.
		Detach(env, info[0]);
		return Napi::Boolean::New(env, dbos_bp_optimistic_validate(bp, pid, version));
	}

	// prefetch(pids: Float64Array): start the reads and return
	Napi::Value Prefetch(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 1);
		dbos_bp *bp = Pool(env);
		std::vector<uint64_t> pids = ToPids(info[0], DBOS_BP_FIX_MANY_MAX);
		if (!pids.empty())
			Check(env, dbos_bp_prefetch(bp, pids.data(), (uint32_t)pids.size()), "prefetch");
		return env.Undefined();
	}

	// allocate() -> [pid, view]: the new page is fixed exclusively
	Napi::Value Allocate(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_bp *bp = Pool(env);
		uint64_t pid = 0;
		void *page = nullptr;
		Check(env, dbos_bp_allocate(bp, &pid, &page), "allocate");
		Napi::Array result = Napi::Array::New(env, 2);
		result.Set(0u, Napi::Number::New(env, (double)pid));
		result.Set(1u, View(env, page));
		return result;
	}

	// free(pid)
	Napi::Value Free(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 1);
		dbos_bp *bp = Pool(env);
		uint64_t pid = Pid(info[0]);
		CheckPage(env, dbos_bp_free(bp, pid), "free", pid);
		return env.Undefined();
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct dbos_bp_stats stats = {};
		dbos_bp_stats(Pool(env), &stats);
		Napi::Object out = Napi::Object::New(env);
		auto set = [&](const char *name, uint64_t value) {
			out.Set(name, Napi::Number::New(env, (double)value));
		};
		set("hits", stats.hits);
		set("misses", stats.misses);
		set("evictions", stats.evictions);
		set("pagesWritten", stats.pages_written);
		set("readsInFlight", stats.reads_in_flight);
		set("writesInFlight", stats.writes_in_flight);
		set("residentPages", stats.resident_pages);
		set("residentBytes", stats.resident_bytes);
		set("budgetPages", stats.budget_pages);
		set("dirtyPages", stats.dirty_pages);
		set("optimisticRestarts", stats.optimistic_restarts);
		set("heldBack", stats.held_back);
		set("pageCount", stats.page_count);
		set("freePages", stats.free_pages);
		set("liveViews", live_views_);
		set("escapedViews", escaped_);
		return out;
	}

	Napi::Value Mechanism(const Napi::CallbackInfo &info)
	{
		char text[DBOS_BP_MECHANISM_LINE_SIZE];
		dbos_bp_mechanism(Pool(info.Env()), text, sizeof text);
		return Napi::String::New(info.Env(), text);
	}

	Napi::Value LiveViews(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), (double)live_views_);
	}

	// closeSync(): dbos_bp_close on this thread, under the same rules as closeAsync()
	Napi::Value CloseSync(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_bp *bp = Pool(env);
		if (pending_ > 0 || live_views_ > 0 || escaped_ > 0)
			throw StatusError(env, DBOS_EBUSY, "close: pages are still fixed or calls still run");
		dbos_status status = dbos_bp_close(bp);
		if (status != DBOS_EBUSY)
			bp_ = nullptr;
		ThrowIfFailed(env, status, "close");
		return env.Undefined();
	}

	Napi::Value LoadAsync(const Napi::CallbackInfo &info);
	Napi::Value FlushAsync(const Napi::CallbackInfo &info);
	Napi::Value CloseAsync(const Napi::CallbackInfo &info);
};

// Settling and tearing down run on the JavaScript thread, but also while a worker's environment
// is torn down with the operation in flight: then Node-API calls fail, and node-addon-api would
// turn the failure into a C++ exception out of the callback.  So nothing here may throw.
class AsyncCall : public Napi::AsyncWorker {
      public:
	AsyncCall(Napi::Env env, const char *name, NativeBufferPool *owner, dbos_bp *bp, uint32_t *pending)
	    : Napi::AsyncWorker(env, name), deferred_(env), owner_(owner), bp_(bp), pending_(pending)
	{
		owner_->Ref();
		(*pending_)++;
	}

	~AsyncCall() override
	{
		(*pending_)--;
		uint32_t count = 0;
		(void)napi_reference_unref(owner_->Env(), static_cast<napi_ref>(*owner_), &count);
	}

	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}

      protected:
	// The status of the call Execute() made, with the pool's record of its failure.
	dbos_status status_ = DBOS_OK;
	dbos_bp_error detail_ = {};

	void Record(dbos_status status)
	{
		status_ = status;
		if (status != DBOS_OK && bp_ != nullptr)
			dbos_bp_last_error(bp_, &detail_);
	}

	virtual void Settled() noexcept
	{}

	void OnOK() override
	{
		Settled();
		try {
			if (status_ == DBOS_OK)
				deferred_.Resolve(Env().Undefined());
			else
				deferred_.Reject(DetailedError(Env(), status_, Name(), &detail_).Value());
		} catch (...) {
		}
	}

	void OnError(const Napi::Error &error) override
	{
		Settled();
		try {
			deferred_.Reject(error.Value());
		} catch (...) {
		}
	}

	virtual const char *Name() const = 0;

	Napi::Promise::Deferred deferred_;
	NativeBufferPool *owner_;
	dbos_bp *bp_;
	uint32_t *pending_;
};

// Reads the pages in on a worker thread: fix them all (one batch, every miss submitted at
// once), then unfix them on the same thread.  The JavaScript thread then fixes them as hits.
class NativeBufferPool::LoadWorker : public AsyncCall {
      public:
	LoadWorker(Napi::Env env, NativeBufferPool *owner, std::vector<uint64_t> pids)
	    : AsyncCall(env, "dbos:bufferpool:load", owner, owner->bp_, &owner->pending_), pids_(std::move(pids)),
	      pages_(pids_.size())
	{}

      protected:
	void Execute() override
	{
		uint32_t count = (uint32_t)pids_.size();
		dbos_status status = dbos_bp_fix_many(bp_, pids_.data(), count, DBOS_BP_SHARED, pages_.data());
		Record(status);
		if (status == DBOS_OK)
			Record(dbos_bp_unfix_many(bp_, pids_.data(), count, DBOS_BP_SHARED, false));
	}

	const char *Name() const override
	{
		return "fix";
	}

      private:
	std::vector<uint64_t> pids_;
	std::vector<void *> pages_;
};

class NativeBufferPool::FlushWorker : public AsyncCall {
      public:
	FlushWorker(Napi::Env env, NativeBufferPool *owner)
	    : AsyncCall(env, "dbos:bufferpool:flush", owner, owner->bp_, &owner->pending_)
	{}

      protected:
	void Execute() override
	{
		Record(dbos_bp_flush(bp_));
	}

	const char *Name() const override
	{
		return "flush";
	}
};

// dbos_bp_close on a worker thread (it writes the dirty pages back); nothing else runs meanwhile.
class NativeBufferPool::CloseWorker : public AsyncCall {
      public:
	CloseWorker(Napi::Env env, NativeBufferPool *owner)
	    : AsyncCall(env, "dbos:bufferpool:close", owner, owner->bp_, &owner->pending_)
	{}

      protected:
	void Execute() override
	{
		// dbos_bp_close frees the pool even when its final flush fails; DBOS_EBUSY closes nothing.
		status_ = dbos_bp_close(bp_);
	}

	void Settled() noexcept override
	{
		if (status_ == DBOS_EBUSY)
			owner_->closing_ = false;
		else
			owner_->bp_ = nullptr;
	}

	const char *Name() const override
	{
		return "close";
	}
};

// loadAsync(pids: Float64Array) -> Promise<void>
Napi::Value NativeBufferPool::LoadAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 1);
	Pool(env);
	LoadWorker *worker = new LoadWorker(env, this, ToPids(info[0], DBOS_BP_FIX_MANY_MAX));
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// flushAsync() -> Promise<void>
Napi::Value NativeBufferPool::FlushAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Pool(env);
	FlushWorker *worker = new FlushWorker(env, this);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// closeAsync() -> Promise<void>: refused while async calls run or views live (the caller
// detaches them first); every other call is DBOS_ECLOSED from here on.
Napi::Value NativeBufferPool::CloseAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Pool(env);
	if (pending_ > 0)
		throw StatusError(env, DBOS_EBUSY, "close: calls are still running");
	if (live_views_ > 0 || escaped_ > 0)
		throw StatusError(env, DBOS_EBUSY,
				  escaped_ > 0 ? "close: a page view was moved out of the pool (ArrayBuffer transfer); "
						 "its page stays fixed"
					       : "close: pages are still fixed");
	closing_ = true;
	CloseWorker *worker = new CloseWorker(env, this);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

void InitBufferPool(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeBufferPool", NativeBufferPool::Define(env));
}

} // namespace dbos
