// kv_binding.h - what the @dbos/kv binding files share: the handle classes, argument conversion
// and errors.
//
// Three handle classes wrap dbos/kv.h: NativeKv (one dbos_kv), NativeView (a dbos_kv_view) and
// NativeCursor (a dbos_kv_cursor).  Views and cursors register with their store, hold a reference
// to it, and are closed by its close (the C close refuses while any is open).  Every async call is
// one Napi::AsyncWorker making one C call on a pool thread; the store counts them in `pending_`
// and refuses to close while any runs (the TypeScript layer waits for them first).
//
// binding.gyp defines NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (see @dbos/native-build): a call
// cut short by a terminating worker cannot throw, and must not abort the process instead.
#ifndef DBOS_KV_BINDING_H
#define DBOS_KV_BINDING_H

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dbos/binding.h"

extern "C" {
#include "dbos/kv.h"
}

namespace dbos {

/** Bytes a cursor chunk starts with; grown when one entry needs more (DBOS_ELIMIT). */
constexpr size_t KV_CHUNK_BYTES = 64 * 1024;

// The constructors of the addon's classes in this environment (instance data: one per worker thread).
struct KvAddonData {
	Napi::FunctionReference view;
	Napi::FunctionReference cursor;
};

// A failure with the store's record of it (dbos_kv_last_error, taken on the failing thread) in
// the message, and `holderPid` / `errno` properties where the record has them.
inline Napi::Error KvError(Napi::Env env, dbos_status status, const std::string &context, const dbos_kv_error *detail)
{
	std::string message = context;
	bool described = detail != nullptr && detail->status == status && detail->message[0] != '\0';
	if (described) {
		std::string text(detail->message, strnlen(detail->message, sizeof detail->message));
		message += " (" + text + ")";
	}
	Napi::Error error = StatusError(env, status, message);
	if (detail != nullptr && detail->status == status) {
		if (status == DBOS_ELOCKED)
			error.Set("holderPid", Napi::Number::New(env, detail->holder_pid));
		if (detail->errno_value != 0)
			error.Set("errno", Napi::Number::New(env, detail->errno_value));
	}
	return error;
}

// The last failure on this thread, as an error (call right after the failing C call).
inline Napi::Error LastKvError(Napi::Env env, dbos_status status, const std::string &context)
{
	dbos_kv_error detail = {};
	dbos_kv_last_error(&detail);
	return KvError(env, status, context, &detail);
}

// A non-negative integer no larger than `max` (a size, a count, flags): never truncated by a cast.
inline uint64_t ToUint64Max(const Napi::Value &value, const char *name, uint64_t max)
{
	uint64_t number = ToUint64(value, name);
	if (number > max)
		throw ArgumentError(value.Env(), std::string(name) + " is out of range");
	return number;
}

// The bytes of a Uint8Array argument (a Buffer is one).  A detached array has no bytes.
struct Bytes {
	const uint8_t *data;
	size_t size;
};

// One Node-API call (the wrapper classes make three or four): a bulk write reads thousands.
inline Bytes ToBytes(const Napi::Value &value, const char *name)
{
	napi_typedarray_type type = napi_int8_array;
	size_t length = 0;
	void *data = nullptr;
	if (value.IsEmpty() ||
	    napi_get_typedarray_info(value.Env(), value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
	    type != napi_uint8_array)
		throw ArgumentError(value.Env(), std::string(name) + " must be a Uint8Array");
	return Bytes{ static_cast<const uint8_t *>(data), length };
}

// A key: 1 .. DBOS_KV_KEY_MAX bytes (dbos/kv.h).
inline Bytes ToKey(const Napi::Value &value, const char *name = "key")
{
	Bytes key = ToBytes(value, name);
	if (key.size == 0)
		throw ArgumentError(value.Env(), std::string(name) + " must not be empty");
	if (key.size > DBOS_KV_KEY_MAX)
		throw StatusError(value.Env(), DBOS_ERANGE,
				  std::string(name) + " is longer than " + std::to_string(DBOS_KV_KEY_MAX) + " bytes");
	return key;
}

// A number JavaScript can hold exactly (LSNs and counters stay far below 2^53 in practice; a
// larger one is rounded rather than wrapped).
inline Napi::Number NumberOf(Napi::Env env, uint64_t value)
{
	return Napi::Number::New(env, (double)value);
}

class NativeView;
class NativeCursor;
struct CommitState;
struct KvWriteQueue;
struct KvWriteJob;

// The arguments of write() and writeAsync(): a batch JavaScript packed, so that a batch of a
// thousand operations costs four Node-API calls instead of four thousand.  `bytes` holds each
// key then its value, back to back; sizes[2i] and sizes[2i + 1] are the key and value sizes of
// operation i (0 for a del's value); types[i] is DBOS_KV_PUT or DBOS_KV_DEL.
struct PackedBatch {
	Bytes types;
	const uint32_t *sizes = nullptr;
	size_t size_count = 0;
	Bytes bytes;
	uint32_t flags = 0;
};
PackedBatch ReadPackedBatch(const Napi::CallbackInfo &info);
// The operations of `batch`, checked against the limits of dbos/kv.h, pointing into `bytes` (the
// packed bytes themselves, or a copy of them), into `ops` (its memory reused).
void UnpackOps(Napi::Env env, const PackedBatch &batch, const uint8_t *bytes, std::vector<dbos_kv_op> &ops);

// The value of `key` into `scratch` (grown as needed): DBOS_OK with *size_out, or the failure.
dbos_status KvGetInto(dbos_kv *kv, dbos_kv_view *view, Bytes key, std::vector<uint8_t> &scratch, uint64_t *size_out);
// A value as a Buffer (copied) or, for utf8 values, a string.
Napi::Value ValueOf(Napi::Env env, const uint8_t *data, size_t size, bool as_string);

class NativeKv : public Napi::ObjectWrap<NativeKv> {
      public:
	static Napi::Function Define(Napi::Env env);
	NativeKv(const Napi::CallbackInfo &info);
	~NativeKv() override;

	// The open store, or DBOS_ECLOSED (also once close has started).
	dbos_kv *Store(Napi::Env env);
	// The same, once every batch queued by writeAsync is applied: what every read and every
	// synchronous write starts with, so that they see those batches (kv_write_async.cc).
	dbos_kv *Current(Napi::Env env);
	// Wait until every batch queued by writeAsync is applied (JavaScript thread).
	void Drain();
	// A view argument: undefined / null for the current state, else a NativeView of this store.
	dbos_kv_view *ViewOf(const Napi::Value &value);

	void AddView(NativeView *view)
	{
		views_.insert(view);
	}
	void RemoveView(NativeView *view)
	{
		views_.erase(view);
	}
	void AddCursor(NativeCursor *cursor)
	{
		cursors_.insert(cursor);
	}
	void RemoveCursor(NativeCursor *cursor)
	{
		cursors_.erase(cursor);
	}
	// Close the cursors that read `view` (before the view itself is closed).
	void CloseCursorsOf(NativeView *view);

	uint32_t pending_ = 0; // async workers in flight (JavaScript thread only)

      private:
	class CloseWorker;
	class WriteWorker;

	// Batches of writeAsync not yet settled (kv_write_async.cc), shared with the pool thread that
	// applies them in order; queued_writes_ counts them on the JavaScript thread (0: Drain is free).
	std::shared_ptr<KvWriteQueue> writes_;
	uint32_t queued_writes_ = 0;
	// Write workers not yet settled, among pending_: once Drain() returns they no longer use the
	// store (only their settling is left), so close need not wait for them.
	uint32_t write_workers_ = 0;
	void SettleWrites();
	static void Recycle(KvWriteQueue &queue, KvWriteJob &job);
	// write()'s operations, reused from call to call (JavaScript thread only).
	std::vector<dbos_kv_op> write_ops_;

	dbos_kv *kv_ = nullptr;
	bool closing_ = false;
	std::set<NativeView *> views_;
	std::set<NativeCursor *> cursors_;

	// The commit listener (kv_store.cc): the commit thread stores the newest LSNs and posts one
	// call to the JavaScript thread unless one is already queued.  The C side's context is
	// commit_holder_, freed once the listener is removed for good.
	std::shared_ptr<CommitState> commit_;
	std::shared_ptr<CommitState> *commit_holder_ = nullptr;
	// The environment cleanup hook's holder (TearDownCommits frees it when the hook runs).
	std::shared_ptr<CommitState> *teardown_holder_ = nullptr;
	void ForgetTeardown();
	static void OnCommit(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status);
	void ReleaseListener();
	void CloseChildren();

	Napi::Value Write(const Napi::CallbackInfo &info);
	Napi::Value WriteAsync(const Napi::CallbackInfo &info);
	Napi::Value Get(const Napi::CallbackInfo &info);
	Napi::Value GetManyAsync(const Napi::CallbackInfo &info);
	Napi::Value WrittenLsn(const Napi::CallbackInfo &info);
	Napi::Value SyncedLsn(const Napi::CallbackInfo &info);
	Napi::Value HoldListener(const Napi::CallbackInfo &info);
	Napi::Value ViewOpen(const Napi::CallbackInfo &info);
	Napi::Value CursorOpen(const Napi::CallbackInfo &info);
	Napi::Value CheckpointAsync(const Napi::CallbackInfo &info);
	Napi::Value BackupAsync(const Napi::CallbackInfo &info);
	Napi::Value CheckAsync(const Napi::CallbackInfo &info);
	Napi::Value Stats(const Napi::CallbackInfo &info);
	Napi::Value Mechanism(const Napi::CallbackInfo &info);
	Napi::Value CloseAsync(const Napi::CallbackInfo &info);
};

// A read view.  Its close is idempotent; the store's close closes it too.
class NativeView : public Napi::ObjectWrap<NativeView> {
      public:
	static Napi::Function Define(Napi::Env env);
	NativeView(const Napi::CallbackInfo &info);
	~NativeView() override;

	dbos_kv_view *view_ = nullptr;
	NativeKv *owner_ = nullptr;
	Napi::ObjectReference owner_ref_; // keeps the store alive while the view is open
	uint32_t users_ = 0;              // async calls reading through the view
	// The store closes this view (its own close, or the store's destructor).
	void Detach();

      private:
	Napi::Value Close(const Napi::CallbackInfo &info);
};

// A cursor over a range; one next at a time (the TypeScript iterator never overlaps them).
class NativeCursor : public Napi::ObjectWrap<NativeCursor> {
      public:
	static Napi::Function Define(Napi::Env env);
	NativeCursor(const Napi::CallbackInfo &info);
	~NativeCursor() override;

	dbos_kv_cursor *cursor_ = nullptr;
	NativeKv *owner_ = nullptr;
	Napi::ObjectReference owner_ref_;
	NativeView *view_ = nullptr; // the view it reads, kept alive by a reference
	Napi::ObjectReference view_ref_;
	std::vector<uint8_t> low_, high_; // the range's bounds, kept for the cursor's life
	bool busy_ = false;               // a nextAsync is in flight
	std::vector<uint8_t> chunk_;
	void Detach();

	// Fill chunk_ with the next entries (growing it when one entry does not fit): the entries and
	// bytes used, 0 entries at the end.  Any thread; *detail gets the record of a failure.
	dbos_status Next(uint32_t *count_out, size_t *used_out, dbos_kv_error *detail);

      private:
	class NextWorker;
	dbos_kv_cursor *Cursor(Napi::Env env);
	Napi::Value NextSync(const Napi::CallbackInfo &info);
	Napi::Value NextAsync(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);
};

// The base of the store's async calls: counts itself in the store's pending_, keeps the store
// alive, and settles a promise.  Settling runs on the JavaScript thread, but also while a
// worker's environment is torn down with the call in flight: then Node-API calls fail, so
// nothing here may throw.
class KvAsyncCall : public Napi::AsyncWorker {
      public:
	KvAsyncCall(Napi::Env env, const char *resource, NativeKv *owner, dbos_kv *kv);
	~KvAsyncCall() override;

	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}

      protected:
	dbos_status status_ = DBOS_OK;
	dbos_kv_error detail_ = {};

	// Keep the status of the C call Execute() made, and this thread's record of its failure.
	void Record(dbos_status status)
	{
		status_ = status;
		if (status != DBOS_OK)
			dbos_kv_last_error(&detail_);
	}

	virtual Napi::Value Result(Napi::Env env)
	{
		return env.Undefined();
	}
	virtual void Settled() noexcept
	{}
	virtual const char *Name() const = 0;

	void OnOK() override;
	void OnError(const Napi::Error &error) override;

	Napi::Promise::Deferred deferred_;
	NativeKv *owner_;
	dbos_kv *kv_;
};

void InitStore(Napi::Env env, Napi::Object exports);
void InitConstants(Napi::Env env, Napi::Object exports);

} // namespace dbos

#endif
