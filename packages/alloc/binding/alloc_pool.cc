// alloc_pool.cc - NativePool: the binding for dbos_alloc_pool (conversion only, no policy).
#include <cstdio>

#include "alloc_binding.h"

extern "C" {
#include "dbos/platform.h"
}

namespace dbos {

void AllocHolderUnref(AllocHolder *holder)
{
	if (--holder->refs == 0) {
		if (holder->pool)
			dbos_alloc_pool_destroy(holder->pool);
		delete holder;
	}
}

dbos_alloc_pool *AllocHolderPool(Napi::Env env, AllocHolder *holder)
{
	if (!holder->pool)
		ThrowIfFailed(env, DBOS_ECLOSED, "allocator is closed");
	return holder->pool;
}

Napi::ArrayBuffer AllocExternalBuffer(Napi::Env env, AllocHolder *holder, void *data, size_t size)
{
	// No finalizer: dbos owns the memory; free() or close() detaches the buffer.
	Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, data, size);
	holder->live_buffers++;
	return buffer;
}

Napi::Float64Array OffsetOut(Napi::Env env, Napi::Value value)
{
	if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
	    value.As<Napi::Float64Array>().ElementLength() < 1)
		throw ArgumentError(env, "offsetOut must be a Float64Array of at least one element");
	return value.As<Napi::Float64Array>();
}

// Tags NativePool objects so an arena can check it was given one (napi_unwrap alone cannot).
static const napi_type_tag kNativePoolTag = { 0x646230732d616c6cULL, 0x6f632d706f6f6c31ULL };

static void DetachBuffer(Napi::Env env, AllocHolder *holder, Napi::ArrayBuffer buffer)
{
	// Only buffers this pool made: their memory lies inside the pool.  A buffer
	// already detached was one of ours that JavaScript moved away with
	// ArrayBuffer.prototype.transfer(): it is gone from our count too (the pool
	// keeps its address range for such buffers, see DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE).
	uint8_t *data = (uint8_t *)buffer.Data();
	if (data == nullptr) {
		if (holder->buffers_movable && holder->live_buffers > 0)
			holder->live_buffers--;
	} else if (data >= holder->base && data < holder->base + holder->size) {
		buffer.Detach();
		holder->live_buffers--;
	}
}

class NativePool : public Napi::ObjectWrap<NativePool> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativePool",
				   {
					   InstanceMethod<&NativePool::Alloc>("alloc"),
					   InstanceMethod<&NativePool::Free>("free"),
					   InstanceMethod<&NativePool::AllocBatch>("allocBatch"),
					   InstanceMethod<&NativePool::FreeBatch>("freeBatch"),
					   InstanceMethod<&NativePool::AllocBuffer>("allocBuffer"),
					   InstanceMethod<&NativePool::FreeBuffer>("freeBuffer"),
					   InstanceMethod<&NativePool::DetachBuffers>("detachBuffers"),
					   InstanceMethod<&NativePool::Memory>("memory"),
					   InstanceMethod<&NativePool::Stats>("stats"),
					   InstanceMethod<&NativePool::Trim>("trim"),
					   InstanceMethod<&NativePool::Flush>("flush"),
					   InstanceMethod<&NativePool::Check>("check"),
					   InstanceMethod<&NativePool::Close>("close"),
				   });
	}

	// new NativePool(limitBytes, prefaultBytes, retainBytes, flags, cacheSlotCount)
	NativePool(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativePool>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 5);
		struct dbos_alloc_config config = {};
		config.limit_bytes = ToUint64(info[0], "limitBytes");
		config.prefault_bytes = ToUint64(info[1], "prefaultBytes");
		config.retain_bytes = ToUint64(info[2], "retainBytes");
		config.flags = (uint32_t)ToUint64Max(info[3], "flags", UINT32_MAX);
		config.cache_slot_count = (uint32_t)ToUint64Max(info[4], "cacheSlotCount", UINT32_MAX);
		holder_ = new AllocHolder();
		holder_->buffers_movable = (config.flags & DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE) != 0;
		dbos_status status = dbos_alloc_pool_create(&config, &holder_->pool);
		if (status != DBOS_OK) {
			holder_->pool = nullptr;
			ThrowIfFailed(env, status, "creating the allocator pool");
		}
		void *base;
		dbos_alloc_pool_range(holder_->pool, &base, &holder_->size);
		holder_->base = (uint8_t *)base;
		info.This().As<Napi::Object>().TypeTag(&kNativePoolTag);
	}

	~NativePool()
	{
		// Garbage-collected without close(): unmap only once no JavaScript view can reach the memory.
		// The whole-pool buffer holds its own reference; per-allocation buffers do not, so leak.
		if (holder_->pool && (holder_->live_buffers || holder_->live_arenas)) {
			fprintf(stderr, "@dbos/alloc: allocator collected without close() while views are live; "
					"its memory stays mapped\n");
			return; // leak on purpose: a crash is worse
		}
		AllocHolderUnref(holder_);
	}

	AllocHolder *holder() const
	{
		return holder_;
	}

      private:
	AllocHolder *holder_;

	// alloc(size, zero) -> byte offset into the pool
	Napi::Value Alloc(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		size_t size = ToUint64Max(info[0], "size", SIZE_MAX);
		void *address;
		ThrowIfFailed(env, dbos_alloc(pool, size, info[1].ToBoolean() ? DBOS_ALLOC_ZERO : 0, &address),
			      "alloc");
		return Napi::Number::New(env, (double)((uint8_t *)address - holder_->base));
	}

	// free(offset, size)
	Napi::Value Free(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		size_t offset = ToUint64Max(info[0], "offset", SIZE_MAX);
		size_t size = ToUint64Max(info[1], "size", SIZE_MAX);
		if (offset >= holder_->size)
			ThrowIfFailed(env, DBOS_EINVAL, "free");
		ThrowIfFailed(env, dbos_alloc_free(pool, holder_->base + offset, size), "free");
		return env.Undefined();
	}

	// allocBatch(size, count, offsets: Float64Array) -> how many were allocated (stops at the first failure)
	Napi::Value AllocBatch(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		size_t size = ToUint64Max(info[0], "size", SIZE_MAX);
		uint32_t count = (uint32_t)ToUint64Max(info[1], "count", UINT32_MAX);
		if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
			throw ArgumentError(env, "offsets must be a Float64Array");
		Napi::Float64Array offsets = info[2].As<Napi::Float64Array>();
		if (count > offsets.ElementLength())
			throw ArgumentError(env, "count exceeds offsets.length");
		uint32_t done = 0;
		dbos_status status = DBOS_OK;
		for (; done < count; done++) {
			void *address;
			status = dbos_alloc(pool, size, 0, &address);
			if (status != DBOS_OK)
				break;
			offsets[done] = (double)((uint8_t *)address - holder_->base);
		}
		if (done == 0 && count > 0)
			ThrowIfFailed(env, status, "alloc");
		return Napi::Number::New(env, done);
	}

	// freeBatch(offsets: Float64Array, count, size): all or throw at the first refusal
	Napi::Value FreeBatch(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
			throw ArgumentError(env, "offsets must be a Float64Array");
		Napi::Float64Array offsets = info[0].As<Napi::Float64Array>();
		uint32_t count = (uint32_t)ToUint64Max(info[1], "count", UINT32_MAX);
		size_t size = ToUint64Max(info[2], "size", SIZE_MAX);
		if (count > offsets.ElementLength())
			throw ArgumentError(env, "count exceeds offsets.length");
		for (uint32_t i = 0; i < count; i++) {
			double offset = offsets[i];
			if (!(offset >= 0 && offset < (double)holder_->size))
				ThrowIfFailed(env, DBOS_EINVAL, "free");
			ThrowIfFailed(env, dbos_alloc_free(pool, holder_->base + (size_t)offset, size), "free");
		}
		return env.Undefined();
	}

	// allocBuffer(size, zero, offsetOut: Float64Array) -> ArrayBuffer over the new allocation
	Napi::Value AllocBuffer(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		size_t size = ToUint64Max(info[0], "size", SIZE_MAX);
		void *address;
		Napi::Float64Array offset_out = OffsetOut(env, info[2]);
		ThrowIfFailed(env, dbos_alloc(pool, size, info[1].ToBoolean() ? DBOS_ALLOC_ZERO : 0, &address),
			      "alloc");
		offset_out[0] = (double)((uint8_t *)address - holder_->base);
		return AllocExternalBuffer(env, holder_, address, size);
	}

	// freeBuffer(buffer, size): free the allocation under `buffer` and detach it
	Napi::Value FreeBuffer(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		if (!info[0].IsArrayBuffer())
			throw ArgumentError(env, "buffer must be an ArrayBuffer");
		Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
		size_t size = ToUint64Max(info[1], "size", SIZE_MAX);
		void *data = buffer.Data();
		if (!data)
			ThrowIfFailed(env, DBOS_EINVAL, "free: the buffer is detached");
		ThrowIfFailed(env, dbos_alloc_free(pool, data, size), "free");
		DetachBuffer(env, holder_, buffer);
		return env.Undefined();
	}

	// detachBuffers(buffers[]): detach without freeing (arena reset, close)
	Napi::Value DetachBuffers(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!info[0].IsArray())
			throw ArgumentError(env, "buffers must be an array");
		Napi::Array buffers = info[0].As<Napi::Array>();
		uint32_t length = buffers.Length();
		for (uint32_t i = 0; i < length; i++) {
			Napi::Value value = buffers.Get(i);
			if (value.IsArrayBuffer())
				DetachBuffer(env, holder_, value.As<Napi::ArrayBuffer>());
		}
		return env.Undefined();
	}

	// memory(maxLength) -> one ArrayBuffer over the whole pool (shared views); made once.
	// maxLength is the runtime's buffer.constants.MAX_LENGTH: past it Node-API fails the
	// creation *and* runs the finalizer, which would release the holder twice.
	Napi::Value Memory(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		AllocHolderPool(env, holder_);
		if (holder_->memory_exposed)
			ThrowIfFailed(env, DBOS_EBUSY, "memory() may be called once");
		if (holder_->size > ToUint64(info[0], "maxLength"))
			ThrowIfFailed(env, DBOS_ERANGE, "the pool is larger than the largest ArrayBuffer");
		holder_->memory_exposed = true;
		holder_->refs++;
		return Napi::ArrayBuffer::New(
			env, holder_->base, holder_->size,
			[](Napi::Env, void *, AllocHolder *holder) { AllocHolderUnref(holder); }, holder_);
	}

	// trim(keepBytes) -> bytes released
	Napi::Value Trim(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		size_t released = 0;
		ThrowIfFailed(env, dbos_alloc_trim(pool, ToUint64(info[0], "keepBytes"), &released), "trim");
		return Napi::Number::New(env, (double)released);
	}

	Napi::Value Flush(const Napi::CallbackInfo &info)
	{
		dbos_alloc_thread_flush(AllocHolderPool(info.Env(), holder_));
		return info.Env().Undefined();
	}

	Napi::Value Check(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		ThrowIfFailed(env, dbos_alloc_pool_check(AllocHolderPool(env, holder_)), "check");
		return env.Undefined();
	}

	Napi::Value Stats(const Napi::CallbackInfo &info);

	// close(memoryBuffer | undefined): the caller has detached every buffer it handed out
	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!holder_->pool)
			return env.Undefined();
		if (holder_->live_arenas)
			ThrowIfFailed(env, DBOS_EBUSY, "close: arenas are open");
		if (info.Length() > 0 && info[0].IsArrayBuffer()) {
			Napi::ArrayBuffer memory = info[0].As<Napi::ArrayBuffer>();
			if (memory.Data() == holder_->base)
				memory.Detach();
			holder_->memory_exposed = false;
		}
		if (holder_->live_buffers || holder_->memory_exposed)
			ThrowIfFailed(env, DBOS_EBUSY, "close: views of the pool are still attached");
		dbos_alloc_pool_destroy(holder_->pool);
		holder_->pool = nullptr;
		return env.Undefined();
	}
};

static void SetNumber(Napi::Object object, const char *name, uint64_t value)
{
	object.Set(name, Napi::Number::New(object.Env(), (double)value));
}

Napi::Value NativePool::Stats(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct dbos_alloc_stats stats;
	ThrowIfFailed(env, dbos_alloc_stats_get(AllocHolderPool(env, holder_), &stats), "stats");
	Napi::Object out = Napi::Object::New(env);
	SetNumber(out, "limitBytes", stats.limit_bytes);
	SetNumber(out, "residentBytes", stats.resident_bytes);
	SetNumber(out, "pagesTotal", stats.pages_total);
	SetNumber(out, "pagesFree", stats.pages_free);
	SetNumber(out, "pagesCached", stats.pages_cached);
	SetNumber(out, "pagesUsed", stats.pages_used);
	SetNumber(out, "pagesFreeResident", stats.pages_free_resident);
	SetNumber(out, "freeRunPagesMax", stats.free_run_pages_max);
	SetNumber(out, "bytesRequested", stats.bytes_requested);
	SetNumber(out, "bytesInUse", stats.bytes_in_use);
	SetNumber(out, "bytesSlabs", stats.bytes_slabs);
	SetNumber(out, "bytesRuns", stats.bytes_runs);
	SetNumber(out, "bytesArenas", stats.bytes_arenas);
	SetNumber(out, "allocCount", stats.alloc_count);
	SetNumber(out, "freeCount", stats.free_count);
	SetNumber(out, "invalidFreeCount", stats.invalid_free_count);
	SetNumber(out, "releaseCount", stats.release_count);
	SetNumber(out, "releasedBytes", stats.released_bytes);
	out.Set("hugePages", Napi::Boolean::New(env, stats.mechanism.hugepages));
	out.Set("populate", Napi::Boolean::New(env, stats.mechanism.populate));
	Napi::Array classes = Napi::Array::New(env, DBOS_ALLOC_CLASS_COUNT);
	for (uint32_t index = 0; index < DBOS_ALLOC_CLASS_COUNT; index++) {
		const struct dbos_alloc_class_stats *c = &stats.classes[index];
		Napi::Object entry = Napi::Object::New(env);
		SetNumber(entry, "objectSize", c->object_size);
		SetNumber(entry, "slabBytes", c->slab_bytes);
		SetNumber(entry, "slabObjects", c->slab_objects);
		SetNumber(entry, "slabCount", c->slab_count);
		SetNumber(entry, "objectsInUse", c->objects_in_use);
		SetNumber(entry, "objectsCached", c->objects_cached);
		SetNumber(entry, "objectsFree", c->objects_free);
		classes.Set(index, entry);
	}
	out.Set("classes", classes);
	return out;
}

AllocHolder *NativePoolHolder(Napi::Env env, Napi::Value value)
{
	if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kNativePoolTag))
		throw ArgumentError(env, "pool must be a NativePool");
	NativePool *pool = NativePool::Unwrap(value.As<Napi::Object>());
	if (!pool)
		throw ArgumentError(env, "pool must be a NativePool");
	return pool->holder();
}

void InitAllocPool(Napi::Env env, Napi::Object exports)
{
	Napi::Function constructor = NativePool::Define(env);
	exports.Set("NativePool", constructor);
	Napi::Array sizes = Napi::Array::New(env, DBOS_ALLOC_CLASS_COUNT);
	for (uint32_t index = 0; index < DBOS_ALLOC_CLASS_COUNT; index++)
		sizes.Set(index, Napi::Number::New(env, dbos_alloc_class_size(index)));
	exports.Set("classSizes", sizes);
	Napi::Array capacities = Napi::Array::New(env, DBOS_ALLOC_CLASS_COUNT);
	for (uint32_t index = 0; index < DBOS_ALLOC_CLASS_COUNT; index++)
		capacities.Set(index, Napi::Number::New(env, dbos_alloc_class_cache_capacity(index)));
	exports.Set("classCacheCapacities", capacities);
	exports.Set("pageSize", Napi::Number::New(env, (double)DBOS_PAGE_SIZE));
	exports.Set("limitBytesMin", Napi::Number::New(env, (double)DBOS_ALLOC_LIMIT_BYTES_MIN));
	exports.Set("arenaAlignmentMax", Napi::Number::New(env, DBOS_ALLOC_ARENA_ALIGNMENT_MAX));
	exports.Set("objectSizeMax", Napi::Number::New(env, DBOS_ALLOC_OBJECT_SIZE_MAX));
	exports.Set("alignment", Napi::Number::New(env, DBOS_ALLOC_ALIGNMENT));
	exports.Set("flagHugePages", Napi::Number::New(env, DBOS_ALLOC_POOL_HUGEPAGES));
	exports.Set("flagPopulate", Napi::Number::New(env, DBOS_ALLOC_POOL_POPULATE));
	exports.Set("flagJunk", Napi::Number::New(env, DBOS_ALLOC_POOL_JUNK));
	exports.Set("flagRetainAddressSpace", Napi::Number::New(env, DBOS_ALLOC_POOL_RETAIN_ADDRESS_SPACE));
}

} // namespace dbos
