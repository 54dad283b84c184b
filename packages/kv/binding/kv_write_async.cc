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
	// JavaScript thread only: the memory of settled jobs, for the next ones.  A bulk load queues
	// batches of ~100 KiB hundreds of times a second; fresh memory for each would fault its pages
	// in on this thread (and glibc would hand it back to the kernel in between).
	std::vector<std::vector<uint8_t>> spare_bytes;
	std::vector<std::vector<dbos_kv_op>> spare_ops;
};

// How much settled-job memory is kept for reuse.
static constexpr size_t kSpareJobs = 4;
static constexpr size_t kSpareBytesMax = 4u << 20;

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
// writeAsync(types, sizes, bytes, flags) -> Promise<lsn>: a packed batch (see ReadPackedBatch),
// copied now in one piece and applied on a pool thread after every batch queued before it.
Napi::Value NativeKv::WriteAsync(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	dbos_kv *kv = Store(env);
	PackedBatch batch = ReadPackedBatch(info);
	if (!writes_)
		writes_ = std::make_shared<KvWriteQueue>();
	auto job = std::make_unique<KvWriteJob>(env);
	if (!writes_->spare_bytes.empty()) {
		job->bytes = std::move(writes_->spare_bytes.back());
		writes_->spare_bytes.pop_back();
	}
	if (!writes_->spare_ops.empty()) {
		job->ops = std::move(writes_->spare_ops.back());
		writes_->spare_ops.pop_back();
	}
	job->bytes.assign(batch.bytes.data, batch.bytes.data + batch.bytes.size);
	UnpackOps(env, batch, job->bytes.data(), job->ops);
	job->flags = batch.flags;
	Napi::Promise promise = job->deferred.Promise();
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
		Recycle(*writes_, *job);
	}
}

// Keep a settled job's memory for a later one, up to a few jobs' worth (JavaScript thread).
void NativeKv::Recycle(KvWriteQueue &queue, KvWriteJob &job)
{
	if (queue.spare_bytes.size() < kSpareJobs && job.bytes.capacity() <= kSpareBytesMax)
		queue.spare_bytes.push_back(std::move(job.bytes));
	if (queue.spare_ops.size() < kSpareJobs && job.ops.capacity() * sizeof(dbos_kv_op) <= kSpareBytesMax)
		queue.spare_ops.push_back(std::move(job.ops));
}

} // namespace dbos
