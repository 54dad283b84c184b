// snapshot.cc - spaces and snapshots (dbos/snapshot.h) as JavaScript objects.
//
// Glue only: unpack arguments, check buffer sizes against the C constants, make one C call,
// convert the status.  A Space owns its memory (reserved here, exposed to JavaScript as an
// external ArrayBuffer that close() detaches, so no view outlives the mapping), the C space,
// the writer the JavaScript thread uses for the barrier, and the handle C engines in other
// addons attach through (dbos/snapshot_handle.h; closed, which detaches the engine, before the
// space is destroyed).  Image writes run on the libuv pool (one AsyncProgressQueueWorker, one
// C call) and keep the Space referenced until they finish; close() refuses while one is pending.
//
// Every argument is checked again here, whatever the TypeScript layer did: a Uint8Array is read
// through its own view (shared memory too) and refused when detached or short; numbers go
// through ToUint64 and the C ranges.  Nothing a JavaScript caller passes reaches C unchecked.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dbos/binding.h"

extern "C" {
#include "dbos/host/platform.h"
#include "dbos/platform.h"
#include "dbos/pagetable.h"
#include "dbos/snapshot.h"
#include "dbos/snapshot_handle.h"
#include "../csrc/host/snap_handle.h"
}

namespace dbos {

static Napi::Error Closed(Napi::Env env)
{
	return StatusError(env, DBOS_ECLOSED, "the space is closed");
}

// The bytes of a Uint8Array argument, at least `needed` of them.  Read from the view itself
// (napi_get_typedarray_info), which also serves views of a SharedArrayBuffer and of a resizable
// buffer at its current length; a detached view is refused rather than read as empty.
struct Bytes {
	uint8_t *data;
	size_t length;
};

static Bytes BytesOf(const Napi::Value &value, uint64_t needed, const char *name)
{
	Napi::Env env = value.Env();
	napi_typedarray_type type = napi_int8_array;
	size_t length = 0;
	void *data = nullptr;
	napi_value buffer = nullptr;
	if (!value.IsTypedArray() ||
	    napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, nullptr) != napi_ok ||
	    (type != napi_uint8_array && type != napi_uint8_clamped_array))
		throw ArgumentError(env, std::string(name) + " must be a Uint8Array");
	bool detached = false;
	if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached)
		throw ArgumentError(env, std::string(name) + " is detached");
	if (length < needed)
		throw ArgumentError(env, std::string(name) + " is too small");
	return { static_cast<uint8_t *>(data), length };
}

// A duplicate of a caller's file descriptor, owned by the operation that uses it on another
// thread: closing (and reusing) the caller's number meanwhile cannot redirect the operation.
static int FdDuplicate(Napi::Env env, const Napi::Value &value)
{
	uint64_t fd = ToUint64(value, "fd");
	if (fd > INT32_MAX)
		throw ArgumentError(env, "fd is out of range");
	int copy = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
	int error = errno;
	if (copy < 0 && error == EBADF)
		throw StatusError(env, DBOS_EINVAL, "fd is not an open file descriptor");
	if (copy < 0)
		throw StatusError(env, dbos_host_status_from_errno(error), "duplicating fd");
	return copy;
}

// Completion, progress and destruction of an async operation run on the JavaScript thread, but
// also while a worker thread's environment is torn down with the operation in flight
// (worker.terminate()): then no JavaScript may run, Node-API calls that need it fail, and
// node-addon-api turns each failure into a C++ exception that ends the process if it leaves the
// callback.  So those callbacks catch everything (a promise that can no longer settle goes with
// its environment), and drop references through this call, which never throws.
template <typename T> static void UnrefQuietly(Napi::ObjectWrap<T> *object) noexcept
{
	uint32_t count = 0;
	(void)napi_reference_unref(object->Env(), static_cast<napi_ref>(*object), &count);
}

// The mapped memory and the engine handle, shared by a Space, the ArrayBuffer that shows the
// memory to JavaScript and the handle Externals, so that a view or an External kept after the
// Space was garbage collected never points at unmapped or freed memory.  JavaScript thread only
// (finalizers run there too).
struct SpaceMemory {
	dbos_pt_region *region = nullptr;
	snap_handle *handle = nullptr;
	int refs = 1;
};

static void SpaceMemoryUnref(SpaceMemory *memory) noexcept
{
	if (--memory->refs > 0)
		return;
	if (memory->region)
		dbos_pt_region_destroy(memory->region);
	snap_handle_destroy(memory->handle);
	delete memory;
}

static void SpaceHandleFinalize(Napi::Env, dbos_snap_handle *, SpaceMemory *memory)
{
	SpaceMemoryUnref(memory);
}

static const napi_type_tag kHandleTag = { DBOS_SNAP_HANDLE_TAG_LOWER, DBOS_SNAP_HANDLE_TAG_UPPER };

static void SpaceMemoryFinalize(Napi::Env, void *, SpaceMemory *memory)
{
	SpaceMemoryUnref(memory);
}

class Space : public Napi::ObjectWrap<Space> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "Space",
				   {
					   InstanceMethod<&Space::Memory>("memory"),
					   InstanceMethod<&Space::Mechanism>("mechanism"),
					   InstanceMethod<&Space::Take>("take"),
					   InstanceMethod<&Space::Release>("release"),
					   InstanceMethod<&Space::Info>("info"),
					   InstanceMethod<&Space::PageRead>("pageRead"),
					   InstanceMethod<&Space::Read>("read"),
					   InstanceMethod<&Space::DirtySince>("dirtySince"),
					   InstanceMethod<&Space::WriteBegin>("writeBegin"),
					   InstanceMethod<&Space::WriteEnd>("writeEnd"),
					   InstanceMethod<&Space::WriteCopy>("writeCopy"),
					   InstanceMethod<&Space::Stats>("stats"),
					   InstanceMethod<&Space::ImageWrite>("imageWrite"),
					   InstanceMethod<&Space::ImageLoad>("imageLoad"),
					   InstanceMethod<&Space::NativeHandle>("nativeHandle"),
					   InstanceMethod<&Space::Close>("close"),
				   });
	}

	// new Space(size, mechanism, raw, hugePages, populate, copyReservePages)
	Space(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Space>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 6);
		size_ = ToUint64(info[0], "size");
		uint64_t mechanism = ToUint64(info[1], "mechanism");
		bool raw = info[2].ToBoolean();
		bool huge = info[3].ToBoolean();
		bool populate = info[4].ToBoolean();
		if (size_ == 0 || size_ % DBOS_PAGE_SIZE != 0 || size_ / DBOS_PAGE_SIZE > DBOS_SNAP_PAGE_COUNT_MAX)
			throw ArgumentError(env, "size must be a positive multiple of 4096, at most 4 TiB");
		if (mechanism >= DBOS_SNAP_MECHANISM_COUNT)
			throw ArgumentError(env, "mechanism is not a dbos_snap_mechanism");
		// The memory is a @dbos/pagetable region: fork spaces get dirty pages from its tracking.
		dbos_pt_region_options region_options = {};
		region_options.size = size_;
		region_options.flags = DBOS_PT_REGION_MAP_ALL | (huge ? (uint32_t)DBOS_PT_REGION_HUGE_PAGES : 0u);
		ThrowIfFailed(env, dbos_pt_region_create(&region_options, &region_), "reserving the space");
		owner_ = new SpaceMemory();
		owner_->region = region_;
		base_ = dbos_pt_region_base(region_);
		dbos_status status = DBOS_OK;
		if (populate)
			status = dbos_pt_populate(region_, dbos_pt_range(0, size_ / DBOS_PAGE_SIZE));
		// No quiesce hook yet: an engine that writes raw brings its own when it attaches.
		dbos_snap_space_options options = {};
		options.region = region_;
		options.mechanism = static_cast<enum dbos_snap_mechanism>(mechanism);
		options.flags = raw ? DBOS_SNAP_WRITES_RAW : 0;
		options.copy_reserve_pages = ToUint64(info[5], "copyReservePages");
		if (status == DBOS_OK)
			status = dbos_snap_space_create(&options, &space_);
		if (status == DBOS_OK) {
			owner_->handle = snap_handle_create(space_);
			status = owner_->handle ? DBOS_OK : DBOS_ENOMEM;
		}
		if (status == DBOS_OK && dbos_snap_space_mechanism(space_) == DBOS_SNAP_EPOCH)
			status = dbos_snap_writer_register(space_, &writer_);
		if (status != DBOS_OK) {
			Free(true);
			ThrowIfFailed(env, status, "creating the space");
		}
		Napi::MemoryManagement::AdjustExternalMemory(env, 0); // memory is mapped, not heap
	}

	// Garbage collected without close(): a view of the memory may outlive us, so the mapping goes
	// when the last of us and the ArrayBuffer does.
	~Space()
	{
		Free(false);
	}

      private:
	// Detach the engine (it stops its writers), destroy the C space; unmap the memory now when
	// `unmap` (no view can reach it: never exposed, or detached), else leave that to the last owner.
	void Free(bool unmap)
	{
		if (owner_ && owner_->handle)
			snap_handle_close(owner_->handle);
		if (writer_ && dbos_snap_writer_epoch(writer_) != 0)
			dbos_snap_write_end(writer_); // closed between beginWrite and endWrite
		if (writer_)
			dbos_snap_writer_unregister(writer_);
		writer_ = nullptr;
		if (space_)
			dbos_snap_space_destroy(space_);
		space_ = nullptr;
		if (owner_) {
			if (unmap) {
				dbos_pt_region_destroy(owner_->region);
				owner_->region = nullptr;
			}
			SpaceMemoryUnref(owner_);
		}
		owner_ = nullptr;
		region_ = nullptr;
		base_ = nullptr;
	}

	dbos_snap_space *Open(Napi::Env env)
	{
		if (!space_)
			throw Closed(env);
		return space_;
	}

	Napi::Value Memory(const Napi::CallbackInfo &info)
	{
		Open(info.Env());
		if (memory_.IsEmpty()) {
			Napi::ArrayBuffer buffer =
				Napi::ArrayBuffer::New(info.Env(), base_, size_, SpaceMemoryFinalize, owner_);
			owner_->refs++;
			memory_ = Napi::Persistent(buffer);
		}
		return memory_.Value();
	}

	Napi::Value Mechanism(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), dbos_snap_space_mechanism(Open(info.Env())));
	}

	// take and release wait for write sections in progress: the JavaScript thread's own open one
	// would never end.
	void RefuseInsideWrite(Napi::Env env, const char *what)
	{
		if (writer_ && dbos_snap_writer_epoch(writer_) != 0)
			throw StatusError(env, DBOS_EBUSY,
					  std::string(what) + " inside beginWrite/endWrite would wait for itself");
	}

	Napi::Value Take(const Napi::CallbackInfo &info)
	{
		dbos_snap_id id = 0;
		dbos_snap_space *space = Open(info.Env());
		RefuseInsideWrite(info.Env(), "snapshot");
		ThrowIfFailed(info.Env(), dbos_snap_take(space, &id), "taking a snapshot");
		return Napi::Number::New(info.Env(), static_cast<double>(id));
	}

	Napi::Value Release(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		dbos_snap_space *space = Open(info.Env());
		dbos_snap_id id = ToUint64(info[0], "id");
		RefuseInsideWrite(info.Env(), "release");
		ThrowIfFailed(info.Env(), dbos_snap_release(space, id), "releasing");
		return info.Env().Undefined();
	}

	Napi::Value Info(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		Napi::Env env = info.Env();
		dbos_snap_info snap = {};
		ThrowIfFailed(env, dbos_snap_info_get(Open(env), ToUint64(info[0], "id"), &snap), "snapshot info");
		Napi::Object result = Napi::Object::New(env);
		result.Set("mechanism", static_cast<double>(snap.mechanism));
		result.Set("epoch", static_cast<double>(snap.epoch));
		result.Set("takenNs", static_cast<double>(snap.taken_ns));
		result.Set("takeDurationNs", static_cast<double>(snap.take_duration_ns));
		result.Set("copies", static_cast<double>(snap.copies));
		return result;
	}

	// pageRead(id, page, target)
	Napi::Value PageRead(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 3);
		Napi::Env env = info.Env();
		uint8_t *target = BytesOf(info[2], DBOS_PAGE_SIZE, "target").data;
		ThrowIfFailed(
			env, dbos_snap_page_read(Open(env), ToUint64(info[0], "id"), ToUint64(info[1], "page"), target),
			"reading a page");
		return env.Undefined();
	}

	// read(id, offset, length, target)
	Napi::Value Read(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 4);
		Napi::Env env = info.Env();
		uint64_t length = ToUint64(info[2], "length");
		uint8_t *target = BytesOf(info[3], length, "target").data;
		ThrowIfFailed(
			env,
			dbos_snap_read(Open(env), ToUint64(info[0], "id"), ToUint64(info[1], "offset"), length, target),
			"reading");
		return env.Undefined();
	}

	// dirtySince(id, bitmap: BigUint64Array) -> count
	Napi::Value DirtySince(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		Napi::Env env = info.Env();
		napi_typedarray_type type = napi_int8_array;
		size_t words = 0;
		void *data = nullptr;
		napi_value buffer = nullptr;
		bool detached = false;
		if (!info[1].IsTypedArray() ||
		    napi_get_typedarray_info(env, info[1], &type, &words, &data, &buffer, nullptr) != napi_ok ||
		    type != napi_biguint64_array || napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok ||
		    detached)
			throw ArgumentError(env, "bitmap must be a BigUint64Array");
		uint64_t *bitmap = static_cast<uint64_t *>(data);
		uint64_t count = 0;
		ThrowIfFailed(env, dbos_snap_dirty_since(Open(env), ToUint64(info[0], "id"), bitmap, words, &count),
			      "dirtySince");
		return Napi::Number::New(env, static_cast<double>(count));
	}

	dbos_snap_writer *Writer(Napi::Env env)
	{
		Open(env);
		if (!writer_)
			throw StatusError(env, DBOS_ENOTSUP, "the write barrier belongs to the epoch mechanism");
		return writer_;
	}

	Napi::Value WriteBegin(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 1);
		Napi::Env env = info.Env();
		dbos_snap_writer *writer = Writer(env);
		if (dbos_snap_writer_epoch(writer) != 0)
			throw StatusError(env, DBOS_EBUSY, "beginWrite: a write is already open (call endWrite first)");
		void *address = nullptr;
		ThrowIfFailed(env, dbos_snap_write_begin(writer, ToUint64(info[0], "page"), &address), "beginWrite");
		return env.Undefined();
	}

	Napi::Value WriteEnd(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_snap_writer *writer = Writer(env);
		if (dbos_snap_writer_epoch(writer) == 0)
			throw StatusError(env, DBOS_EINVAL, "endWrite without beginWrite");
		dbos_snap_write_end(writer);
		return env.Undefined();
	}

	// writeCopy(offset, source)
	Napi::Value WriteCopy(const Napi::CallbackInfo &info)
	{
		RequireArguments(info, 2);
		Napi::Env env = info.Env();
		uint64_t offset = ToUint64(info[0], "offset");
		Bytes source = BytesOf(info[1], 0, "data");
		Open(env);
		if (offset > size_ || source.length > size_ - offset)
			throw StatusError(env, DBOS_ERANGE, "write is outside the space");
		if (source.length == 0)
			return env.Undefined();
		if (writer_) {
			if (dbos_snap_writer_epoch(writer_) != 0)
				throw StatusError(env, DBOS_EBUSY, "write: a beginWrite is open");
			ThrowIfFailed(env, dbos_snap_write_copy(writer_, offset, source.data, source.length), "write");
		} else {
			// Raw mechanisms: the kernel's protection does the copy-on-write.
			std::memmove(base_ + offset, source.data, source.length);
		}
		return env.Undefined();
	}

	Napi::Value Stats(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_snap_stats stats = {};
		dbos_snap_space_stats(Open(env), &stats);
		Napi::Object result = Napi::Object::New(env);
		result.Set("snapshotsLive", static_cast<double>(stats.snapshots_live));
		result.Set("writersRegistered", static_cast<double>(stats.writers_registered));
		result.Set("epoch", static_cast<double>(stats.epoch));
		result.Set("copiesLive", static_cast<double>(stats.copies_live));
		result.Set("copiesMade", static_cast<double>(stats.copies_made));
		result.Set("copyRacesLost", static_cast<double>(stats.copy_races_lost));
		result.Set("faultsHandled", static_cast<double>(stats.faults_handled));
		result.Set("snapshotsTaken", static_cast<double>(stats.snapshots_taken));
		return result;
	}

	class ImageWorker;
	// imageWrite(id, fd, onProgress | null, intervalBytes, sync) -> Promise<{ bytesWritten, path }>
	Napi::Value ImageWrite(const Napi::CallbackInfo &info);
	class LoadWorker;
	// imageLoad(fd) -> Promise<{ status, pageCount, ..., badPage }>
	Napi::Value ImageLoad(const Napi::CallbackInfo &info);

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (pending_ > 0)
			throw StatusError(env, DBOS_EBUSY, "close: an image write or load is in progress");
		// A buffer detached by someone else was transferred (ArrayBuffer.prototype.transfer): its
		// new owner still reaches the memory, so the unmap waits for that owner's finalizer.
		bool transferred = false;
		if (!memory_.IsEmpty()) {
			Napi::ArrayBuffer buffer = memory_.Value();
			transferred = buffer.IsDetached();
			if (!transferred)
				buffer.Detach(); // every view of the memory becomes empty before the unmap
			memory_.Reset();
		}
		Free(!transferred);
		return env.Undefined();
	}

	// nativeHandle() -> External, type-tagged DBOS_SNAP_HANDLE_TAG, data: dbos_snap_handle
	Napi::Value NativeHandle(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		Open(env);
		dbos_snap_handle *handle = snap_handle_public(owner_->handle);
		auto external = Napi::External<dbos_snap_handle>::New(env, handle, SpaceHandleFinalize, owner_);
		owner_->refs++;
		external.TypeTag(&kHandleTag);
		return external;
	}

	dbos_pt_region *region_ = nullptr;
	SpaceMemory *owner_ = nullptr;
	uint8_t *base_ = nullptr;
	uint64_t size_ = 0;
	dbos_snap_space *space_ = nullptr;
	dbos_snap_writer *writer_ = nullptr;
	Napi::Reference<Napi::ArrayBuffer> memory_;
	int pending_ = 0;
};

struct Progress {
	uint64_t done;
	uint64_t total;
};

// writeTo: one dbos_snap_image_write_fd call on the pool, progress forwarded to JavaScript.  The
// worker owns a duplicate of the descriptor and references the Space until it is destroyed.  An
// onProgress that throws stops the write (the C call's cancel flag): the promise rejects with
// what it threw and the file is left empty, as for any failed write.
class Space::ImageWorker : public Napi::AsyncProgressQueueWorker<Progress> {
      public:
	ImageWorker(Napi::Env env, Space *space, dbos_snap_id id, int fd, Napi::Function on_progress, uint64_t interval,
		    bool sync)
	    : Napi::AsyncProgressQueueWorker<Progress>(env, "dbos:snapshot:writeTo"), deferred_(env), space_(space),
	      id_(id), fd_(fd)
	{
		space_->Ref();
		space_->pending_++;
		if (!on_progress.IsEmpty())
			on_progress_ = Napi::Persistent(on_progress);
		options_.progress_interval_bytes = interval;
		options_.sync = sync;
		options_.cancel = &cancel_;
	}

	~ImageWorker() override
	{
		close(fd_);
		space_->pending_--;
		UnrefQuietly(space_);
	}

	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}

      protected:
	void Execute(const ExecutionProgress &progress) override
	{
		progress_ = &progress;
		options_.on_progress = OnProgressC;
		options_.progress_context = this;
		status_ = dbos_snap_image_write_fd(space_->space_, id_, fd_, &options_, &result_);
		progress_ = nullptr;
	}

	void OnProgress(const Progress *data, size_t count) override
	{
		if (on_progress_.IsEmpty() || count == 0 || Cancelled())
			return;
		try {
			Napi::Env env = Env();
			const Progress &last = data[count - 1];
			on_progress_.Call({ Napi::Number::New(env, static_cast<double>(last.done)),
					    Napi::Number::New(env, static_cast<double>(last.total)) });
		} catch (const Napi::Error &error) {
			Stop(&error);
		} catch (...) {
			Stop(nullptr);
		}
	}

	void OnOK() override
	{
		try {
			Napi::Env env = Env();
			if (Cancelled()) {
				// Progress arrives after the bytes it reports: a throw from the last call finds the
				// image complete, so empty it here as the writer does on failure.
				struct stat file;
				if (status_ == DBOS_OK && fstat(fd_, &file) == 0 && S_ISREG(file.st_mode))
					(void)ftruncate(fd_, 0);
				deferred_.Reject(thrown_.IsEmpty() ? StatusError(env, DBOS_ECLOSED, "writeTo").Value()
								   : thrown_.Value());
			} else if (status_ != DBOS_OK) {
				deferred_.Reject(StatusError(env, status_, "writeTo").Value());
			} else {
				Napi::Object result = Napi::Object::New(env);
				result.Set("bytesWritten", static_cast<double>(result_.bytes_written));
				result.Set("path", result_.path);
				deferred_.Resolve(result);
			}
		} catch (...) {
		}
	}

	void OnError(const Napi::Error &error) override
	{
		try {
			deferred_.Reject(error.Value());
		} catch (...) {
		}
	}

      private:
	static void OnProgressC(void *context, uint64_t done, uint64_t total)
	{
		ImageWorker *self = static_cast<ImageWorker *>(context);
		Progress progress = { done, total };
		self->progress_->Send(&progress, 1);
	}

	bool Cancelled() const
	{
		return __atomic_load_n(&cancel_, __ATOMIC_ACQUIRE) != 0;
	}

	// The callback threw `error` (nullptr: JavaScript could not run it): stop the write, keep the
	// first error for the rejection.
	void Stop(const Napi::Error *error) noexcept
	{
		__atomic_store_n(&cancel_, 1u, __ATOMIC_RELEASE);
		if (!error || !thrown_.IsEmpty())
			return;
		try {
			thrown_ = Napi::Reference<Napi::Value>::New(error->Value(), 1);
		} catch (...) {
		}
	}

	Napi::Promise::Deferred deferred_;
	Space *space_;
	dbos_snap_id id_;
	int fd_;
	Napi::FunctionReference on_progress_;
	Napi::Reference<Napi::Value> thrown_;
	volatile uint32_t cancel_ = 0; // read by the C writer between buffers
	dbos_snap_write_options options_ = {};
	dbos_snap_write_result result_ = {};
	dbos_status status_ = DBOS_OK;
	const ExecutionProgress *progress_ = nullptr;
};

// Settle a verify or load: the header fields, or the status as an error whose `badPage` is the
// first bad page (-1: the header, table or trailer).  Never throws (see UnrefQuietly).
static void ImageCheckSettle(Napi::Promise::Deferred &deferred, const char *context, dbos_status status,
			     const dbos_snap_image_header &header, uint64_t bad_page) noexcept
{
	try {
		Napi::Env env = deferred.Env();
		if (status != DBOS_OK) {
			Napi::Error error = StatusError(env, status, context);
			error.Set("badPage", bad_page == UINT64_MAX ? -1.0 : static_cast<double>(bad_page));
			deferred.Reject(error.Value());
			return;
		}
		Napi::Object result = Napi::Object::New(env);
		result.Set("pageCount", static_cast<double>(header.page_count));
		result.Set("pageSize", static_cast<double>(header.page_size));
		result.Set("epoch", static_cast<double>(header.epoch));
		result.Set("takenNs", static_cast<double>(header.taken_ns));
		result.Set("mechanism", static_cast<double>(header.mechanism));
		result.Set("version", static_cast<double>(header.version));
		deferred.Resolve(result);
	} catch (...) {
	}
}

static void RejectQuietly(Napi::Promise::Deferred &deferred, const Napi::Error &error) noexcept
{
	try {
		deferred.Reject(error.Value());
	} catch (...) {
	}
}

// load: one dbos_snap_image_load_fd call on the pool, with its own duplicate of the descriptor.
class Space::LoadWorker : public Napi::AsyncWorker {
      public:
	LoadWorker(Napi::Env env, Space *space, int fd)
	    : Napi::AsyncWorker(env, "dbos:snapshot:load"), deferred_(env), space_(space), fd_(fd)
	{
		space_->Ref();
		space_->pending_++;
	}

	~LoadWorker() override
	{
		close(fd_);
		space_->pending_--;
		UnrefQuietly(space_);
	}

	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}

      protected:
	void Execute() override
	{
		status_ = dbos_snap_image_load_fd(space_->space_, fd_, &header_, &bad_page_);
	}
	void OnOK() override
	{
		ImageCheckSettle(deferred_, "load", status_, header_, bad_page_);
	}
	void OnError(const Napi::Error &error) override
	{
		RejectQuietly(deferred_, error);
	}

      private:
	Napi::Promise::Deferred deferred_;
	Space *space_;
	int fd_;
	dbos_status status_ = DBOS_OK;
	dbos_snap_image_header header_ = {};
	uint64_t bad_page_ = UINT64_MAX;
};

Napi::Value Space::ImageLoad(const Napi::CallbackInfo &info)
{
	RequireArguments(info, 1);
	Napi::Env env = info.Env();
	Open(env);
	LoadWorker *worker = new LoadWorker(env, this, FdDuplicate(env, info[0]));
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

Napi::Value Space::ImageWrite(const Napi::CallbackInfo &info)
{
	RequireArguments(info, 5);
	Napi::Env env = info.Env();
	Open(env);
	dbos_snap_id id = ToUint64(info[0], "id");
	if (!info[2].IsFunction() && !info[2].IsNull() && !info[2].IsUndefined())
		throw ArgumentError(env, "onProgress must be a function");
	Napi::Function on_progress = info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
	uint64_t interval = ToUint64(info[3], "progressIntervalBytes");
	int fd = FdDuplicate(env, info[1]);
	ImageWorker *worker = new ImageWorker(env, this, id, fd, on_progress, interval, info[4].ToBoolean());
	Napi::Promise promise = worker->Promise();
	worker->Queue(); // the C call pins the snapshot for its duration
	return promise;
}

} // namespace dbos

namespace dbos {

static Napi::Value Mechanisms(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array result = Napi::Array::New(env);
	for (uint32_t m = DBOS_SNAP_EPOCH; m < DBOS_SNAP_MECHANISM_COUNT; m++) {
		const char *reason = nullptr;
		bool available = dbos_snap_mechanism_available(static_cast<enum dbos_snap_mechanism>(m), &reason);
		Napi::Object entry = Napi::Object::New(env);
		entry.Set("mechanism", dbos_snap_mechanism_name(static_cast<enum dbos_snap_mechanism>(m)));
		entry.Set("available", available);
		entry.Set("reason", reason ? Napi::Value(Napi::String::New(env, reason)) : env.Null());
		result.Set(result.Length(), entry);
	}
	return result;
}

// mechanismLine() -> the line probe() shows for snapshot
static Napi::Value MechanismLine(const Napi::CallbackInfo &info)
{
	char text[DBOS_SNAP_MECHANISM_LINE_SIZE];
	dbos_snap_host_mechanism_format(text, sizeof(text));
	return Napi::String::New(info.Env(), text);
}

// verifyImage: one dbos_snap_image_verify_fd call on the pool, with its own duplicate of the descriptor.
class VerifyWorker : public Napi::AsyncWorker {
      public:
	VerifyWorker(Napi::Env env, int fd) : Napi::AsyncWorker(env, "dbos:snapshot:verify"), deferred_(env), fd_(fd)
	{}
	~VerifyWorker() override
	{
		close(fd_);
	}
	Napi::Promise Promise()
	{
		return deferred_.Promise();
	}

      protected:
	void Execute() override
	{
		status_ = dbos_snap_image_verify_fd(fd_, &header_, &bad_page_);
	}

	void OnOK() override
	{
		ImageCheckSettle(deferred_, "verify", status_, header_, bad_page_);
	}

	void OnError(const Napi::Error &error) override
	{
		RejectQuietly(deferred_, error);
	}

      private:
	Napi::Promise::Deferred deferred_;
	int fd_;
	dbos_status status_ = DBOS_OK;
	dbos_snap_image_header header_ = {};
	uint64_t bad_page_ = UINT64_MAX;
};

// verifyImage(fd) -> Promise<{ pageCount, ... }>, rejected with `badPage`
static Napi::Value VerifyImage(const Napi::CallbackInfo &info)
{
	RequireArguments(info, 1);
	VerifyWorker *worker = new VerifyWorker(info.Env(), FdDuplicate(info.Env(), info[0]));
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

static Napi::Value ImageSize(const Napi::CallbackInfo &info)
{
	RequireArguments(info, 1);
	uint64_t page_count = ToUint64(info[0], "pageCount");
	if (page_count > DBOS_SNAP_PAGE_COUNT_MAX)
		throw StatusError(info.Env(), DBOS_ERANGE, "pageCount is above the largest space");
	return Napi::Number::New(info.Env(), static_cast<double>(dbos_snap_image_size(page_count)));
}

static Napi::Value Crc32c(const Napi::CallbackInfo &info)
{
	RequireArguments(info, 2);
	uint64_t crc = ToUint64(info[0], "crc");
	if (crc > UINT32_MAX)
		throw ArgumentError(info.Env(), "crc is out of range");
	Bytes bytes = BytesOf(info[1], 0, "bytes");
	return Napi::Number::New(info.Env(), dbos_crc32c(static_cast<uint32_t>(crc), bytes.data, bytes.length));
}

void InitSnapshot(Napi::Env env, Napi::Object exports)
{
	exports.Set("Space", Space::Define(env));
	exports.Set("mechanismLine", Napi::Function::New(env, MechanismLine, "mechanismLine"));
	exports.Set("mechanisms", Napi::Function::New(env, Mechanisms, "mechanisms"));
	exports.Set("verifyImage", Napi::Function::New(env, VerifyImage, "verifyImage"));
	exports.Set("imageSize", Napi::Function::New(env, ImageSize, "imageSize"));
	exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
}

} // namespace dbos
