// gateway.cc - the system-call gateway (dbos/hypercall.h) as a JavaScript class.
//
// Glue only: unpack the op table src/gateway.ts encoded, check every buffer
// range against its ArrayBufferView, hand one batch to the gateway, and
// deliver the results.
//
// Whose memory the kernel touches:
//   sync batches (submitSync, readBatchSync) point the kernel straight at
//     the JavaScript buffers: no JavaScript runs until the call returns, so
//     nothing can detach, transfer or shrink them meanwhile;
//   async batches (submit, readBatch) never lend JavaScript memory: data to
//     write and paths are copied into a native arena at submit, reads land in
//     the arena and are copied into the caller's views on the JavaScript
//     thread at completion, after checking that each view still holds its
//     range (a view detached, transferred or shrunk meanwhile gets -EFAULT
//     for its op, and a readBatch `results` array that no longer fits is
//     replaced by a new one).  The arena belongs to the batch, so whatever
//     JavaScript does, including ending the thread, the kernel writes only
//     into memory the batch owns.
//
// Completions that happen off the JavaScript thread come back through a
// thread-safe function.  When the environment goes away (process exit, a
// Worker terminated with batches in flight) an environment cleanup hook
// stops every delivery first, then closes the gateway; completions are then
// dropped, freeing their native memory, and nothing is thrown.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "arguments.h"
#include "dbos/binding.h"

extern "C" {
#include "dbos/hypercall.h"
#include "gateway_table.h"
}

namespace dbos {

static constexpr int64_t kErrnoFault = 14; // EFAULT: the op's buffer no longer holds its range

// A view's bytes as they are now.
struct View {
	uint8_t *data = nullptr;
	size_t size = 0;
};

// The bytes of a TypedArray or DataView now, bounded by its ArrayBuffer's current length, so a
// length-tracking view over a shrunk resizable buffer never reports bytes that are gone. false
// when `value` is no view or it is detached. Never throws, never runs JavaScript.
static bool ViewNow(napi_env env, napi_value value, View *out)
{
	bool is_typed = false, is_data_view = false;
	napi_value buffer = nullptr;
	void *data = nullptr;
	size_t bytes = 0, offset = 0;
	if (napi_is_typedarray(env, value, &is_typed) != napi_ok)
		return false;
	if (is_typed) {
		napi_typedarray_type type;
		size_t length = 0;
		if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok)
			return false;
		size_t element =
			type == napi_int8_array || type == napi_uint8_array || type == napi_uint8_clamped_array ? 1
			: type == napi_int16_array || type == napi_uint16_array                                 ? 2
			: type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array   ? 4
														: 8;
		bytes = length * element;
	} else {
		if (napi_is_dataview(env, value, &is_data_view) != napi_ok || !is_data_view)
			return false;
		if (napi_get_dataview_info(env, value, &bytes, &data, &buffer, &offset) != napi_ok)
			return false;
	}
	bool detached = false;
	if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached)
		return false;
	void *buffer_data = nullptr;
	size_t buffer_bytes = 0;
	// A SharedArrayBuffer is not an ArrayBuffer to Node-API; it never detaches or shrinks.
	if (napi_get_arraybuffer_info(env, buffer, &buffer_data, &buffer_bytes) == napi_ok)
		bytes = offset >= buffer_bytes ? 0 : std::min(bytes, buffer_bytes - offset);
	out->data = bytes ? static_cast<uint8_t *>(data) : nullptr;
	out->size = bytes;
	return true;
}

static View ViewOf(Napi::Env env, const Napi::Value &value, const char *name)
{
	View view;
	if (!ViewNow(env, value, &view)) {
		bool is_view = value.IsTypedArray() || value.IsDataView();
		throw ArgumentError(env, std::string(name) + (is_view ? " is detached"
								      : " must be a TypedArray, Buffer or DataView"));
	}
	return view;
}

static uint64_t FieldInteger(Napi::Env env, double value, const char *name, double max = 9007199254740991.0)
{
	if (!(value >= 0) || value > max || value != (double)(uint64_t)value)
		throw ArgumentError(env, std::string(name) + " must be a non-negative integer within range");
	return (uint64_t)value;
}

// [offset, offset + length) must lie inside the view.
static void RangeCheck(Napi::Env env, const View &view, uint64_t offset, uint64_t length, const char *name)
{
	if (offset > view.size || length > view.size - offset)
		throw RangeFailure(env, std::string(name) + ": offset + length exceeds the buffer");
}

// A range the kernel reads into through the arena, copied into a JavaScript view at completion.
struct CopyBack {
	uint32_t op;         // the op whose result says how many bytes arrived
	uint32_t view;       // index in the batch's view list
	uint64_t offset;     // in the view
	uint64_t length;     // the range's size
	uint64_t arena;      // where the kernel put the bytes
	bool all_or_nothing; // statx: the whole struct on success, else nothing
};

// Native memory of one async batch: freed with it, never lent to JavaScript.
//
// O_DIRECT wants buffers aligned to the device's block (512 or 4096 bytes): a range is placed at
// the same address as the view bytes it stands for modulo its alignment unit, the largest power of
// two no larger than the range up to 4 KiB, so an aligned buffer stays aligned in the arena and a
// misaligned one stays misaligned (the kernel answers as it would have), and padding never exceeds
// the range itself. Ranges shorter than a block cannot be O_DIRECT transfers: they are packed.
static constexpr uint64_t kArenaAlignment = 4096;
static constexpr uint64_t kArenaPackedBelow = 512;
static constexpr uint64_t kArenaPackedAlignment = 16;

struct Arena {
	uint8_t *bytes = nullptr;
	uint64_t size = 0;
	uint64_t used = 0;
	~Arena()
	{
		std::free(bytes);
	}
	// The alignment unit of a range of `length` bytes.
	static uint64_t Unit(uint64_t length)
	{
		if (length < kArenaPackedBelow)
			return kArenaPackedAlignment;
		uint64_t unit = kArenaPackedBelow;
		while (unit * 2 <= length && unit < kArenaAlignment)
			unit *= 2;
		return unit;
	}
	// The most a range of `length` bytes can take, its alignment padding included.
	static uint64_t Bound(uint64_t length)
	{
		return length + Unit(length) - 1;
	}
	bool Reserve(uint64_t total)
	{
		void *memory = nullptr;
		if (total && posix_memalign(&memory, kArenaAlignment, total) != 0)
			return false;
		bytes = static_cast<uint8_t *>(memory);
		size = total;
		return true;
	}
	// The offset of a range of `length` bytes standing for view bytes at address `like`.
	uint64_t Take(uint64_t length, uintptr_t like)
	{
		uint64_t unit = Unit(length);
		uint64_t want = length < kArenaPackedBelow ? 0 : like % unit;
		uint64_t at = used + (want + unit - used % unit) % unit;
		if (at > size || length > size - at)
			std::abort(); // the sizing pass (Bound) and the placing pass disagree: a binding bug
		used = at + length;
		return at;
	}
};

class GatewayWrap;
struct GatewayShared;

// Everything one JavaScript batch owns until it is settled. Its napi handles are released on the
// JavaScript thread (Release); deleting it elsewhere frees native memory only, which is what a
// completion dropped during environment teardown needs.
struct JsBatch {
	enum State {
		kSubmitting = 0,
		kDoneInline = 1,
		kAsync = 2
	};
	enum Kind {
		kSubmit,
		kReadBatch
	};
	Kind kind;
	dbos_io_batch batch;
	std::vector<dbos_io_op> ops;
	std::vector<int64_t> results;
	std::vector<dbos_io_vec> vecs;
	Arena arena;
	std::vector<CopyBack> copies;   // in op order
	napi_ref views = nullptr;       // submit: the buffer list; readBatch: the destination view
	napi_ref results_out = nullptr; // readBatch: the caller's Int32Array, if any
	napi_ref owner = nullptr;       // the Gateway object: no GC while in flight
	napi_deferred deferred = nullptr;
	std::atomic<int> state{ kSubmitting };
	GatewayWrap *gateway = nullptr;        // JavaScript thread only (the owner keeps it)
	std::shared_ptr<GatewayShared> shared; // any thread: outlives the wrapper

	explicit JsBatch(Kind batch_kind) : kind(batch_kind)
	{}

	void Release(napi_env env)
	{
		for (napi_ref *ref : { &views, &results_out, &owner }) {
			if (*ref)
				napi_delete_reference(env, *ref);
			*ref = nullptr;
		}
	}
};

// The view a copy goes into, now; false when it is gone.
static bool CopyTarget(napi_env env, const JsBatch &js, uint32_t index, View *view)
{
	napi_value list = nullptr, value = nullptr;
	if (!js.views || napi_get_reference_value(env, js.views, &list) != napi_ok || !list)
		return false;
	if (js.kind == JsBatch::kReadBatch)
		return ViewNow(env, list, view);
	bool is_array = false;
	if (napi_is_array(env, list, &is_array) != napi_ok || !is_array)
		return false;
	if (napi_get_element(env, list, index, &value) != napi_ok)
		return false;
	return ViewNow(env, value, view);
}

// Copy what the kernel read from the arena into the caller's views; an op whose view no longer
// holds its range gets -EFAULT. JavaScript thread; never throws.
static void CopyBackAll(napi_env env, JsBatch &js)
{
	size_t at = 0;
	while (at < js.copies.size()) {
		uint32_t op = js.copies[at].op;
		int64_t arrived = js.results[op];
		bool fits = true;
		size_t first = at;
		for (; at < js.copies.size() && js.copies[at].op == op; at++) {
			const CopyBack &copy = js.copies[at];
			View view;
			if (!CopyTarget(env, js, copy.view, &view) || copy.offset > view.size ||
			    copy.length > view.size - copy.offset)
				fits = false;
		}
		if (!fits) {
			if (arrived >= 0)
				js.results[op] = -kErrnoFault;
			continue;
		}
		uint64_t remaining = arrived > 0 ? (uint64_t)arrived : 0;
		for (size_t i = first; i < at; i++) {
			const CopyBack &copy = js.copies[i];
			uint64_t bytes = copy.all_or_nothing ? (arrived == 0 ? copy.length : 0)
							     : std::min(remaining, copy.length);
			View view;
			if (bytes && CopyTarget(env, js, copy.view, &view))
				std::memcpy(view.data + copy.offset, js.arena.bytes + copy.arena, bytes);
			remaining -= copy.all_or_nothing ? 0 : bytes;
		}
	}
}

// The array a batch resolves with: a Float64Array (submit) or an Int32Array (readBatch: the
// caller's when it still has one entry per op, else a new one). nullptr when it cannot be made.
static napi_value ResultArray(napi_env env, const JsBatch &js)
{
	size_t count = js.results.size();
	napi_value out = nullptr, buffer = nullptr;
	void *data = nullptr;
	if (js.kind == JsBatch::kReadBatch && js.results_out) {
		napi_value given = nullptr;
		View view;
		napi_typedarray_type type;
		size_t length = 0;
		if (napi_get_reference_value(env, js.results_out, &given) == napi_ok && given &&
		    napi_get_typedarray_info(env, given, &type, &length, nullptr, nullptr, nullptr) == napi_ok &&
		    type == napi_int32_array && length == count && ViewNow(env, given, &view) &&
		    view.size == count * sizeof(int32_t)) {
			for (size_t i = 0; i < count; i++) {
				int32_t value = (int32_t)js.results[i];
				std::memcpy(view.data + i * sizeof(int32_t), &value, sizeof(value));
			}
			return given;
		}
	}
	bool int32 = js.kind == JsBatch::kReadBatch;
	size_t element = int32 ? sizeof(int32_t) : sizeof(double);
	if (napi_create_arraybuffer(env, count * element, &data, &buffer) != napi_ok ||
	    napi_create_typedarray(env, int32 ? napi_int32_array : napi_float64_array, count, buffer, 0, &out) !=
		    napi_ok)
		return nullptr;
	for (size_t i = 0; i < count; i++) {
		if (int32)
			static_cast<int32_t *>(data)[i] = (int32_t)js.results[i];
		else
			static_cast<double *>(data)[i] = (double)js.results[i];
	}
	return out;
}

// Copy back, build the results and resolve. JavaScript thread; never throws: where the
// environment can no longer run JavaScript the promise is simply left (it goes with it).
static void Settle(napi_env env, JsBatch &js)
{
	CopyBackAll(env, js);
	napi_value results = ResultArray(env, js);
	if (results)
		napi_resolve_deferred(env, js.deferred, results);
	js.Release(env);
}

// Shared by the wrapper, the thread-safe function's finalizer and completions on gateway threads;
// it outlives a gateway left to finish on its own threads when the environment goes away.
struct GatewayShared {
	std::mutex lock;                         // held while a gateway thread hands over a completion
	bool tearing_down = false;               // the environment is going away: completions are dropped
	napi_threadsafe_function tsfn = nullptr; // completions of async batches go through it
	bool tsfn_finalized = false;             // JavaScript thread only
};

// How long an environment going away waits for ops started in the kernel before it leaves the
// gateway to finish on its own threads (a read from a pipe nobody writes to never ends).
static constexpr uint64_t kTeardownWaitNs = 1000000000ull; // 1 s

class GatewayWrap : public Napi::ObjectWrap<GatewayWrap> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "Gateway",
				   { InstanceMethod<&GatewayWrap::Backend>("backend"),
				     InstanceMethod<&GatewayWrap::QueueDepth>("queueDepth"),
				     InstanceMethod<&GatewayWrap::Inflight>("inflight"),
				     InstanceMethod<&GatewayWrap::Submit>("submit"),
				     InstanceMethod<&GatewayWrap::ReadBatch>("readBatch"),
				     InstanceMethod<&GatewayWrap::Close>("close") });
	}

	// new Gateway(backend: 0|1|2, queueDepth, threadCount)
	GatewayWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<GatewayWrap>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 3);
		dbos_gateway_config config = {};
		config.backend = (enum dbos_gateway_backend)ToIntegerIn(info[0], "backend", DBOS_GATEWAY_AUTO,
									DBOS_GATEWAY_THREADS);
		config.queue_depth = (uint32_t)ToIntegerIn(info[1], "queueDepth", 1, DBOS_GATEWAY_QUEUE_DEPTH_MAX);
		config.thread_count = (uint32_t)ToIntegerIn(info[2], "threadCount", 1, DBOS_GATEWAY_THREAD_COUNT_MAX);
		shared_ = std::make_shared<GatewayShared>();
		ThrowIfFailed(env, dbos_gateway_open(&config, &gateway_), "opening the gateway");
		queue_depth_ = dbos_gateway_queue_depth(gateway_);
		napi_value name = Napi::String::New(env, "dbos gateway completion");
		auto *finalize_state = new std::shared_ptr<GatewayShared>(shared_);
		if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, finalize_state, TsfnFinalize,
						    nullptr, Deliver, &shared_->tsfn) != napi_ok) {
			delete finalize_state;
			dbos_gateway_close(gateway_);
			gateway_ = nullptr;
			throw StatusError(env, DBOS_ENOMEM, "gateway completion function");
		}
		// Referenced only while async batches are in flight.
		napi_unref_threadsafe_function(env, shared_->tsfn);
		// Runs before the thread-safe function's own teardown (hooks run in reverse order).
		napi_add_env_cleanup_hook(env, EnvTeardown, this);
		env_ = env;
	}

	~GatewayWrap() override
	{
		// Garbage collection finds no batch in flight (each holds `owner`), and close() finished
		// its own; environment teardown ran EnvTeardown first.
		napi_remove_env_cleanup_hook(env_, EnvTeardown, this);
		StopDeliveries();
		if (gateway_)
			dbos_gateway_close(gateway_);
		gateway_ = nullptr;
		ReleaseTsfn();
	}

      private:
	// No completion is handed to the thread-safe function after this returns.
	void StopDeliveries()
	{
		std::lock_guard<std::mutex> guard(shared_->lock);
		shared_->tearing_down = true;
	}

	void ReleaseTsfn()
	{
		if (!tsfn_released_ && !shared_->tsfn_finalized)
			napi_release_threadsafe_function(shared_->tsfn, napi_tsfn_release);
		tsfn_released_ = true;
	}

	// The environment is going away (process exit, Worker.terminate()): stop deliveries, then
	// close, waiting a bounded time for ops the kernel is running. Completions free their native
	// memory and settle nothing; a gateway whose ops do not finish in time is left to finish on
	// its own threads (its batches free themselves as they complete).
	static void EnvTeardown(void *arg)
	{
		GatewayWrap *self = static_cast<GatewayWrap *>(arg);
		self->StopDeliveries();
		if (self->gateway_)
			(void)dbos_gateway_close_within(self->gateway_, kTeardownWaitNs);
		self->gateway_ = nullptr;
	}

	static void TsfnFinalize(napi_env, void *data, void *)
	{
		auto *state = static_cast<std::shared_ptr<GatewayShared> *>(data);
		(*state)->tsfn_finalized = true;
		delete state;
	}

	// Runs on the JavaScript thread for each batch completed elsewhere (env == nullptr: the
	// function is being torn down with the batch still queued). Never throws.
	static void Deliver(napi_env env, napi_value, void *, void *data)
	{
		JsBatch *js = static_cast<JsBatch *>(data);
		if (env == nullptr) {
			delete js; // its napi handles go with the environment
			return;
		}
		GatewayWrap *self = js->gateway;
		try {
			Settle(env, *js);
		} catch (...) {
			js->Release(env); // an environment that cannot run JavaScript: leave the promise
		}
		delete js;
		self->BatchSettled(env);
	}

	// One async batch fewer in flight: the last one lets the thread-safe function unref, and
	// finishes a close() that waited for it.
	void BatchSettled(napi_env env)
	{
		if (--async_count_ > 0)
			return;
		if (!tsfn_released_)
			napi_unref_threadsafe_function(env, shared_->tsfn);
		if (closing_)
			FinishClose(env);
	}

	// close()'s end: nothing is in flight any more; stop the backend, resolve.
	void FinishClose(napi_env env)
	{
		if (gateway_)
			dbos_gateway_close(gateway_); // nothing in flight: joins idle threads only
		gateway_ = nullptr;
		ReleaseTsfn();
		napi_value undefined = nullptr;
		if (close_deferred_ && napi_get_undefined(env, &undefined) == napi_ok)
			napi_resolve_deferred(env, close_deferred_, undefined);
		close_deferred_ = nullptr;
	}

	dbos_gateway *Open(Napi::Env env)
	{
		if (!gateway_ || closing_)
			throw StatusError(env, DBOS_ECLOSED, "the gateway is closed");
		return gateway_;
	}

	Napi::Value Backend(const Napi::CallbackInfo &info)
	{
		dbos_gateway *gateway = Open(info.Env());
		return Napi::String::New(info.Env(), dbos_gateway_backend_name(dbos_gateway_backend_of(gateway)));
	}

	Napi::Value QueueDepth(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), queue_depth_);
	}

	Napi::Value Inflight(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), gateway_ ? (double)dbos_gateway_inflight(gateway_) : 0);
	}

	// Any thread: the batch's last op completed.
	static void OnComplete(dbos_io_batch *batch)
	{
		JsBatch *js = static_cast<JsBatch *>(batch->context);
		int expected = JsBatch::kSubmitting;
		if (js->state.compare_exchange_strong(expected, JsBatch::kDoneInline))
			return; // the submitting call is still running and settles it itself
		// Not the wrapper: a gateway left to finish after its environment went away has none.
		std::shared_ptr<GatewayShared> shared = js->shared;
		std::lock_guard<std::mutex> guard(shared->lock);
		if (shared->tearing_down ||
		    napi_call_threadsafe_function(shared->tsfn, js, napi_tsfn_nonblocking) != napi_ok)
			delete js; // the environment is going away: native memory only
	}

	// Submit an async batch (ops filled in) and return its promise.
	Napi::Value RunAsync(Napi::Env env, std::unique_ptr<JsBatch> owned)
	{
		dbos_gateway *gateway = Open(env);
		JsBatch *js = owned.get();
		napi_value promise = nullptr;
		napi_value self_value = Value();
		if (napi_create_promise(env, &js->deferred, &promise) != napi_ok ||
		    napi_create_reference(env, self_value, 1, &js->owner) != napi_ok) {
			js->Release(env);
			throw StatusError(env, DBOS_ENOMEM, "gateway batch");
		}
		js->results.assign(js->ops.size(), 0);
		dbos_io_batch_init(&js->batch, js->ops.data(), js->results.data(), (uint32_t)js->ops.size());
		js->gateway = this;
		js->shared = shared_;
		js->batch.on_complete = OnComplete;
		js->batch.context = js;
		dbos_status status = dbos_gateway_submit(gateway, &js->batch);
		if (status != DBOS_OK) {
			js->Release(env);
			napi_reject_deferred(env, js->deferred, StatusError(env, status, "gateway batch").Value());
			return Napi::Value(env, promise);
		}
		owned.release();                        // the gateway holds it now
		dbos_gateway_poll(gateway, &js->batch); // take completions that already happened
		int expected = JsBatch::kSubmitting;
		bool done_inline = !js->state.compare_exchange_strong(expected, JsBatch::kAsync);
		if (async_count_++ == 0)
			napi_ref_threadsafe_function(env, shared_->tsfn);
		/*
		 * Completed inside this call: settle on a later turn all the same, through the same
		 * queue as completions from gateway threads.  The caller's code after the call (which
		 * may detach or shrink the arrays it passed) then always runs before the results are
		 * copied back and the promise takes its results array, as with any promise.
		 */
		if (done_inline && napi_call_threadsafe_function(shared_->tsfn, js, napi_tsfn_nonblocking) != napi_ok) {
			Settle(env, *js); // the queue refused (closing): settle now rather than never
			delete js;
			BatchSettled(env);
		}
		return Napi::Value(env, promise);
	}

	// One range an op points at: straight into the view (sync), or into the arena (async), copied
	// in now when the kernel reads it, copied back at completion when the kernel writes it.
	static uint64_t Place(JsBatch *js, const View &view, uint32_t view_index, uint64_t offset, uint64_t length,
			      bool kernel_writes, uint32_t op, bool all_or_nothing = false)
	{
		if (!js)
			return (uint64_t)(uintptr_t)(view.data + offset);
		uint64_t at = js->arena.Take(length, (uintptr_t)(view.data + offset));
		if (kernel_writes)
			js->copies.push_back({ op, view_index, offset, length, at, all_or_nothing });
		else if (length)
			std::memcpy(js->arena.bytes + at, view.data + offset, length);
		return (uint64_t)(uintptr_t)(js->arena.bytes + at);
	}

	// submit(opTable: Float64Array, vecTable: Float64Array, buffers: ArrayBufferView[], sync: boolean)
	Napi::Value Submit(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 4);
		Open(env);
		if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
			throw ArgumentError(env, "op table must be a Float64Array");
		if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
			throw ArgumentError(env, "iovec table must be a Float64Array");
		if (!info[2].IsArray())
			throw ArgumentError(env, "buffers must be an array");
		View table = ViewOf(env, info[0], "op table"), vec_table = ViewOf(env, info[1], "iovec table");
		const double *fields = reinterpret_cast<const double *>(table.data);
		const double *vec_fields = reinterpret_cast<const double *>(vec_table.data);
		size_t field_count = table.size / sizeof(double), vec_field_count = vec_table.size / sizeof(double);
		Napi::Array buffer_list = info[2].As<Napi::Array>();
		bool sync = info[3].ToBoolean();
		if (field_count % DBOS_TABLE_OP_FIELDS || vec_field_count % DBOS_TABLE_VEC_FIELDS)
			throw ArgumentError(env, "op table length is not a whole number of ops");
		size_t count = field_count / DBOS_TABLE_OP_FIELDS;
		if (count > DBOS_IO_BATCH_COUNT_MAX)
			throw RangeFailure(env, "too many ops in one batch");

		std::vector<View> views(buffer_list.Length());
		for (uint32_t i = 0; i < buffer_list.Length(); i++)
			views[i] = ViewOf(env, buffer_list.Get(i), "buffer");
		auto view_at = [&](double index, uint32_t *index_out) -> const View & {
			uint64_t at = FieldInteger(env, index, "buffer index");
			if (at >= views.size())
				throw ArgumentError(env, "buffer index out of range");
			*index_out = (uint32_t)at;
			return views[at];
		};

		std::unique_ptr<JsBatch> js(sync ? nullptr : new JsBatch(JsBatch::kSubmit));
		std::vector<dbos_io_op> sync_ops;
		std::vector<dbos_io_vec> sync_vecs;
		std::vector<dbos_io_op> &ops = js ? js->ops : sync_ops;
		std::vector<dbos_io_vec> &vecs = js ? js->vecs : sync_vecs;
		ops.resize(count);
		size_t vec_count = vec_field_count / DBOS_TABLE_VEC_FIELDS;
		vecs.resize(vec_count);
		// Checked shape, then (async) the arena: one allocation for every range the batch names.
		std::vector<uint32_t> vec_views(vec_count);
		uint64_t arena_bytes = 0;
		auto add_bytes = [&](uint64_t bytes) {
			if (bytes > UINT64_MAX / 2 - arena_bytes)
				throw StatusError(env, DBOS_ENOMEM, "gateway batch");
			arena_bytes += bytes;
		};
		for (size_t v = 0; v < vec_count; v++) {
			const double *f = vec_fields + v * DBOS_TABLE_VEC_FIELDS;
			const View &view = view_at(f[DBOS_TABLE_VEC_BUFFER], &vec_views[v]);
			uint64_t offset = FieldInteger(env, f[DBOS_TABLE_VEC_OFFSET], "iovec offset");
			uint64_t length = FieldInteger(env, f[DBOS_TABLE_VEC_LENGTH], "iovec length");
			RangeCheck(env, view, offset, length, "iovec");
			vecs[v].address = offset; // the view offset until placed
			vecs[v].length = length;
			add_bytes(Arena::Bound(length));
		}
		for (size_t i = 0; i < count; i++) {
			const double *f = fields + i * DBOS_TABLE_OP_FIELDS;
			dbos_io_op &op = ops[i];
			std::memset(&op, 0, sizeof(op));
			op.opcode = (uint8_t)FieldInteger(env, f[DBOS_TABLE_OP_OPCODE], "opcode", 255);
			double fd = f[DBOS_TABLE_OP_FD];
			if (!(fd >= INT32_MIN && fd <= INT32_MAX) || fd != (double)(int32_t)fd)
				throw ArgumentError(env, "fd must be a 32-bit integer");
			op.fd = (int32_t)fd;
			op.offset = FieldInteger(env, f[DBOS_TABLE_OP_POSITION], "position");
			op.length = FieldInteger(env, f[DBOS_TABLE_OP_LENGTH], "length");
			op.flags = (uint32_t)FieldInteger(env, f[DBOS_TABLE_OP_FLAGS], "flags", UINT32_MAX);
			op.mode = (uint32_t)FieldInteger(env, f[DBOS_TABLE_OP_MODE], "mode", UINT32_MAX);
			add_bytes(CheckOp(env, op, f, view_at, vecs.size()));
		}
		if (js && !js->arena.Reserve(arena_bytes))
			throw StatusError(env, DBOS_ENOMEM, "gateway batch buffers");
		PlaceAll(env, js.get(), ops, vecs, vec_views, views, fields);
		if (!js) {
			std::vector<int64_t> results(count, 0);
			ThrowIfFailed(env, dbos_gateway_run(Open(env), ops.data(), results.data(), (uint32_t)count),
				      "gateway batch");
			Napi::Float64Array out = Napi::Float64Array::New(env, count);
			for (size_t i = 0; i < count; i++)
				out[i] = (double)results[i];
			return out;
		}
		if (napi_create_reference(env, buffer_list, 1, &js->views) != napi_ok)
			throw StatusError(env, DBOS_ENOMEM, "gateway batch");
		return RunAsync(env, std::move(js));
	}

	// Check one op's fields against its views; returns the most its ranges can take in an arena.
	template <typename ViewAt>
	static uint64_t CheckOp(Napi::Env env, dbos_io_op &op, const double *f, ViewAt &view_at, size_t vec_count)
	{
		uint32_t index = 0;
		switch (op.opcode) {
		case DBOS_IO_PREAD:
		case DBOS_IO_PWRITE: {
			if (op.length > DBOS_TABLE_TRANSFER_SIZE_MAX)
				throw RangeFailure(env, "length exceeds 1 GiB per op");
			const View &view = view_at(f[DBOS_TABLE_OP_BUFFER], &index);
			RangeCheck(env, view, FieldInteger(env, f[DBOS_TABLE_OP_BUFFER_OFFSET], "offset"), op.length,
				   "buffer");
			return Arena::Bound(op.length);
		}
		case DBOS_IO_PREADV:
		case DBOS_IO_PWRITEV: {
			uint64_t first = FieldInteger(env, f[DBOS_TABLE_OP_BUFFER], "iovec index");
			if (op.length > DBOS_IO_VEC_COUNT_MAX || first > vec_count || op.length > vec_count - first)
				throw RangeFailure(env, "iovec range exceeds the iovec table");
			return 0; // counted with the iovecs
		}
		case DBOS_IO_OPENAT:
		case DBOS_IO_STATX: {
			const View &path = view_at(f[DBOS_TABLE_OP_PATH], &index);
			const void *end = path.size ? std::memchr(path.data, 0, path.size) : nullptr;
			if (!end)
				throw ArgumentError(env, "path must be NUL-terminated");
			uint64_t bytes = Arena::Bound((uint64_t)(static_cast<const uint8_t *>(end) - path.data) + 1);
			if (op.opcode == DBOS_IO_STATX) {
				const View &out = view_at(f[DBOS_TABLE_OP_BUFFER], &index);
				RangeCheck(env, out, FieldInteger(env, f[DBOS_TABLE_OP_BUFFER_OFFSET], "offset"),
					   sizeof(dbos_statx), "statx buffer");
				bytes += Arena::Bound(sizeof(dbos_statx));
			}
			return bytes;
		}
		default:
			if (op.opcode == 0 || op.opcode >= DBOS_IO_OPCODE_COUNT)
				throw ArgumentError(env, "unknown opcode");
			return 0;
		}
	}

	// Point every op at its memory: the views themselves (sync) or the batch's arena (async).
	static void PlaceAll(Napi::Env env, JsBatch *js, std::vector<dbos_io_op> &ops, std::vector<dbos_io_vec> &vecs,
			     const std::vector<uint32_t> &vec_views, const std::vector<View> &views,
			     const double *fields)
	{
		std::vector<bool> vec_placed(vecs.size(), false);
		for (size_t i = 0; i < ops.size(); i++) {
			dbos_io_op &op = ops[i];
			const double *f = fields + i * DBOS_TABLE_OP_FIELDS;
			uint32_t op_index = (uint32_t)i;
			switch (op.opcode) {
			case DBOS_IO_PREAD:
			case DBOS_IO_PWRITE: {
				uint32_t view = (uint32_t)f[DBOS_TABLE_OP_BUFFER];
				op.address = Place(js, views[view], view, (uint64_t)f[DBOS_TABLE_OP_BUFFER_OFFSET],
						   op.length, op.opcode == DBOS_IO_PREAD, op_index);
				break;
			}
			case DBOS_IO_PREADV:
			case DBOS_IO_PWRITEV: {
				uint64_t first = (uint64_t)f[DBOS_TABLE_OP_BUFFER];
				for (uint64_t v = first; v < first + op.length; v++) {
					// An iovec row named by two ops would be placed twice: refuse it.
					if (vec_placed[v])
						throw ArgumentError(env, "an iovec row belongs to one op");
					vec_placed[v] = true;
					uint32_t view = vec_views[v];
					vecs[v].address = Place(js, views[view], view, vecs[v].address, vecs[v].length,
								op.opcode == DBOS_IO_PREADV, op_index);
				}
				op.address = op.length ? (uint64_t)(uintptr_t)&vecs[first] : 0;
				break;
			}
			case DBOS_IO_OPENAT:
			case DBOS_IO_STATX: {
				uint32_t path = (uint32_t)f[DBOS_TABLE_OP_PATH];
				const View &path_view = views[path];
				uint64_t bytes = (uint64_t)(static_cast<const uint8_t *>(
								    std::memchr(path_view.data, 0, path_view.size)) -
							    path_view.data) +
						 1;
				op.path = Place(js, path_view, path, 0, bytes, false, op_index);
				if (op.opcode == DBOS_IO_STATX) {
					uint32_t out = (uint32_t)f[DBOS_TABLE_OP_BUFFER];
					op.address =
						Place(js, views[out], out, (uint64_t)f[DBOS_TABLE_OP_BUFFER_OFFSET],
						      sizeof(dbos_statx), true, op_index, true);
				}
				break;
			}
			default: break;
			}
		}
		// An iovec placed by no op keeps its view offset as an address: never handed to the kernel.
	}

	// readBatch(fds: Int32Array | number, positions: Float64Array, length, buffer, sync, results?):
	// op i reads `length` bytes at positions[i] into buffer[i * length ...]; results (an
	// Int32Array of the same count, optional) receives bytes or -errno per op.
	Napi::Value ReadBatch(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 5);
		Open(env);
		if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
			throw ArgumentError(env, "positions must be a Float64Array");
		View positions = ViewOf(env, info[1], "positions");
		ReadShape shape;
		shape.count = positions.size / sizeof(double);
		shape.positions = reinterpret_cast<const double *>(positions.data);
		if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
			View fds = ViewOf(env, info[0], "fd");
			if (fds.size / sizeof(int32_t) != shape.count)
				throw RangeFailure(env, "fds and positions differ in length");
			shape.fds = reinterpret_cast<const int32_t *>(fds.data);
		} else if (info[0].IsNumber()) {
			shape.fd = (int32_t)ToIntegerIn(info[0], "fd", INT32_MIN, INT32_MAX);
		} else {
			throw ArgumentError(env, "fd must be a number or an Int32Array");
		}
		shape.length = (uint64_t)ToIntegerIn(info[2], "length", 0, DBOS_TABLE_TRANSFER_SIZE_MAX);
		shape.buffer = ViewOf(env, info[3], "buffer");
		if (shape.count > DBOS_IO_BATCH_COUNT_MAX ||
		    (shape.count && shape.length > shape.buffer.size / shape.count))
			throw RangeFailure(env, "count * length exceeds the buffer");
		bool sync = info[4].ToBoolean();
		bool has_out = info.Length() > 5 && !info[5].IsUndefined();
		View out;
		if (has_out) {
			if (!info[5].IsTypedArray() ||
			    info[5].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
				throw ArgumentError(env, "results must be an Int32Array");
			out = ViewOf(env, info[5], "results");
			if (out.size / sizeof(int32_t) != shape.count)
				throw RangeFailure(env, "results and positions differ in length");
		}
		if (sync)
			return ReadBatchSync(env, shape, has_out ? info[5] : env.Undefined(),
					     reinterpret_cast<int32_t *>(out.data));

		// One contiguous range at the buffer's own alignment: op i lands as it would in the buffer.
		std::unique_ptr<JsBatch> js(new JsBatch(JsBatch::kReadBatch));
		uint64_t bytes = shape.count * shape.length;
		uint64_t span = bytes < kArenaPackedBelow ? kArenaPackedBelow : bytes; // aligned like a block
		if (!js->arena.Reserve(span + kArenaAlignment))
			throw StatusError(env, DBOS_ENOMEM, "gateway batch buffers");
		uint64_t base = js->arena.Take(span, (uintptr_t)shape.buffer.data);
		js->ops.resize(shape.count);
		View arena{ js->arena.bytes + base, (size_t)bytes };
		FillReads(env, shape, arena, js->ops.data());
		js->copies.reserve(shape.count);
		for (size_t i = 0; i < shape.count; i++)
			js->copies.push_back(
				{ (uint32_t)i, 0, i * shape.length, shape.length, base + i * shape.length, false });
		if (napi_create_reference(env, info[3], 1, &js->views) != napi_ok ||
		    (has_out && napi_create_reference(env, info[5], 1, &js->results_out) != napi_ok)) {
			js->Release(env);
			throw StatusError(env, DBOS_ENOMEM, "gateway batch");
		}
		return RunAsync(env, std::move(js));
	}

	struct ReadShape {
		size_t count = 0;
		const double *positions = nullptr;
		const int32_t *fds = nullptr; // one fd per op, or
		int32_t fd = -1;              // one fd for all
		uint64_t length = 0;
		View buffer;
	};

	// Op i reads shape.length bytes into `into` at i * shape.length.
	static void FillReads(Napi::Env env, const ReadShape &shape, const View &into, dbos_io_op *ops)
	{
		for (size_t i = 0; i < shape.count; i++) {
			dbos_io_op &op = ops[i];
			std::memset(&op, 0, sizeof(op));
			op.opcode = DBOS_IO_PREAD;
			op.fd = shape.fds ? shape.fds[i] : shape.fd;
			op.offset = FieldInteger(env, shape.positions[i], "position");
			op.length = shape.length;
			op.address = (uint64_t)(uintptr_t)(into.data + i * shape.length);
		}
	}

	// The synchronous fast path: no allocation but the result array (none when the caller gives one).
	Napi::Value ReadBatchSync(Napi::Env env, const ReadShape &shape, Napi::Value out_value, int32_t *out_data)
	{
		// Reused per thread: a synchronous call cannot re-enter on its own thread.
		static thread_local std::vector<dbos_io_op> ops;
		static thread_local std::vector<int64_t> results;
		ops.resize(shape.count);
		results.resize(shape.count);
		FillReads(env, shape, shape.buffer, ops.data());
		ThrowIfFailed(env, dbos_gateway_run(Open(env), ops.data(), results.data(), (uint32_t)shape.count),
			      "gateway batch");
		if (!out_data) {
			Napi::Int32Array fresh = Napi::Int32Array::New(env, shape.count);
			out_value = fresh;
			out_data = fresh.Data();
		}
		for (size_t i = 0; i < shape.count; i++)
			out_data[i] = (int32_t)results[i];
		return out_value;
	}

	// close(): Promise<void>; idempotent (a second call gets the first call's promise). Refuses new
	// batches and cancels the backlog at once; the promise resolves when the last batch in flight
	// has settled (BatchSettled), or now when none is. No thread waits for it, so an environment
	// going away never waits for a close either.
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!close_promise_.IsEmpty())
			return close_promise_.Value();
		napi_value promise = nullptr;
		if (napi_create_promise(env, &close_deferred_, &promise) != napi_ok)
			throw StatusError(env, DBOS_ENOMEM, "closing the gateway");
		close_promise_ = Napi::Persistent(Napi::Value(env, promise).As<Napi::Object>());
		closing_ = true;
		if (gateway_)
			dbos_gateway_close_begin(gateway_); // cancelled batches settle through Deliver
		if (async_count_ == 0)
			FinishClose(env);
		return Napi::Value(env, promise);
	}

	napi_env env_ = nullptr;
	dbos_gateway *gateway_ = nullptr;
	uint32_t queue_depth_ = 0;
	bool closing_ = false;
	bool tsfn_released_ = false;
	uint32_t async_count_ = 0;
	std::shared_ptr<GatewayShared> shared_;
	napi_deferred close_deferred_ = nullptr;
	Napi::ObjectReference close_promise_;
};

// () -> one line: what DBOS_GATEWAY_AUTO picks in this process, and why (src/mechanism.ts).
static Napi::Value GatewayMechanism(const Napi::CallbackInfo &info)
{
	char text[512] = "";
	dbos_gateway_mechanism(text, sizeof(text));
	return Napi::String::New(info.Env(), text);
}

void InitGateway(Napi::Env env, Napi::Object exports)
{
	exports.Set("Gateway", GatewayWrap::Define(env));
	exports.Set("gatewayMechanism", Napi::Function::New(env, GatewayMechanism, "gatewayMechanism"));
}

} // namespace dbos
