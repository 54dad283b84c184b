// gateway.cc - the system-call gateway (dbos/hypercall.h) as a JavaScript class.
//
// Glue only: unpack the op table src/gateway.ts encoded, check every buffer
// range against its ArrayBufferView (so no call can make the kernel write
// outside a JavaScript buffer), hand one batch to the gateway, and deliver the
// results.  Async batches keep their buffers referenced until they complete;
// completions that happen off the JavaScript thread come back through a
// thread-safe function.
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "dbos/binding.h"

extern "C" {
#include "dbos/hypercall.h"
#include "gateway_table.h"
}

namespace dbos {

static constexpr double kMaxSafeInteger = 9007199254740991.0;

struct View {
	uint8_t *data = nullptr;
	size_t size = 0;
};

static Napi::RangeError RangeFailure(Napi::Env env, const std::string &message)
{
	Napi::RangeError error = Napi::RangeError::New(env, message);
	error.Set("code", Napi::String::New(env, "DBOS_ERANGE"));
	return error;
}

static View ViewOf(Napi::Env env, const Napi::Value &value, const char *name)
{
	View view;
	if (value.IsTypedArray()) {
		Napi::TypedArray array = value.As<Napi::TypedArray>();
		if (array.ArrayBuffer().IsDetached())
			throw ArgumentError(env, std::string(name) + " is detached");
		view.data = static_cast<uint8_t *>(array.ArrayBuffer().Data()) + array.ByteOffset();
		view.size = array.ByteLength();
	} else if (value.IsDataView()) {
		Napi::DataView data = value.As<Napi::DataView>();
		if (data.ArrayBuffer().IsDetached())
			throw ArgumentError(env, std::string(name) + " is detached");
		view.data = static_cast<uint8_t *>(data.ArrayBuffer().Data()) + data.ByteOffset();
		view.size = data.ByteLength();
	} else {
		throw ArgumentError(env, std::string(name) + " must be a TypedArray, Buffer or DataView");
	}
	return view;
}

// One napi_get_typedarray_info call: the hot path reads every typed array once.
struct Typed {
	bool ok = false; // value is a TypedArray
	napi_typedarray_type type = napi_int8_array;
	size_t length = 0; // elements
	uint8_t *data = nullptr;
	size_t bytes = 0;
};

static size_t ElementSize(napi_typedarray_type type)
{
	switch (type) {
	case napi_int16_array:
	case napi_uint16_array: return 2;
	case napi_int32_array:
	case napi_uint32_array:
	case napi_float32_array: return 4;
	case napi_float64_array:
	case napi_bigint64_array:
	case napi_biguint64_array: return 8;
	default: return 1;
	}
}

static Typed TypedOf(Napi::Env env, napi_value value, const char *name)
{
	Typed typed;
	napi_value array_buffer;
	size_t offset;
	void *data = nullptr;
	if (napi_get_typedarray_info(env, value, &typed.type, &typed.length, &data, &array_buffer, &offset) != napi_ok)
		return typed;
	typed.ok = true;
	typed.data = static_cast<uint8_t *>(data); // already adjusted by the byte offset
	typed.bytes = typed.length * ElementSize(typed.type);
	if (typed.bytes == 0) {
		bool detached = false;
		if (napi_is_detached_arraybuffer(env, array_buffer, &detached) == napi_ok && detached)
			throw ArgumentError(env, std::string(name) + " is detached");
	}
	return typed;
}

static uint64_t FieldInteger(Napi::Env env, double value, const char *name, double min = 0)
{
	if (!(value >= min) || value > kMaxSafeInteger || value != std::floor(value))
		throw ArgumentError(env,
				    std::string(name) + " must be an integer >= " + std::to_string((long long)min));
	return (uint64_t)(int64_t)value;
}

// [offset, offset + length) must lie inside the view.
static uint64_t RangeAddress(Napi::Env env, const View &view, uint64_t offset, uint64_t length, const char *name)
{
	if (offset > view.size || length > view.size - offset)
		throw RangeFailure(env, std::string(name) + ": offset + length exceeds the buffer");
	return (uint64_t)(uintptr_t)(view.data + offset);
}

// Everything one JavaScript batch owns until it completes.
struct JsBatch {
	enum State {
		kSubmitting = 0,
		kDoneInline = 1,
		kAsync = 2
	};
	dbos_io_batch batch;
	std::vector<dbos_io_op> ops;
	std::vector<int64_t> results;
	std::vector<dbos_io_vec> vecs;
	Napi::ObjectReference keep_alive;                // the buffers the ops point into
	Napi::ObjectReference owner;                     // the Gateway object: no GC while in flight
	std::optional<Napi::Promise::Deferred> deferred; // async batches only
	bool int32_results = false;                      // readBatch: Int32Array, else Float64Array
	Napi::ObjectReference results_out;               // readBatch: the caller's Int32Array to fill, if any
	std::atomic<int> state{ kSubmitting };
	class GatewayWrap *gateway = nullptr;

	JsBatch(Napi::Env env, bool sync)
	{
		if (!sync)
			deferred.emplace(Napi::Promise::Deferred::New(env));
	}

	Napi::Value ResultArray(Napi::Env env) const
	{
		size_t count = results.size();
		if (int32_results) {
			Napi::Int32Array out = results_out.IsEmpty() ? Napi::Int32Array::New(env, count)
								     : results_out.Value().As<Napi::Int32Array>();
			for (size_t i = 0; i < count; i++)
				out[i] = (int32_t)results[i];
			return out;
		}
		Napi::Float64Array out = Napi::Float64Array::New(env, count);
		for (size_t i = 0; i < count; i++)
			out[i] = (double)results[i];
		return out;
	}
};

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
		config.backend = (enum dbos_gateway_backend)ToUint64(info[0], "backend");
		config.queue_depth = (uint32_t)ToUint64(info[1], "queueDepth");
		config.thread_count = (uint32_t)ToUint64(info[2], "threadCount");
		ThrowIfFailed(env, dbos_gateway_open(&config, &gateway_), "opening the gateway");
		queue_depth_ = dbos_gateway_queue_depth(gateway_);
		tsfn_state_ = std::make_shared<TsfnState>();
		tsfn_ = Tsfn::New(env, "dbos gateway completion", 0, 1, this, TsfnFinalize,
				  new std::shared_ptr<TsfnState>(tsfn_state_));
		tsfn_.Unref(env); // referenced only while async batches are in flight
	}

	~GatewayWrap() override
	{
		// Garbage collection finds no batch in flight (each holds `owner`); environment
		// teardown may: their completions are then dropped, not delivered.
		tearing_down_.store(true);
		if (gateway_) {
			dbos_gateway_close(gateway_);
			gateway_ = nullptr;
		}
		if (!tsfn_released_ && !tsfn_state_->finalized)
			tsfn_.Release();
	}

	// Runs on the JavaScript thread for each batch completed elsewhere.
	static void Deliver(Napi::Env env, Napi::Function, GatewayWrap *self, JsBatch *batch)
	{
		if (env == nullptr)
			return; // the environment is going away: its references go with it
		batch->deferred->Resolve(batch->ResultArray(env));
		if (--self->async_count_ == 0)
			self->tsfn_.Unref(env);
		delete batch;
	}

      private:
	using Tsfn = Napi::TypedThreadSafeFunction<GatewayWrap, JsBatch, &GatewayWrap::Deliver>;

	// Outlives whichever of the wrapper and the thread-safe function goes first.
	struct TsfnState {
		bool finalized = false;
	};

	static void TsfnFinalize(Napi::Env, std::shared_ptr<TsfnState> *state, GatewayWrap *)
	{
		(*state)->finalized = true;
		delete state;
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

	static void OnComplete(dbos_io_batch *batch)
	{
		JsBatch *js = static_cast<JsBatch *>(batch->context);
		int expected = JsBatch::kSubmitting;
		if (js->state.compare_exchange_strong(expected, JsBatch::kDoneInline))
			return; // the submitting call is still running and resolves it itself
		if (js->gateway->tearing_down_.load())
			return; // the environment is going away; so is the promise
		// NonBlockingCall fails only while the environment shuts down; the batch is then left.
		js->gateway->tsfn_.NonBlockingCall(js);
	}

	// Submit js (ops filled in) and return its promise, or its results when sync.
	Napi::Value Run(Napi::Env env, JsBatch *js, bool sync)
	{
		dbos_gateway *gateway = Open(env);
		js->results.assign(js->ops.size(), 0);
		dbos_io_batch_init(&js->batch, js->ops.data(), js->results.data(), (uint32_t)js->ops.size());
		if (sync) {
			dbos_status status =
				dbos_gateway_run(gateway, js->ops.data(), js->results.data(), (uint32_t)js->ops.size());
			Napi::Value out = status == DBOS_OK ? js->ResultArray(env) : env.Undefined();
			delete js;
			ThrowIfFailed(env, status, "gateway batch");
			return out;
		}
		js->gateway = this;
		js->owner = Napi::Persistent(Value());
		js->batch.on_complete = OnComplete;
		js->batch.context = js;
		dbos_status status = dbos_gateway_submit(gateway, &js->batch);
		if (status != DBOS_OK) {
			delete js;
			ThrowIfFailed(env, status, "gateway batch");
		}
		dbos_gateway_poll(gateway, &js->batch); // take completions that already happened
		Napi::Promise promise = js->deferred->Promise();
		int expected = JsBatch::kSubmitting;
		if (!js->state.compare_exchange_strong(expected, JsBatch::kAsync)) {
			js->deferred->Resolve(js->ResultArray(env)); // completed inside this call
			delete js;
			return promise;
		}
		if (async_count_++ == 0)
			tsfn_.Ref(env);
		return promise;
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
		Napi::Float64Array table = info[0].As<Napi::Float64Array>();
		Napi::Float64Array vec_table = info[1].As<Napi::Float64Array>();
		Napi::Array buffer_list = info[2].As<Napi::Array>();
		bool sync = info[3].ToBoolean();
		if (table.ElementLength() % DBOS_TABLE_OP_FIELDS || vec_table.ElementLength() % DBOS_TABLE_VEC_FIELDS)
			throw ArgumentError(env, "op table length is not a whole number of ops");
		size_t count = table.ElementLength() / DBOS_TABLE_OP_FIELDS;
		if (count > DBOS_IO_BATCH_COUNT_MAX)
			throw RangeFailure(env, "too many ops in one batch");

		std::vector<View> views(buffer_list.Length());
		for (uint32_t i = 0; i < buffer_list.Length(); i++)
			views[i] = ViewOf(env, buffer_list.Get(i), "buffer");
		auto view_at = [&](double index) -> const View & {
			uint64_t at = FieldInteger(env, index, "buffer index");
			if (at >= views.size())
				throw ArgumentError(env, "buffer index out of range");
			return views[at];
		};

		JsBatch *js = new JsBatch(env, sync);
		try {
			js->ops.resize(count);
			size_t vec_count = vec_table.ElementLength() / DBOS_TABLE_VEC_FIELDS;
			js->vecs.resize(vec_count);
			for (size_t v = 0; v < vec_count; v++) {
				const double *f = vec_table.Data() + v * DBOS_TABLE_VEC_FIELDS;
				const View &view = view_at(f[DBOS_TABLE_VEC_BUFFER]);
				uint64_t length = FieldInteger(env, f[DBOS_TABLE_VEC_LENGTH], "iovec length");
				js->vecs[v].address = RangeAddress(
					env, view, FieldInteger(env, f[DBOS_TABLE_VEC_OFFSET], "iovec offset"), length,
					"iovec");
				js->vecs[v].length = length;
			}
			for (size_t i = 0; i < count; i++) {
				const double *f = table.Data() + i * DBOS_TABLE_OP_FIELDS;
				dbos_io_op &op = js->ops[i];
				std::memset(&op, 0, sizeof(op));
				op.opcode = (uint8_t)FieldInteger(env, f[DBOS_TABLE_OP_OPCODE], "opcode");
				op.fd = (int32_t)(int64_t)f[DBOS_TABLE_OP_FD];
				if (f[DBOS_TABLE_OP_FD] != (double)op.fd)
					throw ArgumentError(env, "fd must be a 32-bit integer");
				op.offset = FieldInteger(env, f[DBOS_TABLE_OP_POSITION], "position");
				op.length = FieldInteger(env, f[DBOS_TABLE_OP_LENGTH], "length");
				op.flags = (uint32_t)FieldInteger(env, f[DBOS_TABLE_OP_FLAGS], "flags");
				op.mode = (uint32_t)FieldInteger(env, f[DBOS_TABLE_OP_MODE], "mode");
				FillPointers(env, op, f, view_at, js->vecs);
			}
			js->keep_alive = Napi::Persistent(buffer_list.As<Napi::Object>());
		} catch (...) {
			delete js;
			throw;
		}
		return Run(env, js, sync);
	}

	template <typename ViewAt>
	static void FillPointers(Napi::Env env, dbos_io_op &op, const double *f, ViewAt &view_at,
				 const std::vector<dbos_io_vec> &vecs)
	{
		switch (op.opcode) {
		case DBOS_IO_PREAD:
		case DBOS_IO_PWRITE: {
			if (op.length > DBOS_TABLE_TRANSFER_SIZE_MAX)
				throw RangeFailure(env, "length exceeds 1 GiB per op");
			const View &view = view_at(f[DBOS_TABLE_OP_BUFFER]);
			op.address =
				RangeAddress(env, view, FieldInteger(env, f[DBOS_TABLE_OP_BUFFER_OFFSET], "offset"),
					     op.length, "buffer");
			return;
		}
		case DBOS_IO_PREADV:
		case DBOS_IO_PWRITEV: {
			uint64_t first = FieldInteger(env, f[DBOS_TABLE_OP_BUFFER], "iovec index");
			if (op.length > DBOS_IO_VEC_COUNT_MAX || first > vecs.size() || op.length > vecs.size() - first)
				throw RangeFailure(env, "iovec range exceeds the iovec table");
			op.address = op.length ? (uint64_t)(uintptr_t)&vecs[first] : 0;
			return;
		}
		case DBOS_IO_OPENAT:
		case DBOS_IO_STATX: {
			const View &path = view_at(f[DBOS_TABLE_OP_PATH]);
			if (!path.size || !std::memchr(path.data, 0, path.size))
				throw ArgumentError(env, "path must be NUL-terminated");
			op.path = (uint64_t)(uintptr_t)path.data;
			if (op.opcode == DBOS_IO_STATX) {
				const View &out = view_at(f[DBOS_TABLE_OP_BUFFER]);
				op.address = RangeAddress(env, out,
							  FieldInteger(env, f[DBOS_TABLE_OP_BUFFER_OFFSET], "offset"),
							  sizeof(dbos_statx), "statx buffer");
			}
			return;
		}
		default:
			if (op.opcode == 0 || op.opcode >= DBOS_IO_OPCODE_COUNT)
				throw ArgumentError(env, "unknown opcode");
			return;
		}
	}

	// readBatch(fds: Int32Array | number, positions: Float64Array, length, buffer, sync, results?):
	// op i reads `length` bytes at positions[i] into buffer[i * length ...]; results (an
	// Int32Array of the same count, optional) receives bytes or -errno per op.
	Napi::Value ReadBatch(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 5);
		Open(env);
		Typed positions = TypedOf(env, info[1], "positions");
		if (!positions.ok || positions.type != napi_float64_array)
			throw ArgumentError(env, "positions must be a Float64Array");
		ReadShape shape;
		shape.count = positions.length;
		shape.positions = reinterpret_cast<const double *>(positions.data);
		Typed fds = TypedOf(env, info[0], "fd");
		if (fds.ok && fds.type == napi_int32_array) {
			if (fds.length != shape.count)
				throw RangeFailure(env, "fds and positions differ in length");
			shape.fds = reinterpret_cast<const int32_t *>(fds.data);
		} else if (info[0].IsNumber()) {
			double fd = info[0].As<Napi::Number>().DoubleValue();
			shape.fd = (int32_t)fd;
			if (fd != (double)shape.fd)
				throw ArgumentError(env, "fd must be a 32-bit integer");
		} else {
			throw ArgumentError(env, "fd must be a number or an Int32Array");
		}
		shape.length = ToUint64(info[2], "length");
		if (shape.length > DBOS_TABLE_TRANSFER_SIZE_MAX)
			throw RangeFailure(env, "length exceeds 1 GiB per op");
		Typed buffer = TypedOf(env, info[3], "buffer");
		if (buffer.ok)
			shape.buffer = View{ buffer.data, buffer.bytes };
		else
			shape.buffer = ViewOf(env, info[3], "buffer"); // a DataView
		if (shape.count > DBOS_IO_BATCH_COUNT_MAX ||
		    (shape.count && shape.length > shape.buffer.size / shape.count))
			throw RangeFailure(env, "count * length exceeds the buffer");
		bool sync = info[4].ToBoolean();
		bool has_out = info.Length() > 5 && !info[5].IsUndefined();
		Typed out;
		if (has_out) {
			out = TypedOf(env, info[5], "results");
			if (!out.ok || out.type != napi_int32_array)
				throw ArgumentError(env, "results must be an Int32Array");
			if (out.length != shape.count)
				throw RangeFailure(env, "results and positions differ in length");
		}
		if (sync)
			return ReadBatchSync(env, shape, has_out ? info[5] : env.Undefined(),
					     reinterpret_cast<int32_t *>(out.data));

		JsBatch *js = new JsBatch(env, false);
		js->int32_results = true;
		try {
			js->ops.resize(shape.count);
			FillReads(env, shape, js->ops.data());
			js->keep_alive = Napi::Persistent(info[3].As<Napi::Object>());
			if (has_out)
				js->results_out = Napi::Persistent(info[5].As<Napi::Object>());
		} catch (...) {
			delete js;
			throw;
		}
		return Run(env, js, false);
	}

	struct ReadShape {
		size_t count = 0;
		const double *positions = nullptr;
		const int32_t *fds = nullptr; // one fd per op, or
		int32_t fd = -1;              // one fd for all
		uint64_t length = 0;
		View buffer;
	};

	static void FillReads(Napi::Env env, const ReadShape &shape, dbos_io_op *ops)
	{
		for (size_t i = 0; i < shape.count; i++) {
			dbos_io_op &op = ops[i];
			std::memset(&op, 0, sizeof(op));
			op.opcode = DBOS_IO_PREAD;
			op.fd = shape.fds ? shape.fds[i] : shape.fd;
			op.offset = FieldInteger(env, shape.positions[i], "position");
			op.length = shape.length;
			op.address = (uint64_t)(uintptr_t)(shape.buffer.data + i * shape.length);
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
		FillReads(env, shape, ops.data());
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

	// Runs dbos_gateway_close off the JavaScript thread: in-flight batches
	// keep completing (and resolving) while it waits for them.
	class CloseWorker : public Napi::AsyncWorker {
	      public:
		CloseWorker(Napi::Env env, GatewayWrap *self, dbos_gateway *gateway)
		    : Napi::AsyncWorker(env, "dbos gateway close"), self_(self), gateway_(gateway),
		      deferred_(Napi::Promise::Deferred::New(env))
		{
			owner_ = Napi::Persistent(self->Value());
		}
		Napi::Promise Promise()
		{
			return deferred_.Promise();
		}
		void Execute() override
		{
			dbos_gateway_close(gateway_);
		}
		void OnOK() override
		{
			self_->tsfn_.Release(); // queued deliveries still run before it goes
			self_->tsfn_released_ = true;
			deferred_.Resolve(Env().Undefined());
		}

	      private:
		GatewayWrap *self_;
		dbos_gateway *gateway_;
		Napi::Promise::Deferred deferred_;
		Napi::ObjectReference owner_;
	};

	// close(): Promise<void>; idempotent (a second call gets the first call's promise).
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!close_promise_.IsEmpty())
			return close_promise_.Value();
		closing_ = true;
		dbos_gateway *gateway = gateway_;
		gateway_ = nullptr;
		CloseWorker *worker = new CloseWorker(env, this, gateway);
		Napi::Promise promise = worker->Promise();
		close_promise_ = Napi::Persistent(promise.As<Napi::Object>());
		worker->Queue();
		return promise;
	}

	dbos_gateway *gateway_ = nullptr;
	uint32_t queue_depth_ = 0;
	bool closing_ = false;
	bool tsfn_released_ = false;
	uint32_t async_count_ = 0;
	std::atomic<bool> tearing_down_{ false };
	std::shared_ptr<TsfnState> tsfn_state_;
	Tsfn tsfn_;
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
