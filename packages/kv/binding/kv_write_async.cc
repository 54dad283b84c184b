// kv_write_async.cc - writeAsync: large batches applied on a pool thread, in order.
//
// Applying a batch of a thousand operations to the tree takes a millisecond or more; on the
// JavaScript thread that is a millisecond the event loop stands still.  writeAsync checks the
// operations, copies their bytes, queues the batch and returns a promise of its LSN.  One worker
// at a time applies the queued batches in order with dbos_kv_write (a later writeAsync joins the
// running worker's queue).
//
// Order with everything else: every other call that reads or writes the store from the
// JavaScript thread starts with Drain(), which waits until the queue is empty.  So a read, a
// snapshot, an iteration step or a synchronous write made after writeAsync returned sees the
// batch, exactly as if it had been applied before writeAsync returned; only the event loop turns
// in which nothing looks at the store run while the batch is being applied.
#include "kv_binding.h"

namespace dbos {

struct KvWriteJob {
	std::vector<uint8_t> bytes;  // every key and value of the batch, copied
	std::vector<dbos_kv_op> ops; // pointing into bytes
	uint32_t flags = 0;
	Napi::Promise::Deferred deferred; // JavaScript thread only
	dbos_status status = DBOS_OK;
	dbos_kv_error detail = {};
	uint64_t lsn = 0;

	explicit KvWriteJob(Napi::Env env) : deferred(env)
	{}
};

// Shared by the JavaScript thread and the worker applying the batches (under `lock`).
struct KvWriteQueue {
	std::mutex lock;
	std::condition_variable idle;                    // signalled when the worker stops
	std::deque<std::unique_ptr<KvWriteJob>> waiting; // queued, not applied yet (in order)
	std::deque<std::unique_ptr<KvWriteJob>> applied; // applied or failed; promise not settled yet
	bool running = false;                            // a worker is applying batches
};

// Applies queued batches until the queue is empty, then settles their promises.
class NativeKv::WriteWorker : public KvAsyncCall {
      public:
	WriteWorker(Napi::Env env, NativeKv *owner, dbos_kv *kv, std::shared_ptr<KvWriteQueue> queue)
	    : KvAsyncCall(env, "dbos:kv:write", owner, kv), queue_(std::move(queue))
	{
		owner->write_workers_++;
	}

      protected:
	void Execute() override
	{
		std::unique_lock<std::mutex> hold(queue_->lock);
		while (!queue_->waiting.empty()) {
			std::unique_ptr<KvWriteJob> job = std::move(queue_->waiting.front());
			queue_->waiting.pop_front();
			hold.unlock();
			job->status =
				dbos_kv_write(kv_, job->ops.data(), (uint32_t)job->ops.size(), job->flags, &job->lsn);
			if (job->status != DBOS_OK)
				dbos_kv_last_error(&job->detail);
			hold.lock();
			queue_->applied.push_back(std::move(job));
		}
		queue_->running = false;
		queue_->idle.notify_all();
	}

	void Settled() noexcept override
	{
		owner_->write_workers_--;
		owner_->SettleWrites();
	}

	const char *Name() const override
	{
		return "write";
	}

      private:
	std::shared_ptr<KvWriteQueue> queue_;
};

// The operations of `ops` with their keys and values copied into `job` (the caller's buffers
// may change or be detached once the call returns).
// The sizes of a packed batch: a Uint32Array, two per operation.
static const uint32_t *ToSizes(const Napi::Value &value, size_t *count_out)
{
	napi_typedarray_type type = napi_int8_array;
	void *data = nullptr;
	if (napi_get_typedarray_info(value.Env(), value, &type, count_out, &data, nullptr, nullptr) != napi_ok ||
	    type != napi_uint32_array)
		throw ArgumentError(value.Env(), "sizes must be a Uint32Array");
	return static_cast<const uint32_t *>(data);
}

// Copy the packed bytes into the job and point its operations into the copy, checking every
// size against the limits of dbos/kv.h and the packed length.
static void UnpackOps(Napi::Env env, KvWriteJob *job, Bytes types, const uint32_t *sizes, size_t size_count,
		      Bytes packed)
{
	size_t count = types.size;
	if (count == 0)
		throw ArgumentError(env, "a write needs at least one operation");
	if (count > DBOS_KV_BATCH_MAX)
		throw StatusError(env, DBOS_ERANGE, "more than " + std::to_string(DBOS_KV_BATCH_MAX) + " operations");
	if (size_count != 2 * count)
		throw ArgumentError(env, "sizes must hold a key size and a value size per operation");
	job->bytes.assign(packed.data, packed.data + packed.size);
	job->ops.resize(count);
	// An empty value still needs a pointer the C side may read zero bytes from.
	static const uint8_t empty = 0;
	size_t at = 0;
	for (size_t i = 0; i < count; i++) {
		uint32_t key_size = sizes[2 * i], value_size = sizes[2 * i + 1];
		if (key_size == 0)
			throw ArgumentError(env, "key must not be empty");
		if (key_size > DBOS_KV_KEY_MAX)
			throw StatusError(env, DBOS_ERANGE,
					  "key is longer than " + std::to_string(DBOS_KV_KEY_MAX) + " bytes");
		if (value_size > DBOS_KV_VALUE_MAX)
			throw StatusError(env, DBOS_ERANGE,
					  "value is larger than " + std::to_string(DBOS_KV_VALUE_MAX) + " bytes");
		if (types.data[i] != DBOS_KV_PUT && (types.data[i] != DBOS_KV_DEL || value_size != 0))
			throw ArgumentError(env, "an operation type must be put (1) or del (2), a del without a value");
		if ((uint64_t)key_size + value_size > packed.size - at)
			throw ArgumentError(env, "the sizes add up to more than the packed bytes");
		dbos_kv_op &op = job->ops[i];
		op.type = types.data[i];
		op.key = job->bytes.data() + at;
		op.key_size = key_size;
		at += key_size;
		if (op.type == DBOS_KV_PUT) {
			op.value = value_size > 0 ? job->bytes.data() + at : &empty;
			op.value_size = value_size;
			at += value_size;
		}
	}
	if (at != packed.size)
		throw ArgumentError(env, "the sizes add up to less than the packed bytes");
}

// writeAsync(types, sizes, bytes, flags) -> Promise<lsn>: a batch JavaScript packed (each key
// then its value, back to back in `bytes`; sizes[2i] and sizes[2i + 1] the key and value sizes of
// operation i, 0 for a del's value), copied now in one piece and applied on a pool thread after
// every batch queued before it.  Packed, a batch of a thousand costs four Node-API calls instead
// of four thousand: this call is part of the event loop's time.
Napi::Value NativeKv::WriteAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_kv *kv = Store(env);
	RequireArguments(info, 4);
	Bytes types = ToBytes(info[0], "types");
	size_t size_count = 0;
	const uint32_t *sizes = ToSizes(info[1], &size_count);
	Bytes packed = ToBytes(info[2], "bytes");
	uint32_t flags = (uint32_t)ToUint64Max(info[3], "flags", DBOS_KV_SYNC);
	auto job = std::make_unique<KvWriteJob>(env);
	UnpackOps(env, job.get(), types, sizes, size_count, packed);
	job->flags = flags;
	Napi::Promise promise = job->deferred.Promise();
	if (!writes_)
		writes_ = std::make_shared<KvWriteQueue>();
	bool start = false;
	{
		std::lock_guard<std::mutex> hold(writes_->lock);
		writes_->waiting.push_back(std::move(job));
		start = !writes_->running;
		writes_->running = true;
	}
	queued_writes_++;
	if (start) {
		WriteWorker *worker = new WriteWorker(env, this, kv, writes_);
		worker->Queue();
	}
	return promise;
}

void NativeKv::Drain()
{
	if (queued_writes_ == 0)
		return;
	{
		std::unique_lock<std::mutex> hold(writes_->lock);
		writes_->idle.wait(hold, [this] { return writes_->waiting.empty() && !writes_->running; });
	}
	SettleWrites();
}

dbos_kv *NativeKv::Current(Napi::Env env)
{
	dbos_kv *kv = Store(env);
	Drain();
	return kv;
}

// Settle the promises of the applied batches, in order (JavaScript thread).  Nothing here throws:
// it also runs while a worker's environment is torn down.
void NativeKv::SettleWrites()
{
	if (!writes_)
		return;
	std::deque<std::unique_ptr<KvWriteJob>> applied;
	{
		std::lock_guard<std::mutex> hold(writes_->lock);
		applied.swap(writes_->applied);
	}
	for (std::unique_ptr<KvWriteJob> &job : applied) {
		queued_writes_--;
		try {
			if (job->status == DBOS_OK)
				job->deferred.Resolve(NumberOf(Env(), job->lsn));
			else
				job->deferred.Reject(KvError(Env(), job->status, "write", &job->detail).Value());
		} catch (...) {
		}
	}
}

} // namespace dbos
