// kv_read.cc - reads beyond a single get: batched gets on worker threads, read views, cursors.
//
// A cursor hands entries to JavaScript in chunks: dbos_kv_cursor_next fills a native buffer with
// as many records as fit ([u32 key size][u32 0][u64 value size][key][value], 8-byte aligned),
// and one copy of the used bytes crosses to JavaScript, which slices the entries out.
#include "kv_binding.h"

namespace dbos {

// ---- getManyAsync ------------------------------------------------------------------------

// Looks up a list of keys on a pool thread: dbos_kv_prefetch brings in the pages of all of them
// with the reads of each tree level in flight together, then one dbos_kv_get each (misses wait
// for the disk there, never on the JavaScript thread).  Owns copies of the keys.
class GetManyWorker : public KvAsyncCall {
      public:
	GetManyWorker(Napi::Env env, NativeKv *owner, dbos_kv *kv, NativeView *view, Napi::Object view_object,
		      bool as_string)
	    : KvAsyncCall(env, "dbos:kv:getMany", owner, kv), view_(view), as_string_(as_string)
	{
		if (view_ != nullptr) {
			view_ref_ = Napi::Persistent(view_object);
			view_->users_++;
		}
	}

	~GetManyWorker() override
	{
		if (view_ != nullptr)
			view_->users_--;
	}

	void AddKey(Bytes key)
	{
		offsets_.push_back(keys_.size());
		keys_.insert(keys_.end(), key.data, key.data + key.size);
	}

      protected:
	void Execute() override
	{
		offsets_.push_back(keys_.size());
		size_t count = offsets_.size() - 1;
		found_.assign(count, false);
		value_offsets_.assign(count + 1, 0);
		std::vector<uint8_t> scratch(KV_CHUNK_BYTES);
		dbos_kv_view *view = view_ != nullptr ? view_->view_ : nullptr;
		if (count > 1) {
			std::vector<const void *> keys(count);
			std::vector<uint32_t> sizes(count);
			for (size_t i = 0; i < count; i++) {
				keys[i] = keys_.data() + offsets_[i];
				sizes[i] = (uint32_t)(offsets_[i + 1] - offsets_[i]);
			}
			dbos_status status = dbos_kv_prefetch(kv_, keys.data(), sizes.data(), (uint32_t)count);
			if (status != DBOS_OK) {
				Record(status);
				return;
			}
		}
		for (size_t i = 0; i < count; i++) {
			Bytes key{ keys_.data() + offsets_[i], offsets_[i + 1] - offsets_[i] };
			uint64_t size = 0;
			dbos_status status = KvGetInto(kv_, view, key, scratch, &size);
			value_offsets_[i] = values_.size();
			if (status == DBOS_ENOENT)
				continue;
			if (status != DBOS_OK) {
				Record(status);
				return;
			}
			found_[i] = true;
			values_.insert(values_.end(), scratch.data(), scratch.data() + size);
		}
		value_offsets_[count] = values_.size();
	}

	Napi::Value Result(Napi::Env env) override
	{
		size_t count = found_.size();
		Napi::Array out = Napi::Array::New(env, count);
		for (size_t i = 0; i < count; i++) {
			if (!found_[i]) {
				out.Set((uint32_t)i, env.Undefined());
				continue;
			}
			// Entry i's bytes run to where entry i + 1's start (or the end) was recorded.
			size_t start = value_offsets_[i];
			size_t end = value_offsets_[i + 1];
			out.Set((uint32_t)i, ValueOf(env, values_.data() + start, end - start, as_string_));
		}
		return out;
	}

	const char *Name() const override
	{
		return "getMany";
	}

      private:
	NativeView *view_;
	Napi::ObjectReference view_ref_; // keeps the view alive while the call runs
	bool as_string_;
	std::vector<uint8_t> keys_;
	std::vector<size_t> offsets_;
	std::vector<uint8_t> values_;
	std::vector<size_t> value_offsets_;
	std::vector<bool> found_;
};

// getManyAsync(keys: Uint8Array[], view, asString) -> Promise<(Buffer | string | undefined)[]>
Napi::Value NativeKv::GetManyAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 3);
	dbos_kv *kv = Current(env);
	dbos_kv_view *view = ViewOf(info[1]);
	if (!info[0].IsArray())
		throw ArgumentError(env, "keys must be an array");
	Napi::Array list = info[0].As<Napi::Array>();
	uint32_t count = list.Length();
	if (count > DBOS_KV_BATCH_MAX)
		throw StatusError(env, DBOS_ERANGE, "more than " + std::to_string(DBOS_KV_BATCH_MAX) + " keys");
	std::vector<Napi::Value> keys(count);
	for (uint32_t i = 0; i < count; i++)
		keys[i] = list.Get(i);
	NativeView *view_handle = view != nullptr ? NativeView::Unwrap(info[1].As<Napi::Object>()) : nullptr;
	GetManyWorker *worker =
		new GetManyWorker(env, this, kv, view_handle,
				  view != nullptr ? info[1].As<Napi::Object>() : Napi::Object(), info[2].ToBoolean());
	try {
		for (uint32_t i = 0; i < count; i++)
			worker->AddKey(ToKey(keys[i]));
	} catch (...) {
		delete worker;
		throw;
	}
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// ---- Views -------------------------------------------------------------------------------

Napi::Function NativeView::Define(Napi::Env env)
{
	return DefineClass(env, "NativeView", { InstanceMethod<&NativeView::Close>("close") });
}

NativeView::NativeView(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeView>(info)
{}

NativeView::~NativeView()
{
	Detach();
}

void NativeView::Detach()
{
	if (view_ != nullptr)
		dbos_kv_view_close(view_);
	view_ = nullptr;
	if (owner_ != nullptr) {
		owner_->RemoveView(this);
		owner_ = nullptr;
	}
	owner_ref_.Reset();
}

// close(): closes the cursors reading this view first.  Idempotent.  DBOS_EBUSY while an async
// call reads through it.
Napi::Value NativeView::Close(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (view_ == nullptr)
		return env.Undefined();
	if (users_ > 0)
		throw StatusError(env, DBOS_EBUSY, "snapshot close: calls are still reading it");
	if (owner_ != nullptr)
		owner_->CloseCursorsOf(this);
	Detach();
	return env.Undefined();
}

// viewOpen() -> NativeView
Napi::Value NativeKv::ViewOpen(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_kv *kv = Current(env);
	KvAddonData *data = env.GetInstanceData<KvAddonData>();
	Napi::Object object = data->view.New({});
	NativeView *view = NativeView::Unwrap(object);
	dbos_kv_view *handle = nullptr;
	dbos_status status = dbos_kv_view_open(kv, &handle);
	if (status != DBOS_OK)
		throw LastKvError(env, status, "snapshot");
	view->view_ = handle;
	view->owner_ = this;
	view->owner_ref_ = Napi::Persistent(Value());
	AddView(view);
	return object;
}

// ---- Cursors -----------------------------------------------------------------------------

Napi::Function NativeCursor::Define(Napi::Env env)
{
	return DefineClass(env, "NativeCursor",
			   {
				   InstanceMethod<&NativeCursor::NextSync>("next"),
				   InstanceMethod<&NativeCursor::NextAsync>("nextAsync"),
				   InstanceMethod<&NativeCursor::Close>("close"),
			   });
}

NativeCursor::NativeCursor(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeCursor>(info)
{}

NativeCursor::~NativeCursor()
{
	Detach();
}

void NativeCursor::Detach()
{
	if (cursor_ != nullptr)
		dbos_kv_cursor_close(cursor_);
	cursor_ = nullptr;
	if (owner_ != nullptr) {
		owner_->RemoveCursor(this);
		owner_ = nullptr;
	}
	view_ = nullptr;
	view_ref_.Reset();
	owner_ref_.Reset();
	chunk_.clear();
	chunk_.shrink_to_fit();
}

dbos_kv_cursor *NativeCursor::Cursor(Napi::Env env)
{
	if (cursor_ == nullptr)
		throw StatusError(env, DBOS_ECLOSED, "the iterator is closed");
	if (busy_)
		throw StatusError(env, DBOS_EBUSY, "the iterator is reading its next entries");
	// A cursor over the current state sees the batches queued before this call.
	if (owner_ != nullptr && view_ == nullptr)
		owner_->Drain();
	return cursor_;
}

dbos_status NativeCursor::Next(uint32_t *count_out, size_t *used_out, dbos_kv_error *detail)
{
	// Bounded: each DBOS_ELIMIT grows the chunk to what the next entry needs.
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t count = 0;
		size_t used = 0;
		dbos_status status = dbos_kv_cursor_next(cursor_, chunk_.data(), chunk_.size(), &count, &used);
		if (status == DBOS_ELIMIT && used > chunk_.size()) {
			chunk_.resize(used);
			continue;
		}
		if (status != DBOS_OK)
			dbos_kv_last_error(detail);
		*count_out = count;
		*used_out = used;
		return status;
	}
	return DBOS_EAGAIN;
}

// The used bytes of the chunk as a Buffer, or null at the end of the range.
static Napi::Value ChunkValue(Napi::Env env, const std::vector<uint8_t> &chunk, uint32_t count, size_t used)
{
	if (count == 0)
		return env.Null();
	return Napi::Buffer<uint8_t>::Copy(env, chunk.data(), used);
}

// next() -> Buffer of records | null at the end
Napi::Value NativeCursor::NextSync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Cursor(env);
	uint32_t count = 0;
	size_t used = 0;
	dbos_kv_error detail = {};
	dbos_status status = Next(&count, &used, &detail);
	if (status != DBOS_OK)
		throw KvError(env, status, "range", &detail);
	return ChunkValue(env, chunk_, count, used);
}

// The same on a pool thread (the cursor is used by one thread at a time: busy_ refuses others).
class NativeCursor::NextWorker : public KvAsyncCall {
      public:
	NextWorker(Napi::Env env, NativeCursor *cursor)
	    : KvAsyncCall(env, "dbos:kv:next", cursor->owner_, nullptr), cursor_(cursor), view_(cursor->view_)
	{
		cursor_ref_ = Napi::Persistent(cursor->Value());
		cursor_->busy_ = true;
		// The view it reads cannot be closed meanwhile (its close would close this cursor).
		if (view_ != nullptr)
			view_->users_++;
	}

	~NextWorker() override
	{
		if (view_ != nullptr)
			view_->users_--;
	}

      protected:
	void Execute() override
	{
		status_ = cursor_->Next(&count_, &used_, &detail_);
	}

	void Settled() noexcept override
	{
		cursor_->busy_ = false;
	}

	Napi::Value Result(Napi::Env env) override
	{
		return ChunkValue(env, cursor_->chunk_, count_, used_);
	}

	const char *Name() const override
	{
		return "range";
	}

      private:
	NativeCursor *cursor_;
	NativeView *view_; // kept alive by the cursor's reference to it
	Napi::ObjectReference cursor_ref_;
	uint32_t count_ = 0;
	size_t used_ = 0;
};

Napi::Value NativeCursor::NextAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Cursor(env);
	NextWorker *worker = new NextWorker(env, this);
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

// close(): idempotent; DBOS_EBUSY while a nextAsync runs.
Napi::Value NativeCursor::Close(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (busy_)
		throw StatusError(env, DBOS_EBUSY, "the iterator is reading its next entries");
	Detach();
	return env.Undefined();
}

void NativeKv::CloseCursorsOf(NativeView *view)
{
	std::set<NativeCursor *> cursors = cursors_;
	for (NativeCursor *cursor : cursors)
		if (cursor->view_ == view)
			cursor->Detach();
}

// A bound: undefined for none, else a key (copied: the cursor keeps it for its life).
static bool BoundOf(const Napi::Value &value, const char *name, std::vector<uint8_t> &copy)
{
	if (value.IsUndefined() || value.IsNull())
		return false;
	Bytes key = ToKey(value, name);
	copy.assign(key.data, key.data + key.size);
	return true;
}

// cursorOpen(view, low, lowInclusive, high, highInclusive, reverse) -> NativeCursor
Napi::Value NativeKv::CursorOpen(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	RequireArguments(info, 6);
	dbos_kv *kv = Current(env);
	dbos_kv_view *view = ViewOf(info[0]);
	NativeView *view_handle = view != nullptr ? NativeView::Unwrap(info[0].As<Napi::Object>()) : nullptr;
	KvAddonData *data = env.GetInstanceData<KvAddonData>();
	Napi::Object object = data->cursor.New({});
	NativeCursor *cursor = NativeCursor::Unwrap(object);
	dbos_kv_range range = {};
	if (BoundOf(info[1], "gt/gte", cursor->low_)) {
		range.low = cursor->low_.data();
		range.low_size = (uint32_t)cursor->low_.size();
	}
	range.low_inclusive = info[2].ToBoolean();
	if (BoundOf(info[3], "lt/lte", cursor->high_)) {
		range.high = cursor->high_.data();
		range.high_size = (uint32_t)cursor->high_.size();
	}
	range.high_inclusive = info[4].ToBoolean();
	range.reverse = info[5].ToBoolean();
	dbos_kv_cursor *handle = nullptr;
	dbos_status status = dbos_kv_cursor_open(kv, view, &range, &handle);
	if (status != DBOS_OK)
		throw LastKvError(env, status, "range");
	cursor->cursor_ = handle;
	cursor->owner_ = this;
	cursor->owner_ref_ = Napi::Persistent(Value());
	if (view_handle != nullptr) {
		cursor->view_ = view_handle;
		cursor->view_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
	}
	cursor->chunk_.resize(KV_CHUNK_BYTES);
	AddCursor(cursor);
	return object;
}

} // namespace dbos
