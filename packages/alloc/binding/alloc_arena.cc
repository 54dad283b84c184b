// alloc_arena.cc - NativeArena: the binding for struct dbos_alloc_arena (conversion only).
#include "alloc_binding.h"

namespace dbos {

class NativeArena : public Napi::ObjectWrap<NativeArena> {
      public:
	static Napi::Function Define(Napi::Env env)
	{
		return DefineClass(env, "NativeArena",
				   {
					   InstanceMethod<&NativeArena::Alloc>("alloc"),
					   InstanceMethod<&NativeArena::AllocBuffer>("allocBuffer"),
					   InstanceMethod<&NativeArena::Reset>("reset"),
					   InstanceMethod<&NativeArena::Bytes>("bytes"),
					   InstanceMethod<&NativeArena::Close>("close"),
				   });
	}

	// new NativeArena(pool, chunkBytes)
	NativeArena(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeArena>(info)
	{
		Napi::Env env = info.Env();
		RequireArguments(info, 2);
		holder_ = NativePoolHolder(env, info[0]);
		dbos_alloc_pool *pool = AllocHolderPool(env, holder_);
		ThrowIfFailed(env, dbos_alloc_arena_init(&arena_, pool, ToUint64(info[1], "chunkBytes")), "arena");
		pool_ = Napi::Persistent(info[0].As<Napi::Object>()); // the pool outlives its arenas
		holder_->live_arenas++;
		open_ = true;
	}

	~NativeArena()
	{
		CloseArena();
	}

      private:
	AllocHolder *holder_ = nullptr;
	struct dbos_alloc_arena arena_ = {};
	Napi::ObjectReference pool_;
	bool open_ = false;

	void CloseArena()
	{
		if (!open_)
			return;
		open_ = false;
		if (holder_->pool)
			dbos_alloc_arena_fini(&arena_);
		holder_->live_arenas--;
		pool_.Reset();
	}

	void *AllocRaw(const Napi::CallbackInfo &info, size_t *size_out)
	{
		Napi::Env env = info.Env();
		if (!open_)
			ThrowIfFailed(env, DBOS_ECLOSED, "arena is closed");
		AllocHolderPool(env, holder_);
		size_t size = ToUint64Max(info[0], "size", SIZE_MAX);
		size_t alignment = ToUint64Max(info[1], "alignment", SIZE_MAX);
		void *address;
		ThrowIfFailed(env,
			      dbos_alloc_arena_alloc(&arena_, size, alignment,
						     info[2].ToBoolean() ? DBOS_ALLOC_ZERO : 0, &address),
			      "arena alloc");
		*size_out = size;
		return address;
	}

	// alloc(size, alignment, zero) -> byte offset into the pool
	Napi::Value Alloc(const Napi::CallbackInfo &info)
	{
		size_t size;
		void *address = AllocRaw(info, &size);
		return Napi::Number::New(info.Env(), (double)((uint8_t *)address - holder_->base));
	}

	// allocBuffer(size, alignment, zero, offsetOut: Float64Array) -> ArrayBuffer over the allocation
	Napi::Value AllocBuffer(const Napi::CallbackInfo &info)
	{
		Napi::Float64Array offset_out = OffsetOut(info.Env(), info[3]);
		size_t size;
		void *address = AllocRaw(info, &size);
		offset_out[0] = (double)((uint8_t *)address - holder_->base);
		return AllocExternalBuffer(info.Env(), holder_, address, size);
	}

	// reset(): the caller has detached the buffers it handed out
	Napi::Value Reset(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (!open_)
			ThrowIfFailed(env, DBOS_ECLOSED, "arena is closed");
		AllocHolderPool(env, holder_);
		dbos_alloc_arena_reset(&arena_);
		return env.Undefined();
	}

	// bytes() -> [bytesRequested, bytesChunks]
	Napi::Value Bytes(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		Napi::Array out = Napi::Array::New(env, 2);
		out.Set(0u, Napi::Number::New(env, open_ ? (double)arena_.bytes_requested : 0));
		out.Set(1u, Napi::Number::New(env, open_ ? (double)arena_.bytes_chunks : 0));
		return out;
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		CloseArena();
		return info.Env().Undefined();
	}
};

void InitAllocArena(Napi::Env env, Napi::Object exports)
{
	exports.Set("NativeArena", NativeArena::Define(env));
}

} // namespace dbos
