// kv_store.cc - NativeKv: one dbos_kv behind a JS handle: open, writes, point reads, the commit
// listener, stats and close.
//
// Writes run on the JavaScript thread: dbos_kv_write only applies the change in memory and queues
// its log record, so it never waits for the disk (large batches: writeAsync, kv_write_async.cc).  Durability is reported by the commit
// listener: the commit thread stores the newest written / synced LSNs and posts one call to the
// JavaScript thread (a burst of group commits while one call is queued becomes that one call).
#include <cstdio>

#include "kv_binding.h"

namespace dbos {

// What the commit thread and the JavaScript thread share.  Held by shared pointers: a call queued
// on the thread-safe function may run after the store's handle is gone.
struct CommitState {
	std::atomic<uint64_t> written{ 0 };
	std::atomic<uint64_t> synced{ 0 };
	std::atomic<int32_t> failed{ DBOS_OK };
	std::atomic<bool> posted{ false };
	Napi::ThreadSafeFunction tsfn;
	// Set (under call_lock) when the environment starts tearing down: the commit thread then stops
	// calling tsfn.  Node closes thread-safe functions in the teardown and, on Node 24, runs
	// finalizers (ours closes the store and waits for the commit thread) while holding the
	// function's lock; a commit thread blocked on that lock in a call would never return.
	std::mutex call_lock;
	bool torn_down = false;
};

// An environment cleanup hook, registered after the thread-safe function, so it runs before
// Node closes it: from here on OnCommit does not call the function.
static void TearDownCommits(void *arg)
{
	auto *holder = static_cast<std::shared_ptr<CommitState> *>(arg);
	{
		std::lock_guard<std::mutex> hold((*holder)->call_lock);
		(*holder)->torn_down = true;
	}
	delete holder;
}

// One call per queued post: the newest LSNs (they only grow), and the log's failure if any.
static void DeliverCommit(Napi::Env env, Napi::Function callback, CommitState *state)
{
	state->posted.store(false);
	uint64_t written = state->written.load();
	uint64_t synced = state->synced.load();
	int32_t failed = state->failed.load();
	try {
		callback.Call({ NumberOf(env, written), NumberOf(env, synced),
				Napi::String::New(env, dbos_status_name((dbos_status)failed)) });
	} catch (...) {
		// The TypeScript listener does not throw; an environment being torn down may.
	}
}

void NativeKv::OnCommit(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status)
{
	auto *holder = static_cast<std::shared_ptr<CommitState> *>(context);
	std::shared_ptr<CommitState> state = *holder;
	state->written.store(written_lsn);
	state->synced.store(synced_lsn);
	if (status != DBOS_OK)
		state->failed.store(status);
	std::lock_guard<std::mutex> hold(state->call_lock);
	if (state->torn_down)
		return;
	if (state->posted.exchange(true))
		return;
	napi_status posted = state->tsfn.NonBlockingCall(
		[state](Napi::Env env, Napi::Function callback) { DeliverCommit(env, callback, state.get()); });
	if (posted != napi_ok)
		state->posted.store(false); // closing: nobody listens any more
}

Napi::Function NativeKv::Define(Napi::Env env)
{
	return DefineClass(env, "NativeKv",
			   {
				   InstanceMethod<&NativeKv::Write>("write"),
				   InstanceMethod<&NativeKv::WriteAsync>("writeAsync"),
				   InstanceMethod<&NativeKv::Get>("get"),
				   InstanceMethod<&NativeKv::GetManyAsync>("getManyAsync"),
				   InstanceMethod<&NativeKv::WrittenLsn>("writtenLsn"),
				   InstanceMethod<&NativeKv::SyncedLsn>("syncedLsn"),
				   InstanceMethod<&NativeKv::HoldListener>("holdListener"),
				   InstanceMethod<&NativeKv::ViewOpen>("viewOpen"),
				   InstanceMethod<&NativeKv::CursorOpen>("cursorOpen"),
				   InstanceMethod<&NativeKv::CheckpointAsync>("checkpointAsync"),
				   InstanceMethod<&NativeKv::BackupAsync>("backupAsync"),
				   InstanceMethod<&NativeKv::CheckAsync>("checkAsync"),
				   InstanceMethod<&NativeKv::Stats>("stats"),
				   InstanceMethod<&NativeKv::Mechanism>("mechanism"),
				   InstanceMethod<&NativeKv::CloseAsync>("closeAsync"),
			   });
}

// new NativeKv(dir, flags, pageSize, cacheBytes, checkpointWalBytes, waitForLockMs, onCommit)
// onCommit(writtenLsn, syncedLsn, failedCode) runs on the JavaScript thread after group commits.
NativeKv::NativeKv(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeKv>(info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 7);
	if (!info[0].IsString())
		throw ArgumentError(env, "dir must be a string");
	std::string dir = info[0].As<Napi::String>().Utf8Value();
	if (dir.empty() || dir.find('\0') != std::string::npos)
		throw ArgumentError(env, "dir must be a non-empty string without NUL characters");
	if (!info[6].IsFunction())
		throw ArgumentError(env, "onCommit must be a function");
	dbos_kv_config config = {};
	config.dir = dir.c_str();
	config.flags = (uint32_t)ToUint64Max(info[1], "flags", UINT32_MAX);
	config.page_size = (uint32_t)ToUint64Max(info[2], "pageSize", UINT32_MAX);
	config.cache_bytes = ToUint64(info[3], "cacheBytes");
	config.checkpoint_wal_bytes = ToUint64(info[4], "checkpointWalBytes");
	config.wait_for_lock_ms = (uint32_t)ToUint64Max(info[5], "waitForLockMs", UINT32_MAX);
	dbos_status status = dbos_kv_open(&config, &kv_);
	if (status != DBOS_OK) {
		kv_ = nullptr;
		throw LastKvError(env, status, "open " + dir);
	}
	// Unreferenced: an idle store does not keep the process alive; the TypeScript layer holds it
	// (holdListener) while durability promises wait.
	commit_ = std::make_shared<CommitState>();
	commit_->tsfn = Napi::ThreadSafeFunction::New(env, info[6].As<Napi::Function>(), "dbos:kv:commit", 0, 1);
	commit_->tsfn.Unref(env);
	teardown_holder_ = new std::shared_ptr<CommitState>(commit_);
	napi_add_env_cleanup_hook(env, TearDownCommits, teardown_holder_);
	commit_holder_ = new std::shared_ptr<CommitState>(commit_);
	dbos_kv_set_commit_listener(kv_, &NativeKv::OnCommit, commit_holder_);
	Napi::MemoryManagement::AdjustExternalMemory(env, 4096);
}

// Collected without close(): close here (the C close syncs and writes pages back: it blocks).
NativeKv::~NativeKv()
{
	if (kv_ != nullptr && pending_ > 0) {
		// A worker thread's environment torn down with calls still running on pool threads:
		// closing would free what they use.  Leak the store (its lock stays held) instead.
		fprintf(stderr, "@dbos/kv: store collected with calls in flight; it stays open\n");
		return;
	}
	if (kv_ != nullptr && !closing_) {
		CloseChildren();
		dbos_kv_set_commit_listener(kv_, nullptr, nullptr);
		dbos_status status = dbos_kv_close(kv_);
		if (status != DBOS_OK)
			fprintf(stderr, "@dbos/kv: closing a store collected without close(): %s\n",
				dbos_status_name(status));
		kv_ = nullptr;
	}
	/*
	 * Not ReleaseListener(): a finalizer may run while Node closes this very thread-safe
	 * function (a worker's environment torn down: Node 24 drains finalizers from inside the
	 * function's close, holding its lock), and releasing it there deadlocks.  The listener is
	 * gone from the C store (closed above), so only our holder goes; the function is closed
	 * with its environment, or stays unreferenced (it keeps nothing alive) until then.
	 */
	delete commit_holder_;
	commit_holder_ = nullptr;
	ForgetTeardown();
}

// The cleanup hook is not needed once the store is gone; unless it ran already (then it freed
// its holder), take it back.  Never blocks for long: a commit thread holds call_lock only for a
// call that is not stuck (the function is not closing while the hook has not run).
void NativeKv::ForgetTeardown()
{
	if (teardown_holder_ == nullptr)
		return;
	bool ran;
	{
		std::lock_guard<std::mutex> hold(commit_->call_lock);
		ran = commit_->torn_down;
	}
	if (!ran) {
		napi_remove_env_cleanup_hook(Env(), TearDownCommits, teardown_holder_);
		delete teardown_holder_;
	}
	teardown_holder_ = nullptr;
}

void NativeKv::ReleaseListener()
{
	if (commit_holder_ == nullptr)
		return;
	commit_->tsfn.Release();
	delete commit_holder_;
	commit_holder_ = nullptr;
	ForgetTeardown();
}

void NativeKv::CloseChildren()
{
	// Cursors first: a cursor may read a view.
	std::set<NativeCursor *> cursors = cursors_;
	for (NativeCursor *cursor : cursors)
		cursor->Detach();
	std::set<NativeView *> views = views_;
	for (NativeView *view : views)
		view->Detach();
	cursors_.clear();
	views_.clear();
}

dbos_kv *NativeKv::Store(Napi::Env env)
{
	if (kv_ == nullptr || closing_)
		throw StatusError(env, DBOS_ECLOSED, "the store is closed");
	return kv_;
}

dbos_kv_view *NativeKv::ViewOf(const Napi::Value &value)
{
	Napi::Env env = value.Env();
	if (value.IsUndefined() || value.IsNull())
		return nullptr;
	KvAddonData *data = env.GetInstanceData<KvAddonData>();
	if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->view.Value()))
		throw ArgumentError(env, "view must be a view of this store");
	NativeView *view = NativeView::Unwrap(value.As<Napi::Object>());
	if (view->owner_ != this || view->view_ == nullptr)
		throw StatusError(env, DBOS_ECLOSED, "the snapshot is closed");
	return view->view_;
}

PackedBatch ReadPackedBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 4);
	PackedBatch batch;
	batch.types = ToBytes(info[0], "types");
	napi_typedarray_type type = napi_int8_array;
	void *sizes = nullptr;
	if (napi_get_typedarray_info(env, info[1], &type, &batch.size_count, &sizes, nullptr, nullptr) != napi_ok ||
	    type != napi_uint32_array)
		throw ArgumentError(env, "sizes must be a Uint32Array");
	batch.sizes = static_cast<const uint32_t *>(sizes);
	batch.bytes = ToBytes(info[2], "bytes");
	batch.flags = (uint32_t)ToUint64Max(info[3], "flags", DBOS_KV_SYNC);
	size_t count = batch.types.size;
	if (count == 0)
		throw ArgumentError(env, "a write needs at least one operation");
	if (count > DBOS_KV_BATCH_MAX)
		throw StatusError(env, DBOS_ERANGE, "more than " + std::to_string(DBOS_KV_BATCH_MAX) + " operations");
	if (batch.size_count != 2 * count)
		throw ArgumentError(env, "sizes must hold a key size and a value size per operation");
	return batch;
}

void UnpackOps(Napi::Env env, const PackedBatch &batch, const uint8_t *bytes, std::vector<dbos_kv_op> &ops)
{
	size_t count = batch.types.size;
	ops.assign(count, dbos_kv_op{});
	// An empty value still needs a pointer the C side may read zero bytes from.
	static const uint8_t empty = 0;
	size_t at = 0;
	for (size_t i = 0; i < count; i++) {
		uint8_t kind = batch.types.data[i];
		uint32_t key_size = batch.sizes[2 * i], value_size = batch.sizes[2 * i + 1];
		if (key_size == 0)
			throw ArgumentError(env, "key must not be empty");
		if (key_size > DBOS_KV_KEY_MAX)
			throw StatusError(env, DBOS_ERANGE,
					  "key is longer than " + std::to_string(DBOS_KV_KEY_MAX) + " bytes");
		if (value_size > DBOS_KV_VALUE_MAX)
			throw StatusError(env, DBOS_ERANGE,
					  "value is larger than " + std::to_string(DBOS_KV_VALUE_MAX) + " bytes");
		if (kind != DBOS_KV_PUT && (kind != DBOS_KV_DEL || value_size != 0))
			throw ArgumentError(env, "an operation type must be put (1) or del (2), a del without a value");
		if ((uint64_t)key_size + value_size > batch.bytes.size - at)
			throw ArgumentError(env, "the sizes add up to more than the packed bytes");
		ops[i].type = kind;
		ops[i].key = bytes + at;
		ops[i].key_size = key_size;
		at += key_size;
		if (kind == DBOS_KV_PUT) {
			ops[i].value = value_size > 0 ? bytes + at : &empty;
			ops[i].value_size = value_size;
			at += value_size;
		}
	}
	if (at != batch.bytes.size)
		throw ArgumentError(env, "the sizes add up to less than the packed bytes");
}

// write(types, sizes, bytes, flags) -> lsn: a packed batch (see ReadPackedBatch), read where it
// lies.  Applied in memory and queued for the log before it returns: visible to every read at
// once.  Batches queued by writeAsync are applied first.
Napi::Value NativeKv::Write(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Store(env);
	PackedBatch batch = ReadPackedBatch(info);
	UnpackOps(env, batch, batch.bytes.data, write_ops_);
	dbos_kv *kv = Current(env);
	uint64_t lsn = 0;
	dbos_status status = dbos_kv_write(kv, write_ops_.data(), (uint32_t)write_ops_.size(), batch.flags, &lsn);
	if (status != DBOS_OK)
		throw LastKvError(env, status, "write");
	return NumberOf(env, lsn);
}

// The value of `key` into `scratch` (grown as needed): DBOS_OK with *size_out, or a failure.
// A value that grows between the two calls is read again, a bounded number of times.
dbos_status KvGetInto(dbos_kv *kv, dbos_kv_view *view, Bytes key, std::vector<uint8_t> &scratch, uint64_t *size_out)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t size = 0;
		dbos_status status =
			dbos_kv_get(kv, view, key.data, (uint32_t)key.size, scratch.data(), scratch.size(), &size);
		if (status != DBOS_OK)
			return status;
		if (size <= scratch.size()) {
			*size_out = size;
			return DBOS_OK;
		}
		scratch.resize(size);
	}
	return DBOS_EAGAIN;
}

Napi::Value ValueOf(Napi::Env env, const uint8_t *data, size_t size, bool as_string)
{
	if (as_string)
		return Napi::String::New(env, reinterpret_cast<const char *>(data), size);
	return Napi::Buffer<uint8_t>::Copy(env, data, size);
}

// get(key, view, asString, into?) -> Buffer | string | number | undefined
// With `into` (a Uint8Array), a value that fits is read straight into it and its size returned:
// JavaScript copies it out into a pooled Buffer, cheaper than a Buffer allocated here per read.
Napi::Value NativeKv::Get(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 3);
	dbos_kv *kv = Current(env);
	dbos_kv_view *view = ViewOf(info[1]);
	Bytes key = ToKey(info[0]);
	bool as_string = info[2].ToBoolean();
	if (!as_string && info.Length() > 3 && !info[3].IsUndefined()) {
		Bytes into = ToBytes(info[3], "into");
		uint64_t size = 0;
		dbos_status status = dbos_kv_get(kv, view, key.data, (uint32_t)key.size,
						 const_cast<uint8_t *>(into.data), into.size, &size);
		if (status == DBOS_ENOENT)
			return env.Undefined();
		if (status != DBOS_OK)
			throw LastKvError(env, status, "get");
		if (size <= into.size)
			return NumberOf(env, size);
		/* too large for `into`: read it again below, into a Buffer of its own */
	}
	// One scratch buffer per thread; a large value's growth is given back afterwards.
	static thread_local std::vector<uint8_t> scratch(KV_CHUNK_BYTES);
	uint64_t size = 0;
	dbos_status status = KvGetInto(kv, view, key, scratch, &size);
	if (status == DBOS_ENOENT)
		return env.Undefined();
	if (status != DBOS_OK)
		throw LastKvError(env, status, "get");
	Napi::Value value = ValueOf(env, scratch.data(), size, as_string);
	if (scratch.size() > 16 * KV_CHUNK_BYTES) {
		scratch.resize(KV_CHUNK_BYTES);
		scratch.shrink_to_fit();
	}
	return value;
}

Napi::Value NativeKv::WrittenLsn(const Napi::CallbackInfo &info)
{
	return NumberOf(info.Env(), dbos_kv_written_lsn(Store(info.Env())));
}

Napi::Value NativeKv::SyncedLsn(const Napi::CallbackInfo &info)
{
	return NumberOf(info.Env(), dbos_kv_synced_lsn(Store(info.Env())));
}

// holdListener(hold): while durability promises wait, the commit listener keeps the process alive.
Napi::Value NativeKv::HoldListener(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 1);
	if (commit_holder_ == nullptr)
		return env.Undefined();
	if (info[0].ToBoolean())
		commit_->tsfn.Ref(env);
	else
		commit_->tsfn.Unref(env);
	return env.Undefined();
}

Napi::Value NativeKv::Stats(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct dbos_kv_stats stats = {};
	dbos_kv_stats(Current(env), &stats);
	Napi::Object out = Napi::Object::New(env);
	auto set = [&](const char *name, uint64_t value) { out.Set(name, NumberOf(env, value)); };
	set("entries", stats.entries);
	set("treeHeight", stats.tree_height);
	set("pages", stats.pages);
	set("freePages", stats.free_pages);
	set("pageSize", stats.page_size);
	set("fileBytes", stats.file_bytes);
	set("walBytes", stats.wal_bytes);
	set("writtenLsn", stats.written_lsn);
	set("syncedLsn", stats.synced_lsn);
	set("checkpointLsn", stats.checkpoint_lsn);
	set("checkpoints", stats.checkpoints);
	set("groupCommits", stats.group_commits);
	set("syncs", stats.syncs);
	set("epochPagesCopied", stats.epoch_pages_copied);
	set("epochPagesHeld", stats.epoch_pages_held);
	set("cacheHits", stats.cache_hits);
	set("cacheMisses", stats.cache_misses);
	set("residentBytes", stats.resident_bytes);
	set("cacheBytes", stats.cache_bytes);
	set("optimisticRestarts", stats.optimistic_restarts);
	set("recoveredRecords", stats.recovered_records);
	set("openViews", views_.size());
	set("openCursors", cursors_.size());
	return out;
}

Napi::Value NativeKv::Mechanism(const Napi::CallbackInfo &info)
{
	char text[1024] = { 0 }; /* the line names the pool's, the log's and the checkpoint's mechanisms */
	dbos_kv_mechanism(Store(info.Env()), text, sizeof text);
	return Napi::String::New(info.Env(), text);
}

KvAsyncCall::KvAsyncCall(Napi::Env env, const char *resource, NativeKv *owner, dbos_kv *kv)
    : Napi::AsyncWorker(env, resource), deferred_(env), owner_(owner), kv_(kv)
{
	owner_->Ref();
	owner_->pending_++;
}

KvAsyncCall::~KvAsyncCall()
{
	owner_->pending_--;
	uint32_t count = 0;
	(void)napi_reference_unref(owner_->Env(), static_cast<napi_ref>(*owner_), &count);
}

void KvAsyncCall::OnOK()
{
	Settled();
	try {
		if (status_ == DBOS_OK)
			deferred_.Resolve(Result(Env()));
		else
			deferred_.Reject(KvError(Env(), status_, Name(), &detail_).Value());
	} catch (...) {
	}
}

void KvAsyncCall::OnError(const Napi::Error &error)
{
	Settled();
	try {
		deferred_.Reject(error.Value());
	} catch (...) {
	}
}

// dbos_kv_close on a worker thread (it syncs the log and writes every page back).
class NativeKv::CloseWorker : public KvAsyncCall {
      public:
	CloseWorker(Napi::Env env, NativeKv *owner) : KvAsyncCall(env, "dbos:kv:close", owner, owner->kv_)
	{}

      protected:
	void Execute() override
	{
		// No commit listener after this: its context dies with the handle.
		dbos_kv_set_commit_listener(kv_, nullptr, nullptr);
		Record(dbos_kv_close(kv_));
	}

	void Settled() noexcept override
	{
		if (status_ == DBOS_EBUSY) { // nothing closed (cannot happen: children were closed first)
			owner_->closing_ = false;
			dbos_kv_set_commit_listener(kv_, &NativeKv::OnCommit, owner_->commit_holder_);
			return;
		}
		// Closed, even when the final writes failed (dbos/kv.h): the status says what failed.
		owner_->kv_ = nullptr;
		owner_->ReleaseListener();
	}

	const char *Name() const override
	{
		return "close";
	}
};

// closeAsync() -> Promise<void>: closes the store's cursors and views, then the store on a
// worker thread.  Refused (DBOS_EBUSY) while async calls run: the TypeScript layer waits for them.
Napi::Value NativeKv::CloseAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Store(env);
	if (pending_ > write_workers_)
		throw StatusError(env, DBOS_EBUSY, "close: calls are still running");
	Drain(); // the queued batches first; their workers then only settle, not touching the store
	CloseChildren();
	closing_ = true;
	CloseWorker *worker = new CloseWorker(env, this);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

void InitStore(Napi::Env env, Napi::Object exports)
{
	KvAddonData *data = new KvAddonData();
	data->view = Napi::Persistent(NativeView::Define(env));
	data->cursor = Napi::Persistent(NativeCursor::Define(env));
	env.SetInstanceData<KvAddonData>(data);
	exports.Set("NativeKv", NativeKv::Define(env));
}

} // namespace dbos
